import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, json, signUp } from '../auth-helpers';
import { account } from '../helpers';

async function charge(userId: string, key: string, tokens: number, opts: { operation?: string; model?: string; success?: boolean } = {}) {
  const r = await account(userId).charge({ idempotencyKey: key, operation: (opts.operation ?? 'chat') as 'chat', model: opts.model ?? 'gpt-4o', tokens, success: opts.success });
  if (!r.ok) throw new Error(`charge failed: ${r.code}`);
  return r;
}

describe('GET /api/account', () => {
  it('answers 401 without a session', async () => {
    for (const path of ['/api/account', '/api/account/transactions', '/api/account/usage']) {
      const res = await api(path);
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe('unauthorized');
    }
  });

  it('shows balance, thresholds, auto-recharge and a burn estimate from the last 7 days', async () => {
    const s = await signUp();
    let acct = await json(await api('/api/account', { cookie: s.cookie }));
    expect(acct).toEqual({
      balance: 10_000,
      reserved: 0,
      available: 10_000,
      status: 'active',
      alertLevel: 'ok',
      autoRecharge: { enabled: false, threshold: 0, amount: 0, monthlyLimitCents: null,
        priceCents: 0, mode: 'fixed', target: 0, state: 'off', lastError: null, hasPaymentMethod: false },
      lastPurchaseAt: null,
      onboardingTokensGranted: true,
      thresholds: { low: 1_000, critical: 100 },
      burn: { tokensPerDay: 0, daysLeft: null },
    });
    await charge(s.user.id, 'a', 1_400); // 2,100 billable
    await charge(s.user.id, 'b', 1_400, { success: false }); // failed: not billed
    await account(s.user.id).flush();
    acct = await json(await api('/api/account', { cookie: s.cookie }));
    expect(acct).toMatchObject({ balance: 7_900, available: 7_900, burn: { tokensPerDay: 300, daysLeft: 26 } });
  });

  it('reports the alert levels of seed Test 6', async () => {
    const s = await signUp();
    await charge(s.user.id, 'to-999', 6_001); // 9,002 billable → 998 left
    expect(await json(await api('/api/account', { cookie: s.cookie }))).toMatchObject({ balance: 998, alertLevel: 'low' });
    await charge(s.user.id, 'to-98', 600); // 900 → 98 left
    expect(await json(await api('/api/account', { cookie: s.cookie }))).toMatchObject({ balance: 98, alertLevel: 'critical' });
  });
});

describe('GET /api/account/transactions', () => {
  it('pages newest first with an opaque cursor and filters by type', async () => {
    const s = await signUp();
    for (let i = 0; i < 5; i++) await charge(s.user.id, `k${i}`, 100 * (i + 1));
    const first = await json(await api('/api/account/transactions?limit=2', { cookie: s.cookie }));
    expect(first.items.map((e: any) => e.seq)).toEqual([6, 5]);
    expect(first.items[0]).toEqual({
      id: expect.stringMatching(/^txn_/),
      seq: 6,
      type: 'usage',
      amount: -750,
      balanceAfter: 10_000 - 150 - 300 - 450 - 600 - 750,
      description: 'chat · gpt-4o',
      ref: null,
      amountCents: null,
      createdAt: expect.any(Number),
    });
    expect(typeof first.nextCursor).toBe('string');
    const second = await json(await api(`/api/account/transactions?limit=2&cursor=${first.nextCursor}`, { cookie: s.cookie }));
    expect(second.items.map((e: any) => e.seq)).toEqual([4, 3]);
    const rest = await json(await api(`/api/account/transactions?limit=2&cursor=${second.nextCursor}`, { cookie: s.cookie }));
    expect(rest.items.map((e: any) => e.seq)).toEqual([2, 1]);
    expect(rest.nextCursor).toBeNull();
    const bonus = await json(await api('/api/account/transactions?type=bonus', { cookie: s.cookie }));
    expect(bonus.items.map((e: any) => e.type)).toEqual(['bonus']);
  });

  it.each(['limit=0', 'limit=201', 'limit=abc', 'type=gift', 'cursor=-1', 'cursor=x'])('400 for %s', async (q) => {
    const s = await signUp();
    const res = await api(`/api/account/transactions?${q}`, { cookie: s.cookie });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatchObject({ code: 'bad_request', message: expect.any(String) });
  });
});

