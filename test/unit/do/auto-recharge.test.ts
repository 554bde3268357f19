import { beforeEach, describe, expect, it } from 'vitest';
import { saveAccount } from '../../../worker/do/account-store';
import { runAutoRecharge, settleRecharge } from '../../../worker/do/auto-recharge';
import { AUTO_RECHARGE_MAX_PER_HOUR, capExceeded, CONFIRM_CARD_MESSAGE, MAX_UNRESOLVED, monthKey, needsRecharge, rechargeConfigRefusal, rechargeOrder, targetRecharge, type RechargeHost } from '../../../worker/do/recharge-policy';
import { creditEntry } from '../../../worker/do/credits';
import { appendLedger, findByRef, loadAccount } from '../../../worker/do/ledger-store';
import type { AccountRow, RechargeAttemptRow } from '../../../worker/do/rows';
import type { CreditRequest } from '../../../worker/do/types';
import { storedAccount, T0 } from '../support/accounts';
import { fakeStripe as makeFakeStripe } from '../support/fake-stripe';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

/** The shared fake Stripe (test/unit/support/fake-stripe.ts) on this file's clock. */
const fakeStripe = (opts: Parameters<typeof makeFakeStripe>[1] = {}) => makeFakeStripe(() => clock, opts);

let s: TestStorage;
let account: AccountRow;
let clock: number;
let afterCommits: number;
let host: RechargeHost;

beforeEach(async () => {
  s = await openAccountStorage();
  clock = T0;
  afterCommits = 0;
  const a = storedAccount(s);
  account = s.transaction(() => saveAccount(s.sql, a, { stripe_customer_id: 'cus_1', default_payment_method_id: 'pm_1', ar_enabled: 1, ar_state: 'scheduled', ar_threshold: 100, ar_amount: 5_000, ar_price_cents: 500 }, T0));
  host = {
    sql: s.sql,
    transaction: s.transaction,
    account: () => account,
    setAccount: (a) => void (account = a),
    // The facade's credit: at most once per ref, through the ledger.
    credit: (req: CreditRequest) => {
      if (findByRef(s.sql, req.ref)) return;
      const { draft, opts } = creditEntry(req, clock);
      account = s.transaction(() => appendLedger(s.sql, account, draft, opts)!.account);
    },
    afterCommit: () => void afterCommits++,
    requestAlarm: () => undefined,
    now: () => clock,
  };
});

const attempts = () => s.rows<RechargeAttemptRow>('SELECT * FROM recharge_attempts ORDER BY created_at, id');
const credits = () => s.rows<{ amount: number; ref: string }>(`SELECT amount, ref FROM ledger WHERE type = 'auto_recharge'`);

/** Runs the alarm at the clock, then moves the clock to the account's next due time. */
async function runAt(stripe: ReturnType<typeof fakeStripe>) {
  await runAutoRecharge(host, stripe.payments, clock);
  if (account.ar_next_at !== null && account.ar_next_at > clock) clock = account.ar_next_at;
}

