import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { BillingClient } from '../../worker/client';
import type { TokenAccount } from '../../worker/do/token-account';
import { ACCOUNT_SCHEMA_VERSION } from '../../worker/do/schema';
import { describe, expect, it } from 'vitest';
import { account, d1Ledger, d1UsageBilled, drain, moneyEntries, newAccount, SECRET, signedPost, uid, usageRecords } from '../helpers';

const chat = (key: string, tokens: number) => ({ idempotencyKey: key, operation: 'chat' as const, model: 'gpt-4o', tokens });

async function ledgerSum(userId: string) {
  const ledger = await account(userId).getLedger();
  return { ledger, sum: ledger.reduce((s, e) => s + e.amount, 0) };
}

describe('TokenAccount charges', () => {
  it('1,000 concurrent charges against an account that can pay for 400: exactly 400 succeed', async () => {
    const userId = await newAccount();
    await account(userId).credit({ type: 'admin_grant', amount: 2_000, ref: 'grant:topup' }); // 12,000 = 400 × 30
    // 1,000 RPCs in flight at once into the object. (The vitest pool's loopback to the
    // entrypoint slows down with every call it carries, so the load goes to the DO directly;
    // 100 concurrent calls through the entrypoint are below.)
    const results = await Promise.all(Array.from({ length: 1_000 }, (_, i) => account(userId).charge(chat(`c-${i}`, 20))));
    expect(results.filter((r) => r.ok)).toHaveLength(400);
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(600);
    for (const r of refused) expect(r).toEqual({ ok: false, code: 'insufficient_balance' });
    const { ledger, sum } = await ledgerSum(userId);
    const bal = await account(userId).getBalance();
    expect(bal.ok && bal.balance.balance).toBe(0);
    expect(sum).toBe(0);
    expect(ledger.every((e) => e.balanceAfter >= 0)).toBe(true);
    expect(ledger.filter((e) => e.type === 'usage')).toHaveLength(400);
  });

  it('the same idempotency key sent 100 times at once charges once and answers identically', async () => {
    const userId = await newAccount();
    const answers = await Promise.all(Array.from({ length: 100 }, () => signedPost('/api/billing/charge', { userId, ...chat('same-key', 1_000) }).then((r) => r.text())));
    expect(new Set(answers).size).toBe(1);
    expect(JSON.parse(answers[0])).toMatchObject({ billableTokens: 1_500, balance: 8_500 });
    const { ledger } = await ledgerSum(userId);
    expect(ledger.filter((e) => e.type === 'usage')).toHaveLength(1);
  });

  it('100 concurrent charges through BillingService (the service-binding entrypoint) against 40 affordable', async () => {
    const userId = await newAccount();
    await account(userId).credit({ type: 'admin_grant', amount: 2_000, ref: 'grant:topup' });
    const client = new BillingClient(exports.BillingService as never, SECRET);
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => client.charge({ userId, ...chat(`e-${i}`, 200) }))); // 300 each
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(40);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'insufficient_balance', message: 'Insufficient token balance' });
    expect((await ledgerSum(userId)).sum).toBe(0);
  });

  it('the same key with different parameters is refused with 409 and changes nothing', async () => {
    const userId = await newAccount();
    expect((await signedPost('/api/billing/charge', { userId, ...chat('k', 100) })).status).toBe(200);
    const res = await signedPost('/api/billing/charge', { userId, ...chat('k', 101) });
    expect(res.status).toBe(409);
    expect(((await res.json()) as any).error.code).toBe('idempotency_conflict');
    expect((await ledgerSum(userId)).sum).toBe(10_000 - 150);
  });

  it('rounds billable tokens up and prices images per model; unknown image models are refused', async () => {
    const userId = await newAccount();
    const a = account(userId);
    expect(await a.charge(chat('one', 1))).toMatchObject({ ok: true, billableTokens: 2 });
    expect(await a.charge({ idempotencyKey: 'img', operation: 'image_generation', model: 'imagen', images: 2 })).toMatchObject({ ok: true, billableTokens: 9_000 });
    expect(await a.charge({ idempotencyKey: 'img2', operation: 'image_generation', model: 'midjourney', images: 1 })).toMatchObject({ ok: false, code: 'unknown_model' });
    expect(await a.charge({ ...chat('failed-op', 500), success: false })).toMatchObject({ ok: true, billableTokens: 0, transactionId: null });
    expect((await ledgerSum(userId)).sum).toBe(10_000 - 2 - 9_000);
  });
});

