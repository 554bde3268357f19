import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../worker/contracts/settings';
import { balanceView } from '../../../worker/do/account-store';
import { CallThrottle } from '../../../worker/do/call-throttle';
import { authorizeHold, holdExpiry, settleHold } from '../../../worker/do/holds';
import { markDisputeOpen, openDisputes } from '../../../worker/do/disputes';
import { IDEMPOTENCY_RETENTION_MS } from '../../../worker/do/idempotency';
import { findByRef } from '../../../worker/do/ledger-store';
import { LiveAccount, type LiveAccountDeps } from '../../../worker/do/live-account';
import { refundEntry } from '../../../worker/do/refunds';
import { Outbox } from '../../../worker/do/outbox';
import type { PaymentIntents } from '../../../worker/do/recharge-policy';
import type { AccountRow } from '../../../worker/do/rows';
import { AlarmClock, backoffMs, OUTBOX_FLUSH_DELAY_MS, OUTBOX_FLUSH_INTERVAL_MS } from '../../../worker/do/schedule';
import { saveAccountLimits } from '../../../worker/do/spend-limit-changes';
import { SpendLimits } from '../../../worker/do/spend-limits';
import { chat, fundedAccount, SEED, T0 } from '../support/accounts';
import { fakeD1 } from '../support/fake-d1';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';
import { chargeOperation } from '../../../worker/do/usage';

/** Stripe must not be reached in these tests: the recharge machine has its own (auto-recharge.test.ts). */
const noStripe: PaymentIntents = new Proxy({} as PaymentIntents, {
  get: (_, op) => () => Promise.reject(new Error(`Stripe called: ${String(op)}`)),
});

let s: TestStorage;
let clock: number;
let alarms: (number | null)[];
let d1: ReturnType<typeof fakeD1>;
let live: LiveAccount;

/** A LiveAccount over fresh storage (with `extra` deps, if any); the alarm writes land in `alarms` (null: cleared). */
function open(account: AccountRow | null, limits?: SpendLimits, extra: Partial<LiveAccountDeps> = {}): LiveAccount {
  const storage = { setAlarm: async (at: number | Date) => void alarms.push(Number(at)), deleteAlarm: async () => void alarms.push(null) };
  const deps = { sql: s.sql, transaction: s.transaction, alarm: new AlarmClock(storage, null), outbox: new Outbox(s.sql, s.transaction), db: d1 as unknown as D1Database, payments: noStripe, limits, now: () => clock, ...extra };
  return new LiveAccount(deps, account);
}
const funded = (patch: Partial<AccountRow> = {}) => fundedAccount(s, patch);
const stored = () => s.rows<AccountRow>('SELECT * FROM account')[0];

beforeEach(async () => {
  s = await openAccountStorage();
  clock = T0;
  alarms = [];
  d1 = fakeD1();
});

