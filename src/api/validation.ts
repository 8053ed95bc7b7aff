import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaValidationError } from 'fastify';
import { ApiError } from './errors.js';

// ajv-formats is CommonJS with a default export that TypeScript sees one level down.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(coerceTypes: boolean | 'array'): Ajv {
  // removeAdditional stays off so an unknown field is an error, not silently dropped.
  const ajv = new Ajv({ allErrors: false, removeAdditional: false, useDefaults: true, coerceTypes, strict: false });
  addFormats(ajv);
  return ajv;
}

// Bodies are JSON and must carry the right types; path and query values are text and need coercing.
const bodyAjv = makeAjv(false);
const textAjv = makeAjv('array');

export function compileValidator({ schema, httpPart }: { schema: object; httpPart?: string }): ValidateFunction {
  return (httpPart === 'body' ? bodyAjv : textAjv).compile(boundIntegers(schema));
}

/**
 * Gives every integer without bounds the range a JavaScript number holds exactly (ids are
 * PostgreSQL bigints): 1e23 in a path or body is refused with 400 here instead of reaching a
 * query as "1e+23" and failing there with a 500.
 */
export function boundIntegers<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map((item: unknown) => boundIntegers(item)) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = boundIntegers(value);
  const type = copy.type;
  const integer = type === 'integer' || (Array.isArray(type) && type.includes('integer'));
  if (integer) {
    copy.maximum ??= Number.MAX_SAFE_INTEGER;
    copy.minimum ??= Number.MIN_SAFE_INTEGER;
  }
  return copy as T;
}

type AnyValidationError = FastifySchemaValidationError | ErrorObject;

function fieldOf(e: AnyValidationError): string {
  const params = e.params as Record<string, unknown>;
  if (typeof params.missingProperty === 'string') return joinPath(e.instancePath, params.missingProperty);
  if (typeof params.additionalProperty === 'string') return joinPath(e.instancePath, params.additionalProperty);
  return e.instancePath.replace(/^\//, '').replace(/\//g, '.');
}

function joinPath(base: string, name: string): string {
  const prefix = base.replace(/^\//, '').replace(/\//g, '.');
  return prefix === '' ? name : `${prefix}.${name}`;
}

/** Turns fastify's validation failure into a 400 that names the field and what is wrong with it. */
export function validationError(errors: AnyValidationError[], context: string): ApiError {
  const first = errors[0];
  if (!first) return new ApiError(400, 'invalid', `${context} is invalid`);
  const field = fieldOf(first);
  const params = first.params as Record<string, unknown>;
  let message: string;
  if (first.keyword === 'additionalProperties') message = 'is not a known field';
  else if (first.keyword === 'required') message = 'is required';
  else message = first.message ?? 'is invalid';
  const where = field === '' ? context : field;
  const allowed = Array.isArray(params.allowedValues) ? ` (${params.allowedValues.join(', ')})` : '';
  return new ApiError(400, 'invalid', `${where} ${message}${allowed}`, field === '' ? undefined : field);
}