describe('holds', () => {
  it('a hold counts against available; an expired hold is released by the alarm, once', async () => {
    const userId = await newAccount();
    const a = account(userId);
    const hold = await a.authorize({ idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 6_000, ttlMs: 1 });
    expect(hold).toMatchObject({ ok: true, reservedTokens: 9_000 });
    expect(await a.charge(chat('too-much', 1_000))).toMatchObject({ ok: false, code: 'insufficient_balance' });
    await new Promise((r) => setTimeout(r, 5));
    await runDurableObjectAlarm(a);
    await runDurableObjectAlarm(a); // a second run finds nothing left to do
    const b = await a.getBalance();
    expect(b.ok && [b.balance.reserved, b.balance.available]).toEqual([0, 10_000]);
    if (!hold.ok) throw new Error();
    // Releasing the expired hold gives back nothing more: reserved stays 0, available 10,000.
    expect(await a.release(hold.reservationId)).toEqual({ ok: true, reservationId: hold.reservationId, releasedTokens: 0, balance: 10_000, available: 10_000 });
    const after = await a.getBalance();
    expect(after.ok && [after.balance.balance, after.balance.reserved, after.balance.available]).toEqual([10_000, 0, 10_000]);
    expect(await a.charge(chat('all-of-it', 6_000))).toMatchObject({ ok: true, billableTokens: 9_000, balance: 1_000, available: 1_000 });
  });

  it('settling above the hold may take the balance negative and suspends the account until topped up', async () => {
    const userId = await newAccount();
    const a = account(userId);
    const hold = await a.authorize({ idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000 });
    if (!hold.ok) throw new Error(hold.code);
    const s = await a.settle({ reservationId: hold.reservationId, tokens: 10_000, success: true });
    expect(s).toMatchObject({ ok: true, billableTokens: 15_000, balance: -5_000 });
    const b = await a.getBalance();
    expect(b.ok && b.balance.status).toBe('suspended');
    expect(await a.charge(chat('x', 1))).toMatchObject({ ok: false, code: 'account_suspended' });
    expect(await a.settle({ reservationId: hold.reservationId, tokens: 10_000, success: true })).toEqual(s); // replay
    expect(await a.settle({ reservationId: hold.reservationId, tokens: 9_000, success: true })).toMatchObject({ ok: false, code: 'idempotency_conflict' });
    await a.credit({ type: 'purchase', amount: 150_000, ref: 'pi_topup', amountCents: 1_500, isPurchase: true });
    const after = await a.getBalance();
    expect(after.ok && [after.balance.status, after.balance.balance]).toEqual(['active', 145_000]);
    expect(after.ok && after.balance.lastPurchaseAt).toBeGreaterThan(0);
  });
});

