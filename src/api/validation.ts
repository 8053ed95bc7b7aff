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
  return (httpPart === 'body' ? bodyAjv : textAjv).compile(schema);
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