describe('live account', () => {
  it('a commit becomes the current account and only schedules the outbox flush', () => {
    live = open(null);
    const next = funded();
    live.committed(next);
    expect(live.account).toBe(next);
    expect(alarms).toEqual([T0 + OUTBOX_FLUSH_DELAY_MS]);
    expect(d1.batches).toEqual([]);
  });

  it('a commit that leaves the available balance below the threshold schedules a recharge now', () => {
    live = open(funded({ ar_enabled: 1, ar_state: 'armed', ar_threshold: 500, ar_amount: 1_000 }));
    live.patch({ ar_threshold: 2_000 }, true);
    expect(live.account).toMatchObject({ ar_state: 'scheduled', ar_threshold: 2_000 });
    expect(stored()).toMatchObject({ ar_state: 'scheduled', ar_threshold: 2_000 });
    expect(alarms).toEqual([T0 + OUTBOX_FLUSH_DELAY_MS, T0]);
  });

  it('a patch saves the row; null saves nothing; without schedule no alarm is asked for', () => {
    const a = funded();
    live = open(a);
    live.patch(null, true);
    expect(live.account).toBe(a);
    expect(alarms).toEqual([]);
    live.patch({ stripe_customer_id: 'cus_1' }, false);
    expect(live.account).toMatchObject({ stripe_customer_id: 'cus_1', version: a.version + 1 });
    expect(stored()).toMatchObject({ stripe_customer_id: 'cus_1' });
    expect(alarms).toEqual([]);
  });

  it('records a credit, and answers a computed entry: a duplicate or a refusal writes nothing', () => {
    live = open(funded());
    const first = live.record({ type: 'purchase', amount: 500, ref: 'pi_1' });
    expect(first).toMatchObject({ ok: true, duplicate: false, balance: 1_500, status: 'active' });
    expect(live.account!.balance).toBe(1_500);
    const entry = findByRef(s.sql, 'pi_1')!;
    expect(live.recordEntry({ duplicate: entry })).toEqual({ ok: true, transactionId: entry.id, duplicate: true, balance: 1_500, status: 'active' });
    expect(live.recordEntry({ ok: false, code: 'not_found' })).toEqual({ ok: false, code: 'not_found' });
    expect(live.recordEntry({ credit: { type: 'refund', amount: -300, ref: 're_1' } })).toMatchObject({ ok: true, duplicate: false, balance: 1_200 });
    expect(s.rows('SELECT ref, amount FROM ledger ORDER BY seq')).toEqual([
      { ref: 'bonus:welcome', amount: 1_000 },
      { ref: 'pi_1', amount: 500 },
      { ref: 're_1', amount: -300 },
    ]);
  });

  it('credit refuses a malformed request, answers a repeated ref with its first entry, and records a new one', () => {
    live = open(funded());
    expect(live.credit({ type: 'refund', amount: 5, ref: 're_bad' })).toEqual({ ok: false, code: 'bad_request', message: 'refund must take tokens back' });
    const first = live.credit({ type: 'purchase', amount: 500, ref: 'pi_1', isPurchase: true });
    expect(first).toMatchObject({ ok: true, duplicate: false, balance: 1_500, status: 'active' });
    expect(live.credit({ type: 'purchase', amount: 900, ref: 'pi_1' })).toEqual({ ok: true, transactionId: (first as { transactionId: string }).transactionId, duplicate: true, balance: 1_500, status: 'active' });
    expect(s.rows('SELECT ref, amount FROM ledger ORDER BY seq')).toEqual([{ ref: 'bonus:welcome', amount: 1_000 }, { ref: 'pi_1', amount: 500 }]);
    expect(stored()).toMatchObject({ balance: 1_500, last_purchase_at: T0 });
  });

  it("credit of the recharge in flight's PaymentIntent finishes its attempt, crediting once", () => {
    live = open(funded({ ar_enabled: 1, ar_state: 'awaiting_webhook', ar_attempt_id: 'att_1', stripe_customer_id: 'cus_1', default_payment_method_id: 'pm_1' }));
    s.sql.exec(
      `INSERT INTO recharge_attempts (id, idempotency_key, payment_intent_id, status, tokens, amount_cents, error, created_at, updated_at, synced, params, confirms) VALUES ('att_1', 'key_1', 'pi_ar', 'in_flight', 5000, 500, NULL, ?, ?, 0, NULL, 1)`,
      T0,
      T0,
    );
    expect(live.credit({ type: 'auto_recharge', amount: 5_000, ref: 'pi_ar', isPurchase: true })).toMatchObject({ ok: true, duplicate: false, balance: 6_000 });
    expect(live.account).toMatchObject({ ar_state: 'armed', ar_attempt_id: null, balance: 6_000 });
    expect(s.rows('SELECT status FROM recharge_attempts')).toEqual([{ status: 'succeeded' }]);
    expect(s.rows("SELECT count(*) AS n FROM ledger WHERE ref = 'pi_ar'")).toEqual([{ n: 1 }]);
  });

  it('reverseRefund gives back what a refund took, once; a refund never applied changes nothing', () => {
    live = open(funded());
    live.credit({ type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 1_000, isPurchase: true });
    expect(live.reverseRefund('re_never')).toEqual({ ok: true, transactionId: null, duplicate: false, balance: 2_000, status: 'active' });
    expect(live.recordEntry(refundEntry(s.sql, { refundId: 're_1', paymentIntentId: 'pi_1', refundedCents: 500 }))).toMatchObject({ ok: true, balance: 1_500 });
    expect(live.reverseRefund('re_1')).toMatchObject({ ok: true, duplicate: false, balance: 2_000 });
    expect(live.reverseRefund('re_1')).toMatchObject({ ok: true, duplicate: true, balance: 2_000 });
    expect(stored().balance).toBe(2_000);
  });

  it('reactivate lifts a suspension and forgets the open disputes; an active account is left as it is', () => {
    live = open(funded({ status: 'suspended', suspended_reason: 'dispute' }));
    markDisputeOpen(s.sql, 'dp_1');
    live.reactivate();
    expect(stored()).toMatchObject({ status: 'active', suspended_reason: null });
    expect(openDisputes(s.sql)).toEqual([]);
    const before = alarms.length;
    live.reactivate();
    expect(alarms.length).toBe(before);
  });

  it("the recharge host's credit moves tokens once per PaymentIntent", () => {
    live = open(funded());
    live.rechargeHost.credit({ type: 'auto_recharge', amount: 500, ref: 'pi_ar' });
    const again = live.rechargeHost.credit({ type: 'auto_recharge', amount: 500, ref: 'pi_ar' });
    expect(again).toMatchObject({ ref: 'pi_ar', amount: 500 });
    expect(live.account!.balance).toBe(1_500);
    expect(live.settleRecharge('pi_ar', 'succeeded')).toBe(false); // no attempt in flight
  });

  it('a flush sends the outbox to D1, then asks for the alarm only while work is due', async () => {
    live = open(funded());
    expect(live.pending()).toEqual({ ledger: 1, usage: 0, directory: true });
    expect(await live.flush()).toEqual({ ok: true, ledger: 1, usage: 0, remaining: 0 });
    expect(d1.batches).toHaveLength(1);
    expect(live.pending()).toEqual({ ledger: 0, usage: 0, directory: false });
    expect(alarms).toEqual([]);
    d1.down = true;
    live.record({ type: 'purchase', amount: 1, ref: 'pi_2' });
    // A commit right after a flush waits for the flush interval, not the short delay (schedule.ts).
    expect(alarms).toEqual([T0 + OUTBOX_FLUSH_INTERVAL_MS]);
    expect((await live.flush()).ok).toBe(false);
    // A failed flush retries after its backoff (earlier here, so the alarm moves).
    expect(alarms).toEqual([T0 + OUTBOX_FLUSH_INTERVAL_MS, T0 + backoffMs(1)]);
  });

  it('an alarm run expires holds, runs the recharge machine, flushes, prunes old answers, and clears the alarm when nothing is left', async () => {
    live = open(funded({ ar_enabled: 1, ar_threshold: 10, ar_amount: 1_000 }));
    const held = authorizeHold(s.sql, s.transaction, live.account!, SEED, { idempotencyKey: 'hold-1', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100 }, T0);
    live.committed(held.next!);
    live.patch({ ar_state: 'scheduled' }, false); // no card: the machine turns it back to armed without calling Stripe
    expect(live.account!.reserved).toBe(150);
    expect(s.rows('SELECT key FROM idempotency')).toHaveLength(1);
    clock = holdExpiry(T0) + IDEMPOTENCY_RETENTION_MS + 1;
    alarms = [];
    await live.runAlarm();
    expect(live.account).toMatchObject({ reserved: 0, balance: 1_000, ar_state: 'armed' });
    expect(s.rows('SELECT state FROM reservations')).toEqual([{ state: 'expired' }]);
    expect(s.rows('SELECT key FROM idempotency')).toEqual([]);
    expect(live.pending()).toEqual({ ledger: 0, usage: 0, directory: false });
    expect(d1.batches.length).toBeGreaterThan(0);
    // The fallback armed first, then cleared at the end: nothing is due.
    expect(alarms[0]).toBeGreaterThan(clock);
    expect(alarms.at(-1)).toBeNull();
    // A retention period after it closed, the expired hold is pruned too.
    clock += IDEMPOTENCY_RETENTION_MS + 1;
    await live.runAlarm();
    expect(s.rows('SELECT state FROM reservations')).toEqual([]);
  });

  it('holds the alarm expires stop counting against the spend limits', async () => {
    const a = funded();
    s.transaction(() => saveAccountLimits(s.sql, { daily: 1_000, monthly: null, lifetime: null, dailyCeiling: null, monthlyCeiling: null, revokedAt: null }, undefined, T0));
    const limits = new SpendLimits();
    limits.load(s.sql, T0);
    live = open(a, limits);
    const held = authorizeHold(s.sql, s.transaction, a, SEED, { idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100, ttlMs: 1_000 }, T0, limits);
    live.committed(held.next!);
    expect(limits.usage('account', T0)).toMatchObject({ held: 150 });
    clock = T0 + 1_000;
    await live.runAlarm();
    expect(live.account!.reserved).toBe(0);
    expect(limits.usage('account', clock)).toMatchObject({ held: 0 });
  });

  it("a hold the alarm settles at expiry (onExpiry 'settle') is billed once, counted as spent, and sent to D1 with the flush", async () => {
    const a = funded();
    s.transaction(() => saveAccountLimits(s.sql, { daily: 1_000, monthly: null, lifetime: null, dailyCeiling: null, monthlyCeiling: null, revokedAt: null }, undefined, T0));
    const limits = new SpendLimits();
    limits.load(s.sql, T0);
    live = open(a, limits);
    const held = authorizeHold(s.sql, s.transaction, a, SEED, { idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100, ttlMs: 1_000, onExpiry: 'settle' }, T0, limits);
    live.committed(held.next!);
    // A charge on the fast path (no checkpoint: the stored row lags) before the expiry.
    live.apply(chargeOperation(s.sql, s.transaction, live.account!, SEED, { idempotencyKey: 'c', operation: 'chat', model: 'gpt-4o', tokens: 10 }, T0 + 1, limits));
    clock = T0 + 1_000;
    await live.runAlarm();
    await live.runAlarm(); // a second run bills nothing more
    expect(live.account).toMatchObject({ balance: 835, reserved: 0 });
    expect(stored()).toMatchObject({ balance: 835, reserved: 0 });
    expect(s.rows(`SELECT amount, reservation_id FROM ledger WHERE type = 'usage' ORDER BY seq`)).toEqual([
      { amount: -15, reservation_id: null },
      { amount: -150, reservation_id: (held.result as { reservationId: string }).reservationId },
    ]);
    expect(limits.usage('account', clock)).toMatchObject({ day: 165, held: 0 });
    // The flush took the entry: nothing is left for D1.
    expect(live.pending()).toEqual({ ledger: 0, usage: 0, directory: false });
  });

  it('a failed alarm run leaves its fallback armed', async () => {
    live = open(funded());
    live.rechargeHost.setAccount({ ...live.account!, ar_state: 'scheduled' });
    s.db.run('DROP TABLE reservations'); // storage broken mid-run
    await expect(live.runAlarm()).rejects.toThrow();
    expect(alarms).toEqual([T0 + 500]);
  });
});