describe('holds under hostile input', () => {
  it('a caller key equal to the old internal settle/release key cannot make a hold unsettleable', async () => {
    const userId = await newAccount();
    const hold = await signedPost('/api/billing/authorize', { userId, idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000 }).then((r) => r.json<any>());
    const other = await signedPost('/api/billing/authorize', { userId, idempotencyKey: 'h2', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000 }).then((r) => r.json<any>());
    // The caller takes `settle:<id>` and `release:<id>` with charges of its own.
    expect((await signedPost('/api/billing/charge', { userId, ...chat(`settle:${hold.reservationId}`, 10) })).status).toBe(200);
    expect((await signedPost('/api/billing/charge', { userId, ...chat(`release:${other.reservationId}`, 10) })).status).toBe(200);
    const settled = await signedPost('/api/billing/settle', { userId, reservationId: hold.reservationId, tokens: 100, success: true });
    expect([settled.status, await settled.json()]).toEqual([200, expect.objectContaining({ billableTokens: 150 })]);
    const released = await signedPost('/api/billing/release', { userId, reservationId: other.reservationId });
    expect([released.status, await released.json()]).toEqual([200, expect.objectContaining({ releasedTokens: 1_500 })]);
    const b = await account(userId).getBalance();
    expect(b.ok && [b.balance.balance, b.balance.reserved]).toEqual([10_000 - 15 - 15 - 150, 0]);
  });

  it('Object.prototype member names as image models are unknown models (422), not a price or a crash', async () => {
    const userId = await newAccount();
    for (const model of ['__proto__', 'constructor', 'toString']) {
      const charged = await signedPost('/api/billing/charge', { userId, idempotencyKey: `img-${model}`, operation: 'image_generation', model, images: 1 });
      expect([charged.status, (await charged.json<any>()).error.code]).toEqual([422, 'unknown_model']);
      const held = await signedPost('/api/billing/authorize', { userId, idempotencyKey: `hold-${model}`, operation: 'image_generation', model, images: 1 });
      expect([held.status, (await held.json<any>()).error.code]).toEqual([422, 'unknown_model']);
    }
    const b = await account(userId).getBalance();
    expect(b.ok && [b.balance.balance, b.balance.reserved]).toEqual([10_000, 0]);
  });

  it('a released expired hold stays released: settling it later is refused and bills nothing', async () => {
    const userId = await newAccount();
    const a = account(userId);
    const hold = await a.authorize({ idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000, ttlMs: 1 });
    if (!hold.ok) throw new Error(hold.code);
    await new Promise((r) => setTimeout(r, 5));
    await runDurableObjectAlarm(a);
    expect(await a.release(hold.reservationId)).toMatchObject({ ok: true, releasedTokens: 0, balance: 10_000, available: 10_000 });
    expect(await a.settle({ reservationId: hold.reservationId, tokens: 100, success: true })).toEqual({ ok: false, code: 'reservation_closed', message: 'Reservation is released' });
    const b = await a.getBalance();
    expect(b.ok && [b.balance.balance, b.balance.reserved, b.balance.available]).toEqual([10_000, 0, 10_000]);
    expect((await a.getLedger()).filter((e) => e.type === 'usage')).toHaveLength(0);
    // An expired hold nobody released still bills the work when settled (today's rule).
    const h2 = await a.authorize({ idempotencyKey: 'h2', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000, ttlMs: 1 });
    if (!h2.ok) throw new Error(h2.code);
    await new Promise((r) => setTimeout(r, 5));
    await runDurableObjectAlarm(a);
    expect(await a.settle({ reservationId: h2.reservationId, tokens: 100, success: true })).toMatchObject({ ok: true, billableTokens: 150, balance: 9_850, available: 9_850 });
  });

  it("a hold opened with onExpiry 'settle' is billed its held amount once at expiry; D1 gets it and reconcile finds no drift", async () => {
    const userId = await newAccount();
    const a = account(userId);
    await drain(userId);
    // Through the signed route, so the contract carries the policy to the object.
    const res = await signedPost('/api/billing/authorize', { userId, idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000, ttlSeconds: 1, onExpiry: 'settle' });
    expect(res.status).toBe(200);
    const hold = (await res.json()) as { reservationId: string; reservedTokens: number; expiresAt: number };
    expect(hold.reservedTokens).toBe(1_500);
    // A release hold beside it, due at the same run: freed as before.
    const other = await a.authorize({ idempotencyKey: 'r', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100, ttlMs: 1 });
    if (!other.ok) throw new Error(other.code);
    await new Promise((r) => setTimeout(r, Math.max(0, hold.expiresAt - Date.now()) + 5));
    await runDurableObjectAlarm(a);
    await runDurableObjectAlarm(a); // a second run bills nothing more
    const b = await a.getBalance();
    expect(b.ok && [b.balance.balance, b.balance.reserved, b.balance.available]).toEqual([8_500, 0, 8_500]);
    const usage = (await a.getLedger()).filter((e) => e.type === 'usage');
    expect(usage.map((e) => e.amount)).toEqual([-1_500]);
    expect(await usageRecords(userId)).toEqual([expect.objectContaining({ reservation_id: hold.reservationId, billable_tokens: 1_500, output_tokens: 1_000, success: 1 })]);
    // A late settle or release is refused with the amount it was settled for, and moves nothing.
    const closed = { ok: false, code: 'reservation_closed', message: 'Reservation was settled at expiry for 1500 tokens' };
    expect(await a.settle({ reservationId: hold.reservationId, tokens: 10, success: true })).toEqual(closed);
    expect(await a.release(hold.reservationId)).toEqual(closed);
    const late = await signedPost('/api/billing/settle', { userId, reservationId: hold.reservationId, tokens: 10, success: true });
    expect(late.status).toBe(409);
    expect(((await late.json()) as any).error).toMatchObject({ code: 'reservation_closed', message: closed.message });
    // The authorize replays its first answer.
    const again = await signedPost('/api/billing/authorize', { userId, idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000, ttlSeconds: 1, onExpiry: 'settle' });
    expect(await again.json()).toMatchObject({ reservationId: hold.reservationId, reservedTokens: 1_500, expiresAt: hold.expiresAt });
    expect((await ledgerSum(userId)).sum).toBe(8_500);
    // D1 sees it like any settle: in the usage rollup, and reconcile finds the books clean.
    await drain(userId);
    expect(await d1UsageBilled(userId)).toBe(1_500);
    const rec = await signedPost('/api/internal/reconcile', { userIds: [userId], includeOk: true });
    expect(rec.status).toBe(200);
    const report = (await rec.json()) as any;
    expect(report).toMatchObject({ ok: true, accounts: 1, drifted: 0, totals: { missingInD1: 0, extraInD1: 0, mismatched: 0, balanceDrift: 0 } });
    expect(report.items[0]).toMatchObject({ doUsageTokens: 1_500, d1UsageTokens: 1_500 });
  });

  it('authorize and release schedule the outbox flush like a charge (the directory row follows the holds)', async () => {
    const userId = await newAccount();
    const a = account(userId);
    // Alarms also fire on their own in this pool: null means the 100 ms flush alarm is running now.
    const alarmAt = () => runInDurableObject(a, (_i, state) => state.storage.getAlarm());
    const soon = async () => expect((await alarmAt()) ?? 0).toBeLessThan(Date.now() + 60_000);
    await drain(userId);
    const hold = await a.authorize({ idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000, ttlMs: 3_600_000 });
    if (!hold.ok) throw new Error(hold.code);
    await soon(); // without the after-commit work: the hold's expiry, an hour away
    await runDurableObjectAlarm(a); // flushes; the next due work is the hold's expiry, an hour away
    expect(await a.outboxPending()).toMatchObject({ directory: false });
    expect(await alarmAt()).toBeGreaterThan(Date.now() + 3_000_000);
    expect(await a.release(hold.reservationId)).toMatchObject({ ok: true, releasedTokens: 1_500 });
    await soon();
  });
});

