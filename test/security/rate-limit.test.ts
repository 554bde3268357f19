/**
 * Rate limits (issue 5, part 4): the Workers Rate Limiting bindings on sign-up/login (by IP) and
 * checkout (by user) answer 429 `rate_limited` with Retry-After; they are abuse protection only: a
 * missing or failing limiter lets requests through. Billing calls (issue 13) are counted by the
 * account's own object, one budget for the service binding and signed HTTP (the
 * `billingCallsPerSecond` setting); nobody without the billing secret can spend it.
 */
import { createExecutionContext, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { signHttp } from '../../worker/lib/billing-auth';
import { retryAfterSeconds, type Limiter } from '../../worker/lib/rate-limit';
import { settingsPatchSchema } from '../../worker/contracts/settings';
import { signUp } from '../auth-helpers';
import { account, newAccount, SECRET, viaBinding } from '../helpers';

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

  it('a failing limiter lets requests through (never relied on for correctness)', async () => {
    const u = await signUp();
    const broken: Limiter = {
      async limit() {
        throw new Error('limiter down');
      },
    };
    const res = await callWith({ RATE_LIMIT_CHECKOUT: broken }, new Request('https://app.test/api/checkout', { method: 'POST', headers: { 'content-type': 'application/json', cookie: u.cookie }, body: JSON.stringify({ packageId: 'pkg_does_not_exist' }) }));
    expect(res.status).toBe(404); // the route ran
  });
});

describe("billing calls, counted by the account's object (the billingCallsPerSecond setting)", () => {
  /** A new account whose object holds `perSecond` as its limit; the settings row is restored at once, so other files' accounts keep the default. */
  async function throttledAccount(perSecond: number): Promise<string> {
    const before = await env.DB.prepare('SELECT billing_calls_per_second AS n FROM settings WHERE id = 1').first<{ n: number }>();
    expect(before?.n).toBe(5_000); // the default
    await env.DB.prepare('UPDATE settings SET billing_calls_per_second = ? WHERE id = 1').bind(perSecond).run();
    try {
      const userId = await newAccount();
      expect((await account(userId).refreshSettings()).billingCallsPerSecond).toBe(perSecond);
      return userId;
    } finally {
      await env.DB.prepare('UPDATE settings SET billing_calls_per_second = ? WHERE id = 1').bind(before?.n ?? 5_000).run();
    }
  }

  it('signed HTTP and the service binding share one budget; a refusal is 429 with Retry-After and charges nothing', async () => {
    const userId = await throttledAccount(2); // a burst of 20 calls, then 2 a second
    const a = account(userId);
    const hold = await viaBinding<{ reservationId: string }>('authorize', { userId, idempotencyKey: 'hold', operation: 'chat', model: 'gpt-4o', estimatedTokens: 10 });
    expect(hold.ok).toBe(true);
    const started = Date.now();
    const viaRpc = (tag: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) => viaBinding('charge', { userId, idempotencyKey: `${tag}${i}`, operation: 'chat', model: 'gpt-4o', tokens: 1 })));
    // 10 over the binding (within the 19 left after the hold), then 15 over signed HTTP and 10 more
    // over the binding: both paths run past the shared budget, so both refusal shapes are checked.
    const first = await viaRpc('a', 10);
    const http = await Promise.all(Array.from({ length: 15 }, (_, i) => signedRequest('/api/billing/charge', { userId, idempotencyKey: `h${i}`, operation: 'chat', model: 'gpt-4o', tokens: 1 }).then((r) => SELF.fetch(r))));
    const rpc = await viaRpc('b', 10);
    const elapsedS = (Date.now() - started) / 1000;
    expect(first.every((r) => r.ok)).toBe(true);
    const httpOk = http.filter((r) => r.status === 200).length;
    const rpcOk = first.length + rpc.filter((r) => r.ok).length;
    // 19 calls were left after the hold; the bucket refilled at most 2 a second while these ran.
    expect(httpOk + rpcOk).toBeGreaterThanOrEqual(19);
    expect(httpOk + rpcOk).toBeLessThanOrEqual(19 + Math.ceil(2 * elapsedS));
    const httpRefused = http.filter((r) => r.status !== 200);
    expect(httpRefused.length).toBeGreaterThan(0);
    for (const r of httpRefused) {
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('1'); // a whole-number limit: a call is back within 1 s
      const body = (await r.json()) as { error: { code: string; details: { limitPerSecond: number; burst: number } } };
      expect(body.error).toMatchObject({ code: 'rate_limited', details: { limitPerSecond: 2, burst: 20, retryAfterSeconds: 1 } });
    }
    const rpcRefused = rpc.filter((r) => !r.ok);
    expect(rpcRefused.length).toBeGreaterThan(0);
    for (const r of rpcRefused) expect(r.error).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/limit 2 per second/) });
    // Exactly the admitted charges were billed (2 tokens each), and the hold is intact.
    const b = await a.getBalance();
    expect(b.ok && [b.balance.balance, b.balance.reserved]).toEqual([10_000 - 2 * (httpOk + rpcOk), 15]);
    // An empty bucket (a charge refused just now) never refuses finishing admitted work: the settle goes through.
    expect(await viaBinding('charge', { userId, idempotencyKey: 'empty', operation: 'chat', model: 'gpt-4o', tokens: 1 })).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    const settled = await viaBinding('settle', { userId, reservationId: hold.data!.reservationId, tokens: 4, success: true });
    expect(settled).toMatchObject({ ok: true, data: { billableTokens: 6 } });
    // Balance reads are not counted either.
    expect((await viaBinding('getBalance', { userId })).ok).toBe(true);
    // Ten seconds later (the account's test clock) the burst is back.
    expect(await a.advanceClock(10_000)).toMatchObject({ ok: true });
    const again = await Promise.all(Array.from({ length: 20 }, (_, i) => viaBinding('charge', { userId, idempotencyKey: `c${i}`, operation: 'chat', model: 'gpt-4o', tokens: 1 })));
    expect(again.filter((r) => r.ok).length).toBe(20);
  });

  it("requests without a valid signature never reach the object, so they spend nobody's budget", async () => {
    const userId = await throttledAccount(1); // a burst of 10
    for (const secret of ['wrong-secret', `${SECRET}x`]) {
      for (let i = 0; i < 6; i++) expect((await SELF.fetch(await signedRequest('/api/billing/charge', { userId, idempotencyKey: `x${i}`, operation: 'chat', model: 'gpt-4o', tokens: 1 }, secret))).status).toBe(401);
    }
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await SELF.fetch(await signedRequest('/api/billing/charge', { userId, idempotencyKey: `ok${i}`, operation: 'chat', model: 'gpt-4o', tokens: 1 }))).status);
    expect(statuses).toEqual(Array(10).fill(200));
  });

  it('the setting is validated like every other: an admin cannot set 0 or a fraction', async () => {
    for (const bad of [0, 1.5, -1, 1_000_001]) {
      const r = settingsPatchSchema.safeParse({ billingCallsPerSecond: bad });
      expect(r.success, String(bad)).toBe(false);
    }
    expect(settingsPatchSchema.safeParse({ billingCallsPerSecond: 1 }).success).toBe(true);
  });
});

describe('Retry-After', () => {
  it('is the time left in the fixed window, at least 1 s', () => {
    expect(retryAfterSeconds(60, 120_000)).toBe(60);
    expect(retryAfterSeconds(60, 119_500)).toBe(1);
    expect(retryAfterSeconds(10, 1_003_000)).toBe(7);
  });
});
