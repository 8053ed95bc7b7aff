import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ApiKey, Role } from '../config.js';
import { ApiError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    role?: Role;
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Checks a presented key against every configured one in constant time (comparing digests of equal
 * length), so response timing tells an attacker nothing about how close a guess was.
 */
export class ApiKeyAuth {
  private readonly keys: { digest: Buffer; role: Role }[];

  constructor(keys: ApiKey[]) {
    this.keys = keys.map((k) => ({ digest: digest(k.key), role: k.role }));
  }

  roleFor(presented: string): Role | undefined {
    const d = digest(presented);
    let role: Role | undefined;
    for (const k of this.keys) {
      if (timingSafeEqual(k.digest, d)) role = k.role;
    }
    return role;
  }

  /** Accepts `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
  authenticate(request: FastifyRequest): Role {
    const presented = keyFrom(request);
    if (presented === undefined) {
      throw new ApiError(401, 'unauthorized', 'an API key is required (Authorization: Bearer <key> or X-API-Key)');
    }
    const role = this.roleFor(presented);
    if (role === undefined) throw new ApiError(401, 'unauthorized', 'the API key is not valid');
    return role;
  }
}

function keyFrom(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match?.[1];
  }
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey !== '' ? apiKey : undefined;
}

/** Route guard: the caller's role must be one of these. */
export function requireRole(...allowed: Role[]) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.role !== undefined && allowed.includes(request.role)) return;
    throw new ApiError(403, 'forbidden', `this needs the ${allowed.join(' or ')} role`);
  };
}