describe('credits', () => {
  it('each external reference moves tokens at most once', async () => {
    const userId = await newAccount();
    const a = account(userId);
    const results = await Promise.all(Array.from({ length: 20 }, () => a.credit({ type: 'purchase', amount: 150_000, ref: 'pi_123', amountCents: 1_500 })));
    expect(results.filter((r) => r.ok && !r.duplicate)).toHaveLength(1);
    expect((await ledgerSum(userId)).sum).toBe(160_000);
  });
});

describe('outbox to D1', () => {
  it('after the outbox drains, D1 holds exactly the DO ledger: its money entries as rows, its usage entries in the rollup (issue 13)', async () => {
    const userId = await newAccount();
    const a = account(userId);
    for (let i = 0; i < 30; i++) await a.charge(chat(`k${i}`, 10 + i));
    await runDurableObjectAlarm(a);
    await drain(userId);
    const ledger = (await a.getLedger()).map(({ id, seq, type, amount, balanceAfter, ref }) => ({ id, seq, type, amount, balanceAfter, ref }));
    expect(await d1Ledger(userId)).toEqual(moneyEntries(ledger));
    expect(await d1UsageBilled(userId)).toBe(ledger.reduce((s, e) => (e.type === 'usage' ? s - e.amount : s), 0));
    const dir = await env.DB.prepare('SELECT balance, status FROM token_accounts WHERE user_id = ?').bind(userId).first();
    expect(dir).toEqual({ balance: ledger.at(-1)!.balanceAfter, status: 'active' });
  });

  it('D1 failing during charges fails no charge; the outbox drains later with nothing lost or doubled', async () => {
    const userId = await newAccount();
    const a = account(userId);
    await drain(userId);
    // Charges send D1 no token_transactions row (issue 13), so D1 fails where every flush writes: the directory row.
    await env.DB.exec(`CREATE TRIGGER d1_down BEFORE UPDATE ON token_accounts BEGIN SELECT RAISE(ABORT, 'd1 unavailable'); END;`);
    try {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => a.charge(chat(`down-${i}`, 100))));
      expect(results.every((r) => r.ok)).toBe(true);
      const failed = await a.flush();
      expect(failed.ok).toBe(false);
      expect((await a.outboxPending()).ledger).toBe(50);
    } finally {
      await env.DB.exec(`DROP TRIGGER d1_down`);
    }
    await drain(userId);
    await drain(userId); // a second drain re-sends nothing
    const d1 = await d1Ledger(userId);
    expect(d1).toHaveLength(1);
    expect(d1.map((r) => r.id)).toEqual(moneyEntries(await a.getLedger()).map((e) => e.id));
    // Issue 13: D1 holds the account's daily usage rollup, not a row per record.
    const usage = await env.DB.prepare('SELECT sum(requests) AS n, sum(billable_tokens) AS b FROM account_usage_daily WHERE user_id = ?').bind(userId).first();
    expect(usage).toEqual({ n: 50, b: 50 * 150 });
  });

  it('the alarm flushes on its own and retries after a failure', async () => {
    const userId = await newAccount();
    const a = account(userId);
    await env.DB.exec(`CREATE TRIGGER d1_down2 BEFORE INSERT ON token_transactions BEGIN SELECT RAISE(ABORT, 'd1 unavailable'); END;`);
    await a.charge(chat('a', 100));
    expect(await runDurableObjectAlarm(a)).toBe(true);
    expect((await a.outboxPending()).ledger).toBe(2); // the bonus and the charge: a D1 batch lands whole or not at all
    await env.DB.exec(`DROP TRIGGER d1_down2`);
    expect(await runDurableObjectAlarm(a)).toBe(true); // re-armed with backoff
    expect(await a.outboxPending()).toEqual({ ledger: 0, usage: 0, directory: false });
    expect(await d1Ledger(userId)).toHaveLength(1); // the bonus; the charge is in the rollup
    expect(await d1UsageBilled(userId)).toBe(150);
  });
});