describe('GET /api/account/grants', () => {
  it('lists the caller’s grants with something left, in burn order, and the debt', async () => {
    const s = await signUp();
    expect((await api('/api/account/grants')).status).toBe(401);
    await account(s.user.id).credit({ type: 'purchase', amount: 5_000, ref: `pi_${crypto.randomUUID()}`, amountCents: 500, isPurchase: true });
    await charge(s.user.id, 'g1', 2_000); // 3,000 billable, from the welcome bonus
    const body = await json(await api('/api/account/grants', { cookie: s.cookie }));
    expect(body).toEqual({
      grants: [
        { id: 'bonus:welcome', category: 'promotional', priority: 50, amount: 10_000, remaining: 7_000, expiresAt: null, createdAt: expect.any(Number), description: 'Welcome bonus' },
        expect.objectContaining({ category: 'paid', amount: 5_000, remaining: 5_000, expiresAt: null }),
      ],
      debt: 0,
      balance: 12_000,
    });
  });
});

describe('GET /api/account/usage', () => {
  it('groups the caller’s usage by day, operation and model, with every day present', async () => {
    const s = await signUp();
    const other = await signUp();
    await charge(s.user.id, 'u1', 1_000, { operation: 'chat', model: 'gpt-4o' }); // 1,500
    await charge(s.user.id, 'u2', 2_000, { operation: 'translation', model: 'gpt-4o-mini' }); // 3,000
    await charge(s.user.id, 'u3', 500, { operation: 'chat', model: 'gpt-4o', success: false }); // 0
    await charge(other.user.id, 'o1', 3_000);
    await account(s.user.id).flush();
    await account(other.user.id).flush();

    const u = await json(await api('/api/account/usage?days=7', { cookie: s.cookie }));
    expect(u.byDay).toHaveLength(7);
    const today = new Date().toISOString().slice(0, 10);
    expect(u.byDay[6]).toEqual({ day: today, requests: 3, actualTokens: 3_000, billableTokens: 4_500, cachedInputTokens: 0, reasoningTokens: 0 });
    expect(u.byDay.slice(0, 6).every((d: any) => d.requests === 0)).toBe(true);
    expect(u.byOperation).toEqual([
      { operation: 'translation', requests: 1, actualTokens: 2_000, billableTokens: 3_000, cachedInputTokens: 0, reasoningTokens: 0 },
      { operation: 'chat', requests: 2, actualTokens: 1_000, billableTokens: 1_500, cachedInputTokens: 0, reasoningTokens: 0 },
    ]);
    expect(u.byModel).toEqual([
      { model: 'gpt-4o-mini', requests: 1, actualTokens: 2_000, billableTokens: 3_000, cachedInputTokens: 0, reasoningTokens: 0 },
      { model: 'gpt-4o', requests: 2, actualTokens: 1_000, billableTokens: 1_500, cachedInputTokens: 0, reasoningTokens: 0 },
    ]);
    const d = await json(await api('/api/account/usage', { cookie: s.cookie }));
    expect(d.byDay).toHaveLength(30);
  });

  it('sums cached-input and reasoning tokens per day, operation and model', async () => {
    const s = await signUp();
    // The account's daily rollup as the outbox writes it (issue 13), one record each (charges carry these classes once the price book is on the charge path).
    const row = (model: string, cached: number, reasoning: number) =>
      env.DB.prepare(
        `INSERT INTO account_usage_daily (user_id, day, model, operation, api_key_id, requests, actual_tokens, billable_tokens, cached_input_tokens, reasoning_tokens)
         VALUES (?, ?, ?, 'chat', '', 1, 1500, 20, ?, ?)`,
      ).bind(s.user.id, new Date().toISOString().slice(0, 10), model, cached, reasoning);
    await env.DB.batch([row('gpt-5-mini', 2000, 0), row('o3', 300, 700)]);
    const u = await json(await api('/api/account/usage?days=1', { cookie: s.cookie }));
    expect(u.byDay[0]).toMatchObject({ requests: 2, cachedInputTokens: 2300, reasoningTokens: 700 });
    expect(u.byModel.map((m: any) => [m.model, m.cachedInputTokens, m.reasoningTokens]).sort()).toEqual([
      ['gpt-5-mini', 2000, 0],
      ['o3', 300, 700],
    ]);
    expect(u.byOperation).toEqual([{ operation: 'chat', requests: 2, actualTokens: 3000, billableTokens: 40, cachedInputTokens: 2300, reasoningTokens: 700 }]);
  });

  it.each(['days=0', 'days=366', 'days=1.5'])('400 for %s', async (q) => {
    const s = await signUp();
    expect((await api(`/api/account/usage?${q}`, { cookie: s.cookie })).status).toBe(400);
  });
});