describe('auto-recharge state machine', () => {
  it('success: persists the attempt and its exact params, creates unconfirmed, persists the id, confirms, credits once, armed again', async () => {
    const stripe = fakeStripe();
    let beforeCreate: (RechargeAttemptRow & { params: string })[] = [];
    let stateAtConfirm: { state: string; pi: string | null } | null = null;
    const create = stripe.payments.create;
    const confirm = stripe.payments.confirm;
    stripe.payments.create = async (p, o) => ((beforeCreate = attempts() as never), create(p, o));
    stripe.payments.confirm = async (id, p, o) => ((stateAtConfirm = { state: account.ar_state, pi: attempts()[0].payment_intent_id }), confirm(id, p, o));
    await runAutoRecharge(host, stripe.payments, T0);
    expect(beforeCreate).toMatchObject([{ status: 'in_flight', tokens: 5_000, amount_cents: 500, payment_intent_id: null }]);
    expect(JSON.parse(beforeCreate[0].params)).toEqual(stripe.calls[0].params);
    expect(stripe.calls[0].key).toBe(beforeCreate[0].idempotency_key);
    expect(stripe.calls[0].params).toMatchObject({ amount: 500, currency: 'usd', customer: 'cus_1', payment_method: 'pm_1', metadata: { attemptId: beforeCreate[0].id, kind: 'auto_recharge' } });
    expect(stripe.calls[0].params).not.toHaveProperty('confirm');
    expect(stateAtConfirm).toEqual({ state: 'confirming', pi: 'pi_1' });
    expect(stripe.calls.map((c) => c.op)).toEqual(['create', 'confirm']);
    expect(stripe.calls[1]).toMatchObject({ id: 'pi_1', params: { off_session: true } });
    expect(credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
    expect(account).toMatchObject({ balance: 5_000, ar_state: 'armed', ar_idempotency_key: null, ar_window_hour_count: 1, ar_window_month: monthKey(T0), ar_window_month_cents: 500 });
    expect(attempts()).toMatchObject([{ status: 'succeeded', payment_intent_id: 'pi_1' }]);
    expect(afterCommits).toBe(1);
    await runAutoRecharge(host, stripe.payments, T0 + 1);
    expect(stripe.calls).toHaveLength(2);
  });

  it('a 500 on confirm after the payment went through is resolved by retrieving the PaymentIntent: one payment, one credit', async () => {
    const stripe = fakeStripe({ faults: { confirm: ['after'] } });
    await runAt(stripe);
    expect(account).toMatchObject({ ar_state: 'confirming', ar_attempts: 1, ar_last_error: 'retrying: upstream 500' });
    expect(credits()).toEqual([]);
    await runAt(stripe);
    expect(stripe.calls.map((c) => c.op)).toEqual(['create', 'confirm', 'retrieve']);
    expect(credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
    expect(stripe.charged()).toHaveLength(1);
    expect(account.ar_state).toBe('armed');
  });

  it('a 500 on confirm before anything happened: retrieve shows requires_confirmation, confirmed again with a new key', async () => {
    const stripe = fakeStripe({ faults: { confirm: ['before'] } });
    await runAt(stripe);
    await runAt(stripe);
    const confirms = stripe.calls.filter((c) => c.op === 'confirm');
    expect(confirms).toHaveLength(2);
    expect(confirms[0].key).not.toBe(confirms[1].key);
    expect(credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
    expect(stripe.charged()).toHaveLength(1);
  });

  it('a crash between create and persisting its id: the next run lists the customer\'s PaymentIntents and finds it by attempt id', async () => {
    const stripe = fakeStripe();
    const create = stripe.payments.create;
    stripe.payments.create = async (p, o) => {
      await create(p, o);
      return new Promise<never>(() => undefined); // the object is reset: the answer never arrives
    };
    void runAutoRecharge(host, stripe.payments, T0);
    await new Promise((r) => setTimeout(r, 10));
    // A new instance reads the account from storage.
    account = loadAccount(s.sql)!;
    expect(account).toMatchObject({ ar_state: 'creating', ar_attempts: 1 });
    stripe.payments.create = create;
    await runAt(stripe);
    expect(stripe.calls.map((c) => c.op)).toEqual(['create', 'list', 'confirm']);
    expect(attempts()).toMatchObject([{ status: 'succeeded', payment_intent_id: 'pi_1' }]);
    expect(stripe.intents.size).toBe(1);
  });

  it('the lost PaymentIntent is found past the first page of the list (newer PaymentIntents of the customer in front)', async () => {
    const stripe = fakeStripe({ faults: { create: ['after'] } });
    await runAt(stripe);
    // 150 newer PaymentIntents of the same customer (other payments) push pi_1 to the second page of 100.
    for (let i = 0; i < 150; i++) stripe.other(`pi_other_${i}`);
    await runAt(stripe);
    const lists = stripe.calls.filter((c) => c.op === 'list').map((c) => c.params as { limit: number; starting_after?: string });
    expect(lists).toEqual([expect.objectContaining({ limit: 100 }), expect.objectContaining({ limit: 100, starting_after: 'pi_other_50' })]);
    expect(lists[0]).not.toHaveProperty('starting_after');
    expect(stripe.count('create')).toBe(1);
    expect(credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });

  it('a 500 on create that lost a created PaymentIntent: found by listing, never a second one', async () => {
    const stripe = fakeStripe({ faults: { create: ['after'] } });
    await runAt(stripe);
    await runAt(stripe);
    expect(stripe.count('create')).toBe(1);
    expect(stripe.intents.size).toBe(1);
    expect(credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });

  it('a creation that never happened: resent with the same key and byte-identical params, then given up for a new attempt with a new key', async () => {
    const stripe = fakeStripe({ faults: { create: ['before', 'before', 'before'] } });
    await runAt(stripe); // send 1
    await runAt(stripe); // list, send 2 (same key: the first answer was not saved... here a replay of a 500)
    const first = attempts()[0];
    await runAt(stripe); // list, send 3
    await runAt(stripe); // list: give up → a new attempt, new key, which goes through
    const creates = stripe.calls.filter((c) => c.op === 'create');
    expect(creates.slice(0, 3).map((c) => c.key)).toEqual([first.idempotency_key, first.idempotency_key, first.idempotency_key]);
    expect(new Set(creates.slice(0, 3).map((c) => JSON.stringify(c.params))).size).toBe(1);
    expect(creates[3].key).not.toBe(first.idempotency_key);
    expect(attempts().map((a) => a.status)).toEqual(['failed', 'succeeded']);
    expect(credits()).toHaveLength(1);
    expect(stripe.charged()).toHaveLength(1);
  });

  it('key expiry after 24 h never causes a second charge: the lost confirm is retrieved, not replayed', async () => {
    const stripe = fakeStripe({ faults: { confirm: ['after'] } });
    await runAt(stripe);
    clock += 25 * 3600_000; // Stripe pruned the keys
    await runAt(stripe);
    expect(stripe.charged()).toHaveLength(1);
    expect(stripe.count('create')).toBe(1);
    expect(credits()).toHaveLength(1);
  });

  it('key expiry after 24 h with the creation in doubt: the list finds it; the key is never resent', async () => {
    const stripe = fakeStripe({ faults: { create: ['after'] } });
    await runAt(stripe);
    clock += 25 * 3600_000;
    await runAt(stripe);
    expect(stripe.count('create')).toBe(1);
    expect(stripe.intents.size).toBe(1);
    expect(credits()).toHaveLength(1);
  });

  it('past 24 h and not found, the old key is not resent: a new attempt with a new key', async () => {
    const stripe = fakeStripe({ faults: { create: ['before'] } });
    await runAt(stripe);
    const first = attempts()[0];
    clock += 25 * 3600_000;
    await runAt(stripe);
    const creates = stripe.calls.filter((c) => c.op === 'create');
    expect(creates).toHaveLength(2);
    expect(creates[1].key).not.toBe(first.idempotency_key);
    expect(stripe.charged()).toHaveLength(1);
  });

  it('a card error turns auto-recharge off with the reason, and credits nothing', async () => {
    const stripe = fakeStripe({ faults: { confirm: ['card'] } });
    await runAt(stripe);
    expect(account).toMatchObject({ ar_enabled: 0, ar_state: 'off', ar_idempotency_key: null, ar_last_error: 'Your card was declined. (card_declined: insufficient_funds)' });
    expect(attempts()).toMatchObject([{ status: 'failed', payment_intent_id: 'pi_1', error: 'Your card was declined. (card_declined: insufficient_funds)' }]);
    expect(credits()).toEqual([]);
    await runAutoRecharge(host, stripe.payments, clock + 60_000);
    expect(stripe.calls).toHaveLength(2);
  });

  it('authentication_required and requires_action stop with a message telling the user to confirm their card', async () => {
    await runAt(fakeStripe({ faults: { confirm: ['auth'] } }));
    expect(account).toMatchObject({ ar_state: 'off', ar_last_error: expect.stringContaining(CONFIRM_CARD_MESSAGE) });
    expect(account.ar_last_error).toContain('authentication_required');
    account = s.transaction(() => saveAccount(s.sql, account, { ar_enabled: 1, ar_state: 'scheduled' }, clock));
    await runAt(fakeStripe({ confirmStatus: 'requires_action' }));
    expect(account).toMatchObject({ ar_state: 'off', ar_last_error: `${CONFIRM_CARD_MESSAGE} (payment requires_action)` });
    expect(attempts().map((a) => a.status)).toEqual(['failed', 'failed']);
  });

  it('processing (a bank debit) waits for the webhook, polls by retrieve, and credits once when it succeeds', async () => {
    const stripe = fakeStripe({ confirmStatus: 'processing' });
    await runAt(stripe);
    expect(account).toMatchObject({ ar_state: 'awaiting_webhook', ar_enabled: 1 });
    expect(account.ar_next_at).toBeGreaterThanOrEqual(T0 + 60_000);
    await runAt(stripe); // still processing
    expect(account.ar_state).toBe('awaiting_webhook');
    stripe.intents.get('pi_1')!.status = 'succeeded';
    await runAt(stripe);
    expect(credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
    expect(account.ar_state).toBe('armed');
  });

  it('the webhook settles a waiting recharge (settleRecharge); another PaymentIntent changes nothing', async () => {
    const stripe = fakeStripe({ confirmStatus: 'processing' });
    await runAt(stripe);
    expect(settleRecharge(host, 'pi_other', 'succeeded')).toBe(false);
    expect(settleRecharge(host, 'pi_1', 'requires_payment_method', 'The bank account was closed.')).toBe(true);
    expect(account).toMatchObject({ ar_state: 'off', ar_last_error: 'The bank account was closed.' });
    expect(credits()).toEqual([]);
  });

  it('a `processing` webhook for the waiting recharge changes nothing; the succeeded one credits it once', async () => {
    const stripe = fakeStripe({ confirmStatus: 'processing' });
    await runAt(stripe);
    expect(account.ar_state).toBe('awaiting_webhook');
    expect(settleRecharge(host, 'pi_1', 'processing')).toBe(false);
    expect(account.ar_state).toBe('awaiting_webhook');
    expect(attempts()).toMatchObject([{ status: 'in_flight', payment_intent_id: 'pi_1' }]);
    expect(settleRecharge(host, 'pi_1', 'succeeded')).toBe(true);
    expect(credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
    expect(account.ar_state).toBe('armed');
    // Nothing is in flight any more: a late duplicate changes nothing.
    expect(settleRecharge(host, 'pi_1', 'succeeded')).toBe(false);
  });

  it('without a Stripe customer, or while the account is suspended, a scheduled recharge goes back to armed without calling Stripe', async () => {
    const stripe = fakeStripe();
    account = s.transaction(() => saveAccount(s.sql, account, { stripe_customer_id: null }, T0));
    await runAutoRecharge(host, stripe.payments, T0);
    expect(account.ar_state).toBe('armed');
    account = s.transaction(() => saveAccount(s.sql, account, { stripe_customer_id: 'cus_1', ar_state: 'scheduled', status: 'suspended' }, T0));
    await runAutoRecharge(host, stripe.payments, T0);
    expect(account.ar_state).toBe('armed');
    expect(stripe.calls).toHaveLength(0);
    expect(attempts()).toEqual([]);
  });

  it('a debit that fails after processing turns auto-recharge off with the reason', async () => {
    const stripe = fakeStripe({ confirmStatus: 'processing' });
    await runAt(stripe);
    Object.assign(stripe.intents.get('pi_1')!, { status: 'requires_payment_method', last_payment_error: { code: 'insufficient_funds', message: 'The account has insufficient funds.' } });
    await runAt(stripe);
    expect(account).toMatchObject({ ar_state: 'off', ar_last_error: 'The account has insufficient funds. (insufficient_funds)' });
  });

  it('Stripe unreachable while resolving: bounded retries, then off with a reason an admin can see', async () => {
    const stripe = fakeStripe({ faults: { confirm: ['before'], retrieve: Array(MAX_UNRESOLVED + 2).fill('before') } });
    for (let i = 0; i < MAX_UNRESOLVED + 2 && account.ar_state !== 'off'; i++) await runAt(stripe);
    expect(account).toMatchObject({ ar_state: 'off', ar_last_error: expect.stringContaining('check this payment in Stripe') });
    expect(attempts()).toMatchObject([{ status: 'failed', payment_intent_id: 'pi_1' }]);
    expect(stripe.count('retrieve')).toBeLessThanOrEqual(MAX_UNRESOLVED);
  });

  it('a price under Stripe\'s 50¢ minimum is refused', () => {
    expect(rechargeConfigRefusal({ enabled: true, priceCents: 49 })).toMatchObject({ ok: false, code: 'bad_request', message: expect.stringContaining('$0.50') });
    expect(rechargeConfigRefusal({ enabled: true, priceCents: 50 })).toBeNull();
    expect(rechargeConfigRefusal({ enabled: false, priceCents: 0 })).toBeNull();
  });

  it('the hourly cap: the fourth recharge in an hour is refused without calling Stripe, and the account stays armed', async () => {
    const stripe = fakeStripe();
    for (let i = 0; i < AUTO_RECHARGE_MAX_PER_HOUR; i++) {
      clock = T0 + i * 60_000;
      await runAutoRecharge(host, stripe.payments, clock);
      account = s.transaction(() => saveAccount(s.sql, account, { ar_state: 'scheduled' }, T0));
    }
    clock = T0 + 10 * 60_000;
    await runAutoRecharge(host, stripe.payments, clock);
    expect(stripe.count('create')).toBe(AUTO_RECHARGE_MAX_PER_HOUR);
    expect(account).toMatchObject({ ar_state: 'armed', ar_last_error: `hourly cap reached (${AUTO_RECHARGE_MAX_PER_HOUR} recharges per hour)` });
    expect(attempts().filter((a) => a.status === 'failed')).toHaveLength(1);
    // An hour after the window opened, it may go again.
    expect(capExceeded(account, T0 + 3600_000)).toBeNull();
  });

  it('the monthly cap counts this month only', () => {
    const a = { ...account, ar_monthly_limit_cents: 1_000, ar_window_month: monthKey(T0), ar_window_month_cents: 600 };
    expect(capExceeded(a, T0)).toBe('monthly limit reached ($10.00)');
    expect(capExceeded(a, Date.UTC(2026, 11, 2))).toBeNull();
  });

  it('without a card, or disabled, a scheduled recharge goes back to armed or off without calling Stripe', async () => {
    const stripe = fakeStripe();
    account = s.transaction(() => saveAccount(s.sql, account, { default_payment_method_id: null }, T0));
    await runAutoRecharge(host, stripe.payments, T0);
    expect(account.ar_state).toBe('armed');
    account = s.transaction(() => saveAccount(s.sql, account, { ar_state: 'scheduled', ar_enabled: 0 }, T0));
    await runAutoRecharge(host, stripe.payments, T0);
    expect(account.ar_state).toBe('off');
    expect(stripe.calls).toHaveLength(0);
  });

  it('needsRecharge: armed, active and available below the threshold', () => {
    const armed = { ...account, ar_state: 'armed' as const, balance: 150, reserved: 100 };
    expect(needsRecharge(armed)).toBe(true);
    expect(needsRecharge({ ...armed, reserved: 0 })).toBe(false);
    expect(needsRecharge({ ...armed, status: 'suspended' })).toBe(false);
    expect(needsRecharge({ ...armed, ar_state: 'confirming' })).toBe(false);
  });
});

describe('auto-recharge to a target (mode: "target")', () => {
  it('the arithmetic: what tops available up to the target, rounded up to a cent and to the minimum purchase, and every token that price buys', () => {
    // 10,000 tokens per USD (100 per cent), minimum purchase $5.00.
    expect(targetRecharge(2_000, 150_000, 10_000, 500)).toEqual({ tokens: 148_000, priceCents: 1_480 });
    // 148,001 tokens need 1,480.01 cents: 1,481 cents, which buy 148,100 tokens (never fewer than needed).
    expect(targetRecharge(1_999, 150_000, 10_000, 500)).toEqual({ tokens: 148_100, priceCents: 1_481 });
    // Below the minimum purchase: the minimum, and all it buys.
    expect(targetRecharge(149_000, 150_000, 10_000, 500)).toEqual({ tokens: 50_000, priceCents: 500 });
    // A negative available balance (a settle above its hold) is topped up too.
    expect(targetRecharge(-1_000, 150_000, 10_000, 500)).toEqual({ tokens: 151_000, priceCents: 1_510 });
    // 3 tokens per USD: 10 tokens cost 333.33… cents → 334 cents → 10.02 → 10 tokens.
    expect(targetRecharge(0, 10, 3, 50)).toEqual({ tokens: 10, priceCents: 334 });
    // Nothing needed: no recharge.
    expect(targetRecharge(150_000, 150_000, 10_000, 500)).toBeNull();
    // Extreme settings stay exact (cents × rate beyond 2^53).
    expect(targetRecharge(0, 100_000_000, 1_000_000_000, 100_000_000)).toEqual({ tokens: 1_000_000_000_000_000, priceCents: 100_000_000 });
    for (let i = 0; i < 2_000; i++) {
      const rate = 1 + ((i * 7919) % 50_000);
      const needed = 1 + ((i * 104_729) % 1_000_000);
      const r = targetRecharge(0, needed, rate, 50)!;
      expect(r.tokens).toBeGreaterThanOrEqual(needed);
      expect(r.priceCents === 50 || Math.floor(((r.priceCents - 1) * rate) / 100) < needed).toBe(true); // one cent less would not have been enough
    }
  });

  it('the machine buys the top-up for the available balance when it starts, within the same monthly cap', async () => {
    account = s.transaction(() => saveAccount(s.sql, account, { ar_mode: 'target', ar_target: 150_000, ar_tokens_per_usd: 10_000, ar_min_cents: 500, ar_amount: 0, ar_price_cents: 1_500, reserved: 0 }, T0));
    expect(rechargeOrder(account)).toEqual({ tokens: 150_000, priceCents: 1_500 });
    const stripe = fakeStripe();
    await runAutoRecharge(host, stripe.payments, T0);
    expect(stripe.calls[0].params).toMatchObject({ amount: 1_500, description: 'Auto-recharge: 150000 tokens', metadata: { tokens: '150000', kind: 'auto_recharge' } });
    expect(credits()).toEqual([{ amount: 150_000, ref: 'pi_1' }]);
    expect(attempts()).toMatchObject([{ status: 'succeeded', tokens: 150_000, amount_cents: 1_500 }]);
    expect(account).toMatchObject({ ar_state: 'armed', balance: 150_000, ar_window_month_cents: 1_500 });
    // The monthly cap counts what each top-up costs.
    expect(capExceeded({ ...account, ar_monthly_limit_cents: 2_000, ar_price_cents: rechargeOrder({ ...account, balance: 0 })!.priceCents }, T0)).toBe('monthly limit reached ($20.00)');
  });

  it('a scheduled top-up that is no longer needed goes back to armed without a payment', async () => {
    account = s.transaction(() => appendLedger(s.sql, account, { type: 'admin_grant', amount: 200_000, ref: 'grant:x', description: 'grant', createdAt: T0 })!.account);
    account = s.transaction(() => saveAccount(s.sql, account, { ar_mode: 'target', ar_target: 150_000, ar_tokens_per_usd: 10_000, ar_min_cents: 500 }, T0));
    const stripe = fakeStripe();
    await runAutoRecharge(host, stripe.payments, T0);
    expect(stripe.calls).toEqual([]);
    expect(account.ar_state).toBe('armed');
  });
});

describe('alerts for the operator (worker/do/alerts.ts)', () => {
  const alerts = () => s.rows<{ type: string; data: string }>(`SELECT type, data FROM alerts ORDER BY n`).map((r) => ({ type: r.type, data: JSON.parse(r.data) }));

  it('a recharge that succeeds emits recharge.succeeded once, with the attempt that ended', async () => {
    const stripe = fakeStripe();
    await runAutoRecharge(host, stripe.payments, T0);
    const attemptId = attempts()[0].id;
    expect(alerts()).toEqual([{ type: 'recharge.succeeded', data: { attemptId, paymentIntentId: 'pi_1', tokens: 5_000, amountCents: 500, balance: 5_000 } }]);
    // A late webhook for the same PaymentIntent, and another alarm run: nothing more.
    settleRecharge(host, 'pi_1', 'succeeded');
    await runAutoRecharge(host, stripe.payments, T0 + 1);
    expect(alerts()).toHaveLength(1);
  });

  it('a recharge that fails emits recharge.failed with the reason the page shows', async () => {
    const stripe = fakeStripe({ faults: { confirm: ['card'] } });
    await runAt(stripe);
    expect(alerts()).toEqual([{ type: 'recharge.failed', data: { attemptId: attempts()[0].id, paymentIntentId: 'pi_1', reason: 'Your card was declined. (card_declined: insufficient_funds)' } }]);
  });
});