describe('storage faults', () => {
  it('an error inside the storage transaction changes neither balance nor ledger', async () => {
    const userId = await newAccount();
    const a = account(userId);
    await runInDurableObject(a, (_i, state) => {
      state.storage.sql.exec(`CREATE TRIGGER boom BEFORE INSERT ON ledger BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`);
    });
    const err = await a.charge(chat('k', 1_000)).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/disk on fire/);
    await runInDurableObject(a, (_i, state) => state.storage.sql.exec(`DROP TRIGGER boom`));
    const b = await a.getBalance();
    expect(b.ok && b.balance.balance).toBe(10_000);
    expect((await a.getLedger()).map((e) => e.type)).toEqual(['bonus']);
    // The same key now goes through: nothing of the failed attempt was kept.
    expect(await a.charge(chat('k', 1_000))).toMatchObject({ ok: true, balance: 8_500 });
  });

  it('after the object is reset, a retry with the same key returns the committed result', async () => {
    const userId = await newAccount();
    const first = await account(userId).charge(chat('k', 1_000));
    await abortAllDurableObjects();
    expect(await account(userId).charge(chat('k', 1_000))).toEqual(first);
    expect((await ledgerSum(userId)).sum).toBe(8_500);
  });

  it('fast-path charges leave the account row behind; after a reset the object rolls it forward from the ledger', async () => {
    const userId = await newAccount();
    let a = account(userId);
    await drain(userId);
    for (let i = 0; i < 5; i++) expect(await a.charge(chat(`f-${i}`, 100))).toMatchObject({ ok: true, balance: 10_000 - 150 * (i + 1) });
    // The stored row is the checkpoint before the charges: only the ledger rows carry them.
    const stored = await runInDurableObject(a, (_i, state) => state.storage.sql.exec<{ balance: number; ledger_seq: number; version: number }>('SELECT balance, ledger_seq, version FROM account').one());
    expect(stored).toMatchObject({ balance: 10_000, ledger_seq: 1 });
    await abortAllDurableObjects();
    a = account(userId); // stubs do not survive the reset
    const after = await a.getBalance();
    expect(after.ok && after.balance).toMatchObject({ balance: 10_000 - 750, available: 10_000 - 750 });
    expect((await ledgerSum(userId)).sum).toBe(10_000 - 750);
    // The version moved on by one per charge, so the D1 directory accepts the new snapshot.
    await drain(userId);
    const dir = await env.DB.prepare('SELECT balance, seq FROM token_accounts WHERE user_id = ?').bind(userId).first<{ balance: number; seq: number }>();
    expect(dir).toEqual({ balance: 10_000 - 750, seq: stored.version + 5 });
    // A write that checkpoints (a hold) stores the rolled-forward balance, and a reset then changes nothing.
    expect(await a.authorize({ idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100 })).toMatchObject({ ok: true, reservedTokens: 150 });
    const checkpoint = await runInDurableObject(a, (_i, state) => state.storage.sql.exec<{ balance: number; ledger_seq: number; reserved: number }>('SELECT balance, ledger_seq, reserved FROM account').one());
    expect(checkpoint).toEqual({ balance: 10_000 - 750, ledger_seq: 6, reserved: 150 });
    await abortAllDurableObjects();
    a = account(userId); // stubs do not survive the reset
    const again = await a.getBalance();
    expect(again.ok && again.balance).toMatchObject({ balance: 10_000 - 750, reserved: 150, available: 10_000 - 900 });
  });

  it('an uninitialized account refuses everything with account_not_found', async () => {
    const a = account(uid());
    expect(await a.charge(chat('k', 1))).toMatchObject({ ok: false, code: 'account_not_found' });
    expect(await a.credit({ type: 'purchase', amount: 1, ref: 'pi' })).toMatchObject({ ok: false, code: 'account_not_found' });
  });
});

