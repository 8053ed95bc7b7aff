/** What a provisioning write can go wrong with, named by the API field it concerns. */
export class ProvisioningError extends Error {
  constructor(
    readonly kind: 'conflict' | 'invalid' | 'in-use' | 'not-found',
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ProvisioningError';
  }
}

interface PgError {
  code?: string;
  constraint?: string;
}

function isPgError(err: unknown): err is PgError {
  return typeof err === 'object' && err !== null && 'code' in err;
}

export interface ConstraintNames {
  /** unique constraint -> API field */
  unique: Record<string, string>;
  /** foreign key this table holds -> API field */
  references: Record<string, string>;
  /** foreign key of another table pointing here -> what is in the way */
  referencedBy: Record<string, string>;
}

/** Turns PostgreSQL's constraint errors into errors that name the field, or rethrows. */
export function translatePgError(err: unknown, kind: string, names: ConstraintNames): never {
  if (!isPgError(err) || err.constraint === undefined) throw err;
  const constraint = err.constraint;
  if (err.code === '23505') {
    const field = names.unique[constraint];
    throw new ProvisioningError('conflict', field, `another ${kind} already has this ${field ?? 'value'}`);
  }
  if (err.code === '23503') {
    const field = names.references[constraint];
    if (field !== undefined) throw new ProvisioningError('invalid', field, `${field} names no existing record`);
    const user = names.referencedBy[constraint] ?? 'other records';
    throw new ProvisioningError('in-use', undefined, `this ${kind} is still used by ${user}; remove those first`);
  }
  if (err.code === '23514') {
    throw new ProvisioningError('invalid', undefined, `the values break the rule ${constraint}`);
  }
  throw err;
}
