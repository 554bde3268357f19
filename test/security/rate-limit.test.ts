/**
 * Rate limits (issue 5, part 4): the Workers Rate Limiting bindings on sign-up/login (by IP),
 * checkout (by user) and the signed billing API (by verified userId) answer 429 `rate_limited`
 * with Retry-After. They are abuse protection only: a missing or failing limiter lets requests
 * through, and nobody without the billing secret can spend another user's budget.
 */
import { createExecutionContext, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { signHttp } from '../../worker/lib/billing-auth';
import { retryAfterSeconds, type Limiter } from '../../worker/lib/rate-limit';
import { signUp } from '../auth-helpers';
import { account, newAccount, SECRET } from '../helpers';

/** Waits for a fresh fixed window when the current one is nearly over, so a burst fits in one. */
async function freshWindow(periodS: number, need: number) {
  const into = (Date.now() / 1000) % periodS;
  if (periodS - into < need) await new Promise((r) => setTimeout(r, (periodS - into) * 1000 + 50));
}

function login(ip: string | null, email = 'nobody@example.test') {
  return SELF.fetch('https://app.test/api/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(ip ? { 'cf-connecting-ip': ip } : {}) },
    body: JSON.stringify({ email, password: 'wrong password' }),
  });
}

/** Calls the Worker directly with some bindings replaced (stub limiters). */
async function callWith(overrides: Record<string, unknown>, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, { ...(env as unknown as Env), ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

function counting(allow: (n: number) => boolean): Limiter & { keys: string[] } {
  const keys: string[] = [];
  return {
    keys,
    async limit({ key }) {
      keys.push(key);
      return { success: allow(keys.length) };
    },
  };
}

async function signedRequest(path: string, body: unknown, secret = SECRET): Promise<Request> {
  const raw = JSON.stringify(body);
  const { timestamp, signature } = await signHttp(secret, raw);
  return new Request(`https://billing.test${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-billing-timestamp': timestamp, 'x-billing-signature': signature }, body: raw });
}

describe('sign-up and login, by client IP (the real binding: 10 per 60 s)', () => {
  it('the 11th attempt from one IP within a minute gets 429 with Retry-After; other IPs are unaffected', async () => {
    await freshWindow(60, 15);
    const ip = `203.0.113.${Math.floor(Math.random() * 250) + 1}`;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await login(ip)).status);
    expect(statuses).toEqual(Array(10).fill(401));
    const limited = await login(ip);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await limited.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/retry after \d+ s/);
    // Sign-up shares the budget: a scripted account farm from the same IP is stopped too.
    const signup = await SELF.fetch('https://app.test/api/auth/signup', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
      body: JSON.stringify({ email: `farm-${crypto.randomUUID()}@example.test`, password: 'long enough pw' }),
    });
    expect(signup.status).toBe(429);
    expect((await login('198.51.100.7')).status).toBe(401);
  });
});

describe('checkout, by user (stub limiter)', () => {
  it('over the limit → 429 before the route runs; the key is the signed-in user, not the IP', async () => {
    const u = await signUp();
    const limiter = counting((n) => n <= 1);
    const req = () => new Request('https://app.test/api/checkout', { method: 'POST', headers: { 'content-type': 'application/json', cookie: u.cookie, 'cf-connecting-ip': '192.0.2.1' }, body: JSON.stringify({ packageId: 'pkg_does_not_exist' }) });
    const first = await callWith({ RATE_LIMIT_CHECKOUT: limiter }, req());
    // The route itself answers: the package does not exist (a 500 or any other refusal would not pass).
    expect(first.status).toBe(404);
    expect(await first.json()).toEqual({ error: { code: 'package_not_found', message: 'Package not found', requestId: expect.any(String) } });
    const second = await callWith({ RATE_LIMIT_CHECKOUT: limiter }, req());
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limiter.keys).toEqual([`user:${u.user.id}`, `user:${u.user.id}`]);
    // Anonymous checkout is not counted (the route refuses it with 401 anyway).
    const anon = await callWith({ RATE_LIMIT_CHECKOUT: limiter }, new Request('https://app.test/api/checkout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
    expect(anon.status).toBe(401);
    expect(limiter.keys).toHaveLength(2);
  });
});

describe('billing API, by verified userId (stub limiter)', () => {
  it('over the limit → 429 and nothing charged; the balance is untouched', async () => {
    const userId = await newAccount();
    const limiter = counting(() => false);
    const res = await callWith({ RATE_LIMIT_BILLING: limiter }, await signedRequest('/api/billing/charge', { userId, idempotencyKey: 'rl', operation: 'chat', model: 'gpt-4o', tokens: 1_000 }));
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(10);
    expect(limiter.keys).toEqual([`user:${userId}`]);
    const b = await account(userId).getBalance();
    expect(b.ok && b.balance.balance).toBe(10_000);
  });

  it("requests without a valid signature never count against a user's budget", async () => {
    const userId = await newAccount();
    const limiter = counting(() => true);
    for (const secret of ['wrong-secret', `${SECRET}x`]) {
      const res = await callWith({ RATE_LIMIT_BILLING: limiter }, await signedRequest('/api/billing/balance', { userId }, secret));
      expect(res.status).toBe(401);
    }
    expect(limiter.keys).toEqual([]);
    const ok = await callWith({ RATE_LIMIT_BILLING: limiter }, await signedRequest('/api/billing/balance', { userId }));
    expect(ok.status).toBe(200);
    expect(limiter.keys).toEqual([`user:${userId}`]);
  });

  it('a failing limiter lets requests through (never relied on for correctness)', async () => {
    const userId = await newAccount();
    const broken: Limiter = {
      async limit() {
        throw new Error('limiter down');
      },
    };
    const res = await callWith({ RATE_LIMIT_BILLING: broken, RATE_LIMIT_AUTH: broken }, await signedRequest('/api/billing/balance', { userId }));
    expect(res.status).toBe(200);
  });
});

describe('Retry-After', () => {
  it('is the time left in the fixed window, at least 1 s', () => {
    expect(retryAfterSeconds(60, 120_000)).toBe(60);
    expect(retryAfterSeconds(60, 119_500)).toBe(1);
    expect(retryAfterSeconds(10, 1_003_000)).toBe(7);
  });
});