describe('housekeeping', () => {
  const WEEK_AND_A_DAY = 8 * 24 * 3600_000;
  const keys = (userId: string) =>
    runInDurableObject(account(userId), (_i, state) => state.storage.sql.exec<{ key: string }>('SELECT key FROM idempotency ORDER BY n').toArray().map((r) => r.key));
  const holds = (userId: string) =>
    runInDurableObject(account(userId), (_i, state) => state.storage.sql.exec<{ id: string }>('SELECT id FROM reservations ORDER BY created_at, id').toArray().map((r) => r.id));

  it('the alarm prunes idempotency answers and closed holds older than a week, and keeps the rest', async () => {
    const userId = await newAccount();
    const a = account(userId);
    const hold = async (key: string) => {
      const h = await a.authorize({ idempotencyKey: key, operation: 'chat', model: 'gpt-4o', estimatedTokens: 100 });
      if (!h.ok) throw new Error(h.code);
      expect(await a.release(h.reservationId)).toMatchObject({ ok: true });
      return h.reservationId;
    };
    expect(await a.charge({ ...chat('old-unbilled', 100), success: false })).toMatchObject({ ok: true, transactionId: null });
    const oldHold = await hold('old-hold');
    const newHold = await hold('new-hold');
    const open = await a.authorize({ idempotencyKey: 'open-hold', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100 });
    if (!open.ok) throw new Error(open.code);
    expect(await keys(userId)).toEqual(['old-unbilled', 'old-hold', `release ${oldHold}`, 'new-hold', `release ${newHold}`, 'open-hold']);
    // Age the first three answers and the first hold past the retention week.
    const old = Date.now() - WEEK_AND_A_DAY;
    await runInDurableObject(a, (_i, state) => {
      state.storage.sql.exec(`UPDATE idempotency SET created_at = ? WHERE n <= 3`, old);
      state.storage.sql.exec(`UPDATE reservations SET created_at = ?, closed_at = ? WHERE id = ?`, old, old, oldHold);
    });
    await runInDurableObject(a, (instance: TokenAccount) => instance.alarm());
    expect(await keys(userId)).toEqual(['new-hold', `release ${newHold}`, 'open-hold']);
    expect((await holds(userId)).sort()).toEqual([newHold, open.reservationId].sort());
    // A second run finds nothing more to prune.
    await runInDurableObject(a, (instance: TokenAccount) => instance.alarm());
    expect(await keys(userId)).toEqual(['new-hold', `release ${newHold}`, 'open-hold']);
    // The pruned key is free again; the kept one still replays.
    expect(await a.authorize({ idempotencyKey: 'new-hold', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100 })).toMatchObject({ ok: true, reservationId: newHold });
  });

  it('an object stored at schema version 1 gains the indexes of the later steps when it next starts', async () => {
    const userId = await newAccount();
    const indexes = (id: string) =>
      runInDurableObject(account(id), (_i, state) => ({
        names: state.storage.sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('reservations_closed', 'recharge_attempts_unsynced', 'ledger_refunds') ORDER BY name`).toArray().map((r) => r.name),
        version: state.storage.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`).one().value,
      }));
    expect(await indexes(userId)).toEqual({ names: ['ledger_refunds', 'recharge_attempts_unsynced', 'reservations_closed'], version: String(ACCOUNT_SCHEMA_VERSION) });
    await runInDurableObject(account(userId), (_i, state) => {
      state.storage.sql.exec(`DROP INDEX reservations_closed`);
      state.storage.sql.exec(`DROP INDEX recharge_attempts_unsynced`);
      state.storage.sql.exec(`DROP INDEX ledger_refunds`);
      // Step 4's recharge columns (create-then-confirm) did not exist at version 1 either.
      state.storage.sql.exec(`ALTER TABLE recharge_attempts DROP COLUMN params`);
      state.storage.sql.exec(`ALTER TABLE recharge_attempts DROP COLUMN confirms`);
      // Nor step 5's spend limits and API key columns.
      state.storage.sql.exec(`DROP TABLE spend_limits`);
      for (const table of ['ledger', 'usage', 'reservations']) state.storage.sql.exec(`ALTER TABLE ${table} DROP COLUMN api_key_id`);
      // Nor step 6's price-book columns (issue 10).
      for (const table of ['ledger', 'usage']) {
        for (const c of ['cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens', 'price_version', 'provider_cost_micros']) state.storage.sql.exec(`ALTER TABLE ${table} DROP COLUMN ${c}`);
      }
      // Nor step 7's alerts.
      state.storage.sql.exec(`DROP TABLE alerts`);
      // Nor step 8's grants (issue 11).
      state.storage.sql.exec(`DROP TABLE grants`);
      state.storage.sql.exec(`DELETE FROM meta WHERE key IN ('grant_seq', 'grant_debt')`);
      // Nor step 9's target-recharge columns.
      for (const c of ['ar_mode', 'ar_target', 'ar_tokens_per_usd', 'ar_min_cents']) state.storage.sql.exec(`ALTER TABLE account DROP COLUMN ${c}`);
      // (Step 10's grants.noticed_at went with the grants table.) Nor step 11's hold expiry policy.
      for (const c of ['on_expiry', 'priced']) state.storage.sql.exec(`ALTER TABLE reservations DROP COLUMN ${c}`);
      state.storage.sql.exec(`UPDATE meta SET value = '1' WHERE key = 'schema_version'`);
    });
    expect(await indexes(userId)).toEqual({ names: [], version: '1' });
    await abortAllDurableObjects();
    expect(await account(userId).getBalance()).toMatchObject({ ok: true, balance: { balance: 10_000 } });
    expect(await indexes(userId)).toEqual({ names: ['ledger_refunds', 'recharge_attempts_unsynced', 'reservations_closed'], version: String(ACCOUNT_SCHEMA_VERSION) });
    // Step 11: a hold can say what happens at its expiry again (and one opened now settles there).
    const held = await account(userId).authorize({ idempotencyKey: 'after-upgrade', operation: 'chat', model: 'gpt-4o', estimatedTokens: 10, onExpiry: 'settle' });
    if (!held.ok) throw new Error(held.code);
    expect(await runInDurableObject(account(userId), (_i, state) => state.storage.sql.exec(`SELECT on_expiry, priced IS NOT NULL AS priced FROM reservations WHERE id = ?`, held.reservationId).one())).toEqual({ on_expiry: 'settle', priced: 1 });
    // The balance from before grants became one paid grant without expiry (I8 holds from the first step on).
    expect(await account(userId).getGrants()).toMatchObject({ ok: true, grants: [{ id: 'opening:balance', category: 'paid', amount: 10_000, remaining: 10_000, expiresAt: null }], debt: 0, balance: 10_000 });
  });
});

