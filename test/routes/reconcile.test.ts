/**
 * Reconciliation (issue 5, part 6): the DO ledger against D1, per account, through the
 * superadmin endpoint and the signed internal one. Clean books report no drift; each kind of
 * injected drift (a row missing in D1, a row D1 invented, a changed amount, a stale directory
 * balance) is found on the right account and counted in the totals.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReconcileReport, StripeReport } from '../../worker/services/reconcile';
import { adminUser, api, json, signUp, superadmin, type Session } from '../auth-helpers';
import { account, drain, newAccount, signedPost } from '../helpers';
import { sim } from '../stripe-helpers';

async function busyAccount(): Promise<string> {
  const userId = await newAccount();
  const a = account(userId);
  for (let i = 0; i < 5; i++) await a.charge({ idempotencyKey: `c${i}`, operation: 'chat', model: 'gpt-4o', tokens: 100 * (i + 1) });
  const hold = await a.authorize({ idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 500 });
  if (hold.ok) await a.settle({ reservationId: hold.reservationId, tokens: 700, success: true });
  await a.credit({ type: 'purchase', amount: 150_000, ref: `pi_${userId}`, amountCents: 1_500, isPurchase: true });
  return userId;
}

async function internal(body: unknown): Promise<ReconcileReport> {
  const res = await signedPost('/api/internal/reconcile', body);
  expect(res.status).toBe(200);
  return json<ReconcileReport>(res);
}

describe('reconciliation', () => {
  let root: Session;
  beforeAll(async () => {
    root = await superadmin();
  });

  it('clean books: every account matches, totals add up, charges not yet flushed are not drift', async () => {
    const ids = await Promise.all([busyAccount(), busyAccount(), busyAccount()]);
    // Unflushed work right before the check: reconcile flushes first.
    await account(ids[0]).charge({ idempotencyKey: 'late', operation: 'chat', model: 'gpt-4o', tokens: 1 });
    const r = await internal({ userIds: ids, includeOk: true });
    expect(r).toMatchObject({ ok: true, accounts: 3, drifted: 0 });
    expect(r.totals).toMatchObject({ missingInD1: 0, extraInD1: 0, mismatched: 0, balanceDrift: 0 });
    const balances = await Promise.all(ids.map(async (id) => ((await account(id).getBalance()) as { balance: { balance: number } }).balance.balance));
    expect(r.totals.doBalance).toBe(balances.reduce((s, b) => s + b, 0));
    expect(r.totals.d1DirectoryBalance).toBe(r.totals.doBalance);
    // Issue 13: D1 holds the money entries as rows; the usage entries are checked against its rollup.
    const ledgers = await Promise.all(ids.map((id) => account(id).getLedger(0, 10_000)));
    expect(r.totals.ledgerEntries).toBe(ledgers.flat().length);
    expect(r.totals.d1Entries).toBe(ledgers.flat().filter((e) => e.type !== 'usage').length);
    expect(r.totals.d1Entries).toBeLessThan(r.totals.ledgerEntries);
    for (const item of r.items) {
      expect(item.d1UsageTokens).toBe(item.doUsageTokens);
      expect(item.doUsageTokens).toBeGreaterThan(0);
      expect(item.d1Sum).toBe(item.directoryBalance);
    }
    expect(r.items.map((i) => i.userId).sort()).toEqual([...ids].sort());
    // Without userIds: every account in the directory, paged.
    const all = await internal({ limit: 2 });
    expect(all.accounts).toBe(2);
    expect(all.nextCursor).not.toBeNull();
    const rest = await internal({ cursor: all.nextCursor, limit: 500 });
    expect(all.ok && rest.ok).toBe(true);
    // Walking every page covers every account in the directory exactly once, in order.
    const directory = (await env.DB.prepare('SELECT user_id FROM token_accounts ORDER BY user_id').all<{ user_id: string }>()).results.map((r) => r.user_id);
    expect(directory.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(directory.length + 1);
      const p: ReconcileReport = await internal({ limit: 2, includeOk: true, ...(cursor ? { cursor } : {}) });
      sizes.push(p.accounts);
      expect(p.items).toHaveLength(p.accounts);
      seen.push(...p.items.map((i) => i.userId).sort());
      if (!p.nextCursor) break;
      expect(p.nextCursor).toBe(seen.at(-1));
      cursor = p.nextCursor;
    }
    expect(seen).toEqual(directory);
    expect(new Set(seen).size).toBe(seen.length);
    expect(sizes.slice(0, -1).every((n) => n === 2)).toBe(true);
    expect(ids.every((id) => seen.includes(id))).toBe(true);
  });

  it('finds each kind of drift on the right account', async () => {
    const [missing, extra, changed, stale, clean] = await Promise.all([busyAccount(), busyAccount(), busyAccount(), busyAccount(), busyAccount()]);
    await internal({ userIds: [missing, extra, changed, stale, clean] }); // everything flushed
    await env.DB.batch([
      env.DB.prepare(`DELETE FROM token_transactions WHERE user_id = ? AND type = 'purchase'`).bind(missing),
      env.DB.prepare(
        `INSERT INTO token_transactions (id, user_id, seq, type, amount, balance_after, ref, description, created_at) VALUES ('txn_forged', ?, 999, 'admin_grant', 1000000, 0, 'forged', 'forged', 0)`,
      ).bind(extra),
      env.DB.prepare(`UPDATE token_transactions SET amount = amount - 1 WHERE user_id = ? AND type = 'bonus'`).bind(changed),
      env.DB.prepare(`UPDATE token_accounts SET balance = balance + 7 WHERE user_id = ?`).bind(stale),
    ]);
    const r = await internal({ userIds: [missing, extra, changed, stale, clean] });
    expect(r).toMatchObject({ ok: false, accounts: 5, drifted: 4 });
    const by = new Map(r.items.map((i) => [i.userId, i]));
    expect(by.has(clean)).toBe(false);
    expect(by.get(missing)).toMatchObject({ ok: false, missingInD1: [expect.stringMatching(/^txn_/)] });
    expect(by.get(extra)).toMatchObject({ ok: false, extraInD1: ['txn_forged'] });
    expect(by.get(changed)!.mismatched).toEqual([expect.objectContaining({ field: 'amount', do: 10_000, d1: 9_999 })]);
    expect(by.get(stale)!.problems.join()).toMatch(/directory says balance/);
    expect(r.totals).toMatchObject({ missingInD1: 1, extraInD1: 1, mismatched: 1, balanceDrift: 7 });
  });

  it('usage entries stay in the object (issue 13): a usage rollup that lost or doubled tokens is drift', async () => {
    const [lost, doubled] = await Promise.all([busyAccount(), busyAccount()]);
    for (const id of [lost, doubled]) await drain(id);
    await env.DB.prepare(`UPDATE account_usage_daily SET billable_tokens = billable_tokens - 1 WHERE user_id = ?`).bind(lost).run();
    await env.DB.prepare(`UPDATE account_usage_daily SET billable_tokens = billable_tokens * 2 WHERE user_id = ?`).bind(doubled).run();
    const r = await internal({ userIds: [lost, doubled], includeOk: true });
    expect(r).toMatchObject({ ok: false, drifted: 2 });
    for (const item of r.items) {
      expect(item.missingInD1).toEqual([]); // usage entries are not expected as rows
      expect(item.d1UsageTokens).not.toBe(item.doUsageTokens);
      expect(item.problems.join('\n')).toMatch(/usage rollup/);
      expect(item.problems.join('\n')).toMatch(/its directory says/);
    }
  });

  it('an id with no account in the DO but rows in D1 is drift', async () => {
    const ghost = `usr_ghost_${crypto.randomUUID().replaceAll('-', '')}`;
    await env.DB.prepare(`INSERT INTO token_transactions (id, user_id, seq, type, amount, balance_after, description, created_at) VALUES (?, ?, 1, 'bonus', 10000, 10000, 'x', 0)`)
      .bind(`txn_${ghost}`, ghost)
      .run();
    const r = await internal({ userIds: [ghost] });
    expect(r.items[0]).toMatchObject({ ok: false, extraInD1: [`txn_${ghost}`] });
    expect(r.items[0].problems[0]).toMatch(/no account/);
  });

  it('the admin endpoint: superadmin only; the signed endpoint: valid signature only', async () => {
    const userId = await busyAccount();
    expect((await api('/api/admin/reconcile', { method: 'POST' })).status).toBe(401);
    expect((await api('/api/admin/reconcile', { method: 'POST', cookie: (await signUp()).cookie })).status).toBe(403);
    expect((await api('/api/admin/reconcile', { method: 'POST', cookie: (await adminUser(root)).cookie })).status).toBe(403);
    const res = await api('/api/admin/reconcile', { method: 'POST', cookie: root.cookie, body: { userIds: [userId] } });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ ok: true, accounts: 1 });
    const noBody = await api('/api/admin/reconcile', { method: 'POST', cookie: root.cookie });
    expect(noBody.status).toBe(200);
    expect((await api('/api/admin/reconcile', { method: 'POST', cookie: root.cookie, body: { userIds: ['<script>'] } })).status).toBe(400);
    expect((await signedPost('/api/internal/reconcile', {}, { secret: 'wrong' })).status).toBe(401);
  });
});

describe('reconciliation against Stripe', () => {
  async function paid(userId: string, tokens: number, cents = 500): Promise<string> {
    const pi = await sim('/v1/payment_intents', { amount: cents, currency: 'usd', confirm: true, payment_method: 'pm_card_visa', metadata: { userId, tokens: String(tokens), kind: 'purchase' } });
    expect(pi.status).toBe('succeeded');
    return pi.id;
  }

  it('finds payments never credited, credits never paid, and amounts that differ', async () => {
    const userId = await newAccount();
    const a = account(userId);
    const credited = await paid(userId, 50_000);
    const uncredited = await paid(userId, 50_000);
    const differs = await paid(userId, 1_000);
    await a.credit({ type: 'purchase', amount: 50_000, ref: credited, amountCents: 500, isPurchase: true });
    await a.credit({ type: 'purchase', amount: 2_000, ref: differs, amountCents: 500, isPurchase: true });
    const fake = `pi_fake_${crypto.randomUUID().replaceAll('-', '')}`;
    await a.credit({ type: 'purchase', amount: 10_000, ref: fake, amountCents: 100, isPurchase: true });
    await internal({ userIds: [userId] }); // flushes the account to D1
    const res = await signedPost('/api/internal/reconcile', { stripe: true });
    expect(res.status).toBe(200);
    const r = await json<StripeReport>(res);
    expect(r.configured).toBe(true);
    // The simulator is shared by every test file: look at this account's payments only.
    const mine = r.drift.filter((d) => d.userId === userId).map((d) => [d.paymentIntentId, d.problem]);
    expect(mine.sort()).toEqual(
      [
        [uncredited, 'paid_not_credited'],
        [differs, 'amount_differs'],
        [fake, 'credited_not_paid'],
      ].sort(),
    );
    expect(r.ok).toBe(false);
  });
});
