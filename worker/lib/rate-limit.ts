import { AppError } from './errors';

/**
 * Abuse protection with the Workers Rate Limiting binding. Never relied on for correctness:
 * idempotency keys, refs and the DO's single-writer checks keep the books right with or
 * without it, and a limiter that is missing or fails lets the request through.
 *
 * | binding              | routes                               | key                          | limit (wrangler.jsonc) |
 * | -------------------- | ------------------------------------ | ---------------------------- | ---------------------- |
 * | RATE_LIMIT_AUTH      | POST /api/auth/signup, /login        | client IP (CF-Connecting-IP) | 10 per 60 s            |
 * | RATE_LIMIT_CHECKOUT  | POST /api/checkout                   | signed-in user id            | 10 per 60 s            |
 *
 * Billing calls are not limited here: the account's Durable Object counts them, the same for the
 * service binding and signed HTTP (the `billingCallsPerSecond` setting, worker/do/call-throttle.ts;
 * issue 13: the binding's fixed 1,000 per 10 s refused one busy account far below what its object
 * serves, and only on one of the two paths). Requests without a client IP (only in local tests: Cloudflare
 * always sets CF-Connecting-IP) are not limited by IP.
 */

/** The part of the Rate Limiting binding this module uses (so tests can pass a stub). */
export interface Limiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

export const RATE_LIMIT_PERIOD_S = { auth: 60, checkout: 60 } as const;

/** Seconds until the current fixed window ends (the binding counts per window of `periodS`). */
export function retryAfterSeconds(periodS: number, now = Date.now()): number {
  return Math.max(1, Math.ceil(periodS - ((now / 1000) % periodS)));
}

/** Counts one request against `key`; over the limit → 429 `rate_limited` with `Retry-After`. */
export async function enforceRateLimit(limiter: Limiter | undefined, key: string, periodS: number): Promise<void> {
  if (!limiter) return;
  let allowed = true;
  try {
    allowed = (await limiter.limit({ key })).success;
  } catch (err) {
    console.warn('rate limiter unavailable; request allowed', err instanceof Error ? err.message : String(err));
    return;
  }
  if (!allowed) {
    const retryAfter = retryAfterSeconds(periodS);
    throw new AppError('rate_limited', `Too many requests; retry after ${retryAfter} s`, { retryAfterSeconds: retryAfter });
  }
}

export type LimiterEnv = { RATE_LIMIT_AUTH?: Limiter; RATE_LIMIT_CHECKOUT?: Limiter };

/** The limiters, if this deployment has them (tests and old configs may not). */
export function limiters(env: Env): LimiterEnv {
  return env as unknown as LimiterEnv;
}

/**
 * Pre-route middleware (itty-router `before`) for sign-up and login, keyed by client IP. Checkout
 * and the billing API count in their routes, once they know the user (after the session check,
 * or after the signature verifies), so no request is authenticated twice.
 */
export async function rateLimit(request: Request, env: Env): Promise<void> {
  if (request.method !== 'POST') return;
  const path = new URL(request.url).pathname;
  if (path === '/api/auth/signup' || path === '/api/auth/login') {
    const ip = request.headers.get('cf-connecting-ip');
    if (ip) await enforceRateLimit(limiters(env).RATE_LIMIT_AUTH, `ip:${ip}`, RATE_LIMIT_PERIOD_S.auth);
  }
}