describe('refunds', () => {
  it('a refund worth less than a token is recorded with its cents, and the next refund of the payment counts them', async () => {
    const userId = await newAccount();
    const a = account(userId);
    // 10 tokens for $10.00: one token per 100 cents.
    expect(await a.credit({ type: 'purchase', amount: 10, ref: 'pi_small', amountCents: 1_000 })).toMatchObject({ ok: true, duplicate: false });
    const first = await a.refundPayment({ paymentIntentId: 'pi_small', refundId: 're_1', refundedCents: 60 });
    expect(first).toMatchObject({ ok: true, duplicate: false, balance: 10_010 });
    if (!first.ok) throw new Error();
    expect(first.transactionId).toMatch(/^txn_/);
    // 60 + 60 cents = 1.2 tokens' worth: one token comes back now (it would be none if the first 60 were forgotten).
    expect(await a.refundPayment({ paymentIntentId: 'pi_small', refundId: 're_2', refundedCents: 60 })).toMatchObject({ ok: true, duplicate: false, balance: 10_009 });
    // Repeats change nothing and name the entry they made.
    expect(await a.refundPayment({ paymentIntentId: 'pi_small', refundId: 're_1', refundedCents: 60 })).toMatchObject({ ok: true, duplicate: true, transactionId: first.transactionId });
    const refunds = (await a.getLedger()).filter((e) => e.type === 'refund').map(({ amount, amountCents, ref }) => ({ amount, amountCents, ref }));
    expect(refunds).toEqual([
      { amount: 0, amountCents: 60, ref: 'refund:re_1' },
      { amount: -1, amountCents: 60, ref: 'refund:re_2' },
    ]);
    expect((await ledgerSum(userId)).sum).toBe(10_009);
  });
});
