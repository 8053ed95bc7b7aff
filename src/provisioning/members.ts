import type { Pool } from '../db/pool.js';
import { translatePgError } from './errors.js';

export interface Membership {
  queueId: number;
  operatorId: number;
  penalty: number;
  skills: string[];
  /** null: the operator's own grade. */
  grade: number | null;
  createdAt: Date;
}

/** What a membership is set to. */
export type MembershipTerms = Pick<Membership, 'penalty' | 'skills' | 'grade'>;

const SELECT = `queue_id AS "queueId", operator_id AS "operatorId", penalty, skills, grade, created_at AS "createdAt"`;
const CONSTRAINTS = {
  unique: {},
  references: { queue_members_queue_id_fkey: 'queueId', queue_members_operator_id_fkey: 'operatorId' },
  referencedBy: {},
};

/** Which operators serve which queue, with what penalty, skills and grade. */
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

  /** Adds the operator to the queue, or changes the terms if already a member. */
  async put(queueId: number, operatorId: number, terms: MembershipTerms): Promise<{ membership: Membership; created: boolean }> {
    try {
      const { rows } = await this.pool.query<Membership & { created: boolean }>(
        `INSERT INTO queue_members (queue_id, operator_id, penalty, skills, grade) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (queue_id, operator_id) DO UPDATE SET penalty = EXCLUDED.penalty, skills = EXCLUDED.skills, grade = EXCLUDED.grade
         RETURNING ${SELECT}, (xmax = 0) AS created`,
        [queueId, operatorId, terms.penalty, terms.skills, terms.grade],
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
