import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { account, signedPost, uid, viaBinding, usageRecords } from '../helpers';

async function body(res: Response) {
  return (await res.json()) as Record<string, any>;
}

/** The seed's Tests 1, 2 and 7, each through signed HTTP and through the service binding. */
describe.each(['http', 'binding'] as const)('billing API over %s', (via) => {
  async function call(method: string, path: string, params: Record<string, unknown>) {
    if (via === 'http') {
      const res = await signedPost(path, params);
      const b = await body(res);
      return res.ok ? { ok: true, status: res.status, data: b } : { ok: false, status: res.status, error: b.error };
    }
    const r = await viaBinding(method, params);
    return { ok: r.ok, status: r.ok ? 200 : 0, data: r.data as Record<string, any>, error: r.error };
  }
  const init = (userId: string) => call('initializeAccount', '/api/billing/accounts/initialize', { userId, workspaceId: 'ws_1' });

  it('Test 1: a new account has 10,000 tokens, one bonus transaction and onboardingTokensGranted', async () => {
    const userId = uid();
    const r = await init(userId);
    expect(r.ok).toBe(true);
    expect(r.data).toMatchObject({ created: true, balance: 10_000, available: 10_000, reserved: 0, status: 'active', alertLevel: 'ok' });
    const again = await init(userId);
    expect(again.data).toMatchObject({ created: false, balance: 10_000 });
    const ledger = await account(userId).getLedger();
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ type: 'bonus', amount: 10_000, balanceAfter: 10_000 });
    const b = await account(userId).getBalance();
    expect(b.ok && b.balance.onboardingTokensGranted).toBe(true);
  });

  it('Test 2: 5,000 actual tokens are charged as 7,500 with a usage record and a -7,500 usage transaction', async () => {
    const userId = uid();
    await init(userId);
    const r = await call('charge', '/api/billing/charge', { userId, idempotencyKey: 'req-1', operation: 'content_generation', model: 'gpt-4o', inputTokens: 2_000, outputTokens: 3_000 });
    expect(r.ok).toBe(true);
    expect(r.data).toMatchObject({ billableTokens: 7_500, balance: 2_500 });
    expect(r.data!.transactionId).toMatch(/^txn_/);
    const ledger = await account(userId).getLedger();
    expect(ledger.map((e) => [e.type, e.amount])).toEqual([
      ['bonus', 10_000],
      ['usage', -7_500],
    ]);
    await account(userId).flush();
    const usage = (await usageRecords(userId)).map((r) => ({ operation: r.operation, model: r.model, actual_tokens: r.actual_tokens, billable_tokens: r.billable_tokens, success: r.success }));
    expect(usage).toEqual([{ operation: 'content_generation', model: 'gpt-4o', actual_tokens: 5_000, billable_tokens: 7_500, success: 1 }]);
    // D1 has it in the account's daily rollup (issue 13: no usage_records row).
    const d1 = await env.DB.prepare('SELECT model, operation, requests, billable_tokens FROM account_usage_daily WHERE user_id = ?').bind(userId).all();
    expect(d1.results).toEqual([{ model: 'gpt-4o', operation: 'content_generation', requests: 1, billable_tokens: 7_500 }]);
    const bal = await call('getBalance', '/api/billing/balance', { userId });
    expect(bal.data).toMatchObject({ balance: 2_500, available: 2_500, alertLevel: 'ok' });
  });

  it('Test 7: with 100 tokens an operation needing 2,500+ is refused, nothing deducted, no transaction', async () => {
    const userId = uid();
    await init(userId);
    await call('charge', '/api/billing/charge', { userId, idempotencyKey: 'drain', operation: 'chat', model: 'gpt-4o', tokens: 6_600 }); // 9,900 billable
    expect((await call('getBalance', '/api/billing/balance', { userId })).data).toMatchObject({ balance: 100, alertLevel: 'low' });
    const r = await call('charge', '/api/billing/charge', { userId, idempotencyKey: 'big', operation: 'content_generation', model: 'gpt-4o', tokens: 2_000 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: 'insufficient_balance', message: 'Insufficient token balance' });
    if (via === 'http') expect(r.status).toBe(402);
    expect((await account(userId).getLedger()).map((e) => e.type)).toEqual(['bonus', 'usage']);
    expect((await call('getBalance', '/api/billing/balance', { userId })).data).toMatchObject({ balance: 100 });
    await account(userId).flush();
    expect((await usageRecords(userId)).filter((r) => r.error_code === 'insufficient_balance')).toHaveLength(1);
  });

  it('unknown accounts answer "Token account not found"', async () => {
    const r = await call('getBalance', '/api/billing/balance', { userId: uid() });
    expect(r.error).toMatchObject({ code: 'account_not_found', message: 'Token account not found' });
  });

  it('authorize → settle charges the actual usage; release frees the hold', async () => {
    const userId = uid();
    await init(userId);
    const hold = await call('authorize', '/api/billing/authorize', { userId, idempotencyKey: 'h1', operation: 'chat', model: 'gpt-4o', estimatedTokens: 2_000 });
    expect(hold.data).toMatchObject({ reservedTokens: 3_000 });
    expect((await call('getBalance', '/api/billing/balance', { userId })).data).toMatchObject({ balance: 10_000, reserved: 3_000, available: 7_000 });
    const settled = await call('settle', '/api/billing/settle', { userId, reservationId: hold.data!.reservationId, inputTokens: 1_000, outputTokens: 1, success: true });
    expect(settled.data).toMatchObject({ billableTokens: 1_502, balance: 8_498, available: 8_498 });
    const hold2 = await call('authorize', '/api/billing/authorize', { userId, idempotencyKey: 'h2', operation: 'image_generation', model: 'dall-e-3', images: 1 });
    expect(hold2.data).toMatchObject({ reservedTokens: 6_000 });
    const rel = await call('release', '/api/billing/release', { userId, reservationId: hold2.data!.reservationId });
    expect(rel.data).toMatchObject({ releasedTokens: 6_000, balance: 8_498, available: 8_498 });
  });
});

