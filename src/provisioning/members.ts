import type { Pool } from '../db/pool.js';
import { translatePgError } from './errors.js';

export interface Membership {
  queueId: number;
  operatorId: number;
  penalty: number;
  createdAt: Date;
}

const SELECT = `queue_id AS "queueId", operator_id AS "operatorId", penalty, created_at AS "createdAt"`;
const CONSTRAINTS = {
  unique: {},
  references: { queue_members_queue_id_fkey: 'queueId', queue_members_operator_id_fkey: 'operatorId' },
  referencedBy: {},
};

/** Which operators serve which queue, and with what penalty. */
export class Memberships {
  constructor(private readonly pool: Pool) {}

  async listForQueue(queueId: number): Promise<Membership[]> {
    const { rows } = await this.pool.query<Membership>(
      `SELECT ${SELECT} FROM queue_members WHERE queue_id = $1 ORDER BY penalty, operator_id`,
      [queueId],
    );
    return rows;
  }

  async listForOperator(operatorId: number): Promise<Membership[]> {
    const { rows } = await this.pool.query<Membership>(
      `SELECT ${SELECT} FROM queue_members WHERE operator_id = $1 ORDER BY queue_id`,
      [operatorId],
    );
    return rows;
  }

  /** Adds the operator to the queue, or changes the penalty if already a member. */
  async put(queueId: number, operatorId: number, penalty: number): Promise<{ membership: Membership; created: boolean }> {
    try {
      const { rows } = await this.pool.query<Membership & { created: boolean }>(
        `INSERT INTO queue_members (queue_id, operator_id, penalty) VALUES ($1, $2, $3)
         ON CONFLICT (queue_id, operator_id) DO UPDATE SET penalty = EXCLUDED.penalty
         RETURNING ${SELECT}, (xmax = 0) AS created`,
        [queueId, operatorId, penalty],
      );
      const { created, ...membership } = rows[0] as Membership & { created: boolean };
      return { membership, created };
    } catch (err) {
      translatePgError(err, 'membership', CONSTRAINTS);
    }
  }

  async remove(queueId: number, operatorId: number): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM queue_members WHERE queue_id = $1 AND operator_id = $2', [
      queueId,
      operatorId,
    ]);
    return (rowCount ?? 0) > 0;
  }
}