describe('live account: the steps the facade hands over', () => {
  /** A LiveAccount with a billing-call throttle of `perSecond` (burst 1 s) and the default settings. */
  function throttled(account: AccountRow | null, perSecond: number): LiveAccount {
    const settings = { touch: () => ({ ...DEFAULT_SETTINGS, billingCallsPerSecond: perSecond }), bookAt: () => SEED, current: DEFAULT_SETTINGS };
    return open(account, undefined, { settings, throttle: new CallThrottle(1) });
  }

  it('priced commits the row its step leaves, then schedules the outbox flush', () => {
    live = open(funded());
    const out = live.priced(true, (a, book, now) => chargeOperation(s.sql, s.transaction, a, book, chat('k1', 100), now));
    expect(out.result).toMatchObject({ ok: true });
    const balance = (out.result as { balance: number }).balance;
    expect(balance).toBeLessThan(1_000);
    expect(live.account).toBe(out.next);
    expect(live.account!.balance).toBe(balance);
    expect(alarms).toEqual([T0 + OUTBOX_FLUSH_DELAY_MS]);
  });

  it('priced counts the calls that admit new work against the throttle, before the account check; a settle is never refused', () => {
    live = throttled(null, 1);
    const step = () => {
      throw new Error('no step runs without an account');
    };
    expect(live.priced(true, step).result).toEqual({ ok: false, code: 'account_not_found' });
    expect(live.priced(true, step).result).toMatchObject({ ok: false, code: 'rate_limited' });
    live = throttled(funded(), 1);
    const hold = live.priced(true, (a, book, now) => authorizeHold(s.sql, s.transaction, a, book, { idempotencyKey: 'h1', operation: 'chat' as const, model: 'gpt-4o', estimatedTokens: 100 }, now));
    expect(hold.result).toMatchObject({ ok: true });
    expect(live.priced(true, (a, book, now) => chargeOperation(s.sql, s.transaction, a, book, chat('k1', 10), now)).result).toMatchObject({ ok: false, code: 'rate_limited' });
    const reservationId = (hold.result as { reservationId: string }).reservationId;
    const settled = live.priced(false, (a, book, now) => settleHold(s.sql, s.transaction, a, book, { reservationId, tokens: 50, success: true }, now));
    expect(settled.result).toMatchObject({ ok: true });
    expect(live.account!.reserved).toBe(0);
  });

  it('apply commits an outcome that wrote a row and leaves the account alone when it wrote none', () => {
    const a = funded();
    live = open(a);
    expect(live.apply({ result: { ok: false, code: 'not_found' }, next: null }).next).toBeNull();
    expect(live.account).toBe(a);
    expect(alarms).toEqual([]);
    const next = { ...a, version: a.version + 1 };
    live.apply({ result: { ok: true }, next });
    expect(live.account).toBe(next);
    expect(alarms).toEqual([T0 + OUTBOX_FLUSH_DELAY_MS]);
  });

  it('view answers the balance as callers see it, with the settings in force', () => {
    live = open(funded());
    expect(live.view()).toEqual(balanceView(live.account!, DEFAULT_SETTINGS));
  });

  it('configureAutoRecharge saves the change and runs the after-commit checks; a refusal saves nothing', () => {
    const a = funded();
    live = open(a);
    const config = { enabled: true, threshold: 100, amount: 1_000, priceCents: 1_000, monthlyLimitCents: null };
    expect(live.configureAutoRecharge(config)).toEqual({ ok: false, code: 'no_payment_method' });
    expect(live.account).toBe(a);
    live.patch({ default_payment_method_id: 'pm_1' }, false);
    expect(live.configureAutoRecharge(config)).toBeNull();
    expect(stored()).toMatchObject({ ar_enabled: 1, ar_state: 'armed', ar_threshold: 100 });
    expect(alarms).toEqual([T0 + OUTBOX_FLUSH_DELAY_MS]);
  });
});