describe('signed HTTP authentication', () => {
  it('refuses a wrong secret, a stale timestamp and a tampered body with "Invalid billing secret"', async () => {
    const userId = uid();
    const wrong = await signedPost('/api/billing/accounts/initialize', { userId, workspaceId: 'w' }, { secret: 'nope' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: { code: 'invalid_billing_secret', message: 'Invalid billing secret', requestId: expect.any(String) } });
    const stale = await signedPost('/api/billing/accounts/initialize', { userId, workspaceId: 'w' }, { now: Date.now() - 301_000 });
    expect(stale.status).toBe(401);
    const future = await signedPost('/api/billing/accounts/initialize', { userId, workspaceId: 'w' }, { now: Date.now() + 301_000 });
    expect(future.status).toBe(401);
    expect((await account(userId).getBalance()).ok).toBe(false);
  });

  it('the service binding refuses a caller without the secret', async () => {
    const r = await viaBinding('getBalance', { userId: uid() }, true);
    expect(r.error).toEqual({ code: 'invalid_billing_secret', message: 'Invalid billing secret', requestId: expect.any(String) });
  });
});

describe('initializeDefaultSettings + seedDefaultPackages', () => {
  it('a second seeding creates nothing and says so', async () => {
    // The setup file has seeded this database once already.
    const res = await signedPost('/api/internal/setup', {});
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      settings: { created: false, message: 'System settings already exist; nothing changed' },
      packages: { created: 0, message: 'Packages already exist; nothing created', packageIds: ['pkg_starter', 'pkg_pro', 'pkg_business', 'pkg_enterprise'] },
    });
    const counts = await env.DB.prepare('SELECT (SELECT count(*) FROM settings) AS s, (SELECT count(*) FROM packages) AS p').first();
    expect(counts).toEqual({ s: 1, p: 4 });
    const settings = await env.DB.prepare('SELECT token_multiplier_bps, image_costs, tokens_per_usd, minimum_purchase_cents, welcome_bonus, low_balance_threshold, critical_balance_threshold FROM settings').first();
    expect(settings).toEqual({
      token_multiplier_bps: 15_000,
      image_costs: JSON.stringify({ 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 4500 }),
      tokens_per_usd: 10_000,
      minimum_purchase_cents: 500,
      welcome_bonus: 10_000,
      low_balance_threshold: 1_000,
      critical_balance_threshold: 100,
    });
    expect((await signedPost('/api/internal/setup', {}, { secret: 'wrong' })).status).toBe(401);
  });
});
