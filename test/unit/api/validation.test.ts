import { describe, expect, it } from 'vitest';
import { boundIntegers, compileValidator } from '../../../src/api/validation.js';

describe('boundIntegers', () => {
  it('bounds every integer without bounds to the safe range, keeps given bounds and leaves the rest', () => {
    const schema = {
      type: 'object',
      properties: {
        id: { type: 'integer', minimum: 1 },
        penalty: { type: 'integer' },
        maybe: { type: ['integer', 'null'], maximum: 10 },
        list: { type: 'array', items: { type: 'integer' } },
        name: { type: 'string' },
      },
    };
    expect(boundIntegers(schema)).toEqual({
      type: 'object',
      properties: {
        id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
        penalty: { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
        maybe: { type: ['integer', 'null'], minimum: Number.MIN_SAFE_INTEGER, maximum: 10 },
        list: { type: 'array', items: { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } },
        name: { type: 'string' },
      },
    });
    expect(schema.properties.id).toEqual({ type: 'integer', minimum: 1 }); // not changed in place
  });

  it('makes path and body validators refuse integers no bigint id can be', () => {
    const params = compileValidator({ schema: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } }, httpPart: 'params' });
    expect(params({ id: '99999999999999999999999' })).toBe(false);
    expect(params({ id: '9007199254740991' })).toBe(true);
    const body = compileValidator({ schema: { type: 'object', properties: { n: { type: 'integer' } } }, httpPart: 'body' });
    expect(body({ n: 1e23 })).toBe(false);
    expect(body({ n: -5 })).toBe(true);
  });
});