describe('cross-user access', () => {
  it('a user only ever sees their own account, whatever ids they put in the request', async () => {
    const alice = await signUp();
    const bob = await signUp();
    await charge(bob.user.id, 'bob-1', 2_000);
    await account(bob.user.id).flush();
    // Another user's id in the query is ignored: the session decides whose data is read.
    const tx = await json(await api(`/api/account/transactions?userId=${bob.user.id}`, { cookie: alice.cookie }));
    expect(tx.items.map((e: any) => e.type)).toEqual(['bonus']);
    const acct = await json(await api(`/api/account?userId=${bob.user.id}`, { cookie: alice.cookie }));
    expect(acct.balance).toBe(10_000);
    const usage = await json(await api(`/api/account/usage?userId=${bob.user.id}`, { cookie: alice.cookie }));
    expect(usage.byModel).toEqual([]);
    // Per-user paths that do not exist for users are 404, not someone else's data.
    for (const path of [`/api/account/${bob.user.id}`, `/api/accounts/${bob.user.id}/transactions`, `/api/users/${bob.user.id}`]) {
      const res = await api(path, { cookie: alice.cookie });
      expect(res.status).toBe(404);
    }
  });

  it('a user whose token account is missing gets 404 account_not_found', async () => {
    const s = await signUp();
    await env.DB.prepare('UPDATE users SET id = ? WHERE id = ?').bind(`usr_ghost${crypto.randomUUID().replaceAll('-', '')}`, s.user.id).run();
    await env.DB.prepare('UPDATE sessions SET user_id = (SELECT id FROM users WHERE email = ?) WHERE user_id = ?').bind(s.user.email, s.user.id).run();
    const res = await api('/api/account', { cookie: s.cookie });
    expect(res.status).toBe(404);
    expect((await json(res)).error).toEqual({ code: 'account_not_found', message: 'Token account not found', requestId: expect.any(String) });
    expect((await api('/api/account/transactions', { cookie: s.cookie })).status).toBe(404);
  });
});

describe('GET /api/packages', () => {
  it('lists active packages in order with the pricing facts, without auth', async () => {
    const res = await api('/api/packages');
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.tokensPerUsd).toBe(10_000);
    expect(body.minimumPurchaseCents).toBe(500);
    expect(body.packages.map((p: any) => p.id)).toEqual(['pkg_starter', 'pkg_pro', 'pkg_business', 'pkg_enterprise']);
    expect(body.packages[1]).toEqual({ id: 'pkg_pro', name: 'Pro', description: 'Best value for growing businesses', tokens: 750_000, priceCents: 6_500, popular: true, sortOrder: 2 });
    expect(body.packages[0]).not.toHaveProperty('stripePriceId');
  });

  it('hides inactive packages', async () => {
    await env.DB.prepare(`INSERT INTO packages (id, name, tokens, price_cents, stripe_price_id, active, sort_order, created_at, updated_at) VALUES ('pkg_old', 'Old', 1, 100, 'price_x', 0, 0, 0, 0)`).run();
    const body = await json(await api('/api/packages'));
    expect(body.packages.map((p: any) => p.id)).not.toContain('pkg_old');
    await env.DB.prepare(`DELETE FROM packages WHERE id = 'pkg_old'`).run();
  });
});
