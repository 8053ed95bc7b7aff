import type { FastifyInstance } from 'fastify';
import type { Pool } from '../../db/pool.js';
import { checkNumberChange, type NumberChange } from '../../numbers/number-changes.js';
import { Repository, type Row } from '../../provisioning/repository.js';
import { numberChangesTable } from '../../provisioning/tables.js';
import { invalid } from '../errors.js';
import { numberChangeSchemas } from '../schemas.js';
import { registerCrud } from './crud.js';

export interface NumberChangeDeps {
  pool: Pool;
  /** NUMBER_CHANGE_INTERCEPT_DAYS: the intercept period when a change names no end. */
  defaultInterceptDays: number;
}

/** Number changes and withdrawals: admins change them, supervisors read them. */
export function registerNumberChangeRoutes(app: FastifyInstance, deps: NumberChangeDeps): void {
  const repo = new Repository<NumberChange & { createdAt: Date; updatedAt: Date }>(deps.pool, numberChangesTable);
  app.addSchema(numberChangeSchemas.item);
  const prepare = (body: Row, current: NumberChange | undefined): Row => {
    const checked = checkNumberChange(body, current, deps.defaultInterceptDays, Date.now());
    if (!checked.ok) throw invalid(checked.field, checked.message);
    return checked.values;
  };
  registerCrud(app, {
    path: '/v1/number-changes',
    kind: 'number change',
    tag: 'number changes',
    repo,
    schemas: numberChangeSchemas,
    prepareCreate: (b) => prepare(b, undefined),
    prepareUpdate: (b, cur) => prepare(b, cur),
  });
}
