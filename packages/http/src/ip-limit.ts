import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { ApiError } from './errors.js';

/**
 * A budget per client IP for the requests no API key answers for: a missing or failed key (401) and
 * an unknown route (404). The per-key limiter (@fastify/rate-limit, keyed by the key's prefix) runs
 * only after authentication succeeds, so without this, guessing keys or scanning for routes was never
 * limited. Spending is one INCR (+ PEXPIRE on the first) on the rate-limit connection, counted only
 * when a request fails, so a valid key behind the same NAT as an attacker keeps working. Redis being
 * down skips the limit (as the per-key limiter does) rather than refusing everyone.
 */
export interface IpLimitOptions {
  redis: Redis;
  prefix: string;
  max: number;
  windowMs: number;
}

// INCR, and start the window on the first hit; returns [count, ms left].
const SPEND = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { n, redis.call('PTTL', KEYS[1]) }`;

/** The Redis key of an address's budget of failed requests. */
export const ipBudgetKey = (prefix: string, ip: string) => `${prefix}:ipbudget:${ip}`;

export function installIpLimit(app: FastifyInstance, opts: IpLimitOptions): void {
  app.decorate('spendIpBudget', async (request: FastifyRequest, what: string): Promise<void> => {
    let count: number;
    let ttl: number;
    try {
      // Not under `ratelimit:ip:`: that is @fastify/rate-limit's own per-IP key for requests without a key
      // (public routes), and sharing it counted a failed sign-in twice.
      [count, ttl] = (await opts.redis.eval(SPEND, 1, ipBudgetKey(opts.prefix, request.ip), String(opts.windowMs))) as [number, number];
    } catch (err) {
      request.log.warn({ err }, 'IP rate limit unavailable; not applied');
      return;
    }
    if (count > opts.max) {
      const seconds = Math.max(1, Math.ceil((ttl > 0 ? ttl : opts.windowMs) / 1000));
      throw new ApiError(429, 'rate_limited', `too many ${what} from this address: at most ${opts.max} per ${Math.round(opts.windowMs / 1000)} s`, [], {
        'retry-after': String(seconds),
      });
    }
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts a failed request (bad key, unknown route) against the caller's IP; throws a 429 past the budget. */
    spendIpBudget(request: FastifyRequest, what: string): Promise<void>;
  }
}
