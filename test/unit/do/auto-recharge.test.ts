import { beforeEach, describe, expect, it } from 'vitest';
import { saveAccount } from '../../../worker/do/account-store';
import { AUTO_RECHARGE_MAX_PER_HOUR, capExceeded, monthKey, needsRecharge, rechargeBackoffMs, runAutoRecharge, type PaymentIntents, type RechargeHost, type RechargeIntentParams } from '../../../worker/do/auto-recharge';
import { creditEntry } from '../../../worker/do/credits';
import { appendLedger, findByRef } from '../../../worker/do/ledger-store';
import type { AccountRow, RechargeAttemptRow } from '../../../worker/do/rows';
import type { CreditRequest } from '../../../worker/do/types';
import { storedAccount, T0 } from '../support/accounts';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

/** A fake Stripe: answers from a script, and records every call (parameters and idempotency key). */
function fakeStripe(script: (call: number) => { id: string; status: string } | Error) {
  const calls: { params: RechargeIntentParams; key: string }[] = [];
  const payments: PaymentIntents = {
    create: async (params, opts) => {
      calls.push({ params, key: opts.idempotencyKey });
      const answer = script(calls.length);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return { calls, payments };
}
const stripeError = (type: string, message: string, extra: object = {}) => Object.assign(new Error(message), { type, ...extra });

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

describe('auto-recharge state machine', () => {
  it('success: persists the attempt before calling Stripe, credits once, and is armed again', async () => {
    let persistedBeforeCall: RechargeAttemptRow[] = [];
    const stripe = fakeStripe(() => {
      persistedBeforeCall = attempts();
      return { id: 'pi_1', status: 'succeeded' };
    });
    await runAutoRecharge(host, stripe.payments, T0);
    expect(persistedBeforeCall).toMatchObject([{ status: 'in_flight', tokens: 5_000, amount_cents: 500 }]);
    expect(stripe.calls).toHaveLength(1);
    expect(stripe.calls[0].key).toBe(persistedBeforeCall[0].idempotency_key);
    expect(stripe.calls[0].params).toMatchObject({ amount: 500, currency: 'usd', customer: 'cus_1', payment_method: 'pm_1', off_session: true, confirm: true, metadata: { attemptId: persistedBeforeCall[0].id, kind: 'auto_recharge' } });
    expect(credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
    expect(account).toMatchObject({ balance: 5_000, ar_state: 'armed', ar_idempotency_key: null, ar_window_hour_count: 1, ar_window_month: monthKey(T0), ar_window_month_cents: 500 });
    expect(attempts()).toMatchObject([{ status: 'succeeded', payment_intent_id: 'pi_1' }]);
    expect(afterCommits).toBe(1);
    // A second run has nothing to do: no second payment.
    await runAutoRecharge(host, stripe.payments, T0 + 1);
    expect(stripe.calls).toHaveLength(1);
  });

  it('a 5xx is retried with the same key after a backoff, and credits once when it goes through', async () => {
    const stripe = fakeStripe((n) => (n < 3 ? stripeError('StripeAPIError', 'upstream 500', { statusCode: 500 }) : { id: 'pi_9', status: 'succeeded' }));
    await runAutoRecharge(host, stripe.payments, T0);
    expect(account).toMatchObject({ ar_state: 'in_flight', ar_attempts: 1, ar_next_at: T0 + rechargeBackoffMs(1), ar_last_error: 'retrying: upstream 500' });
    // Not due yet: no call.
    await runAutoRecharge(host, stripe.payments, T0 + rechargeBackoffMs(1) - 1);
    expect(stripe.calls).toHaveLength(1);
    clock = T0 + rechargeBackoffMs(1);
    await runAutoRecharge(host, stripe.payments, clock);
    expect(account).toMatchObject({ ar_attempts: 2, ar_next_at: clock + rechargeBackoffMs(2) });
    clock += rechargeBackoffMs(2);
    await runAutoRecharge(host, stripe.payments, clock);
    expect(stripe.calls).toHaveLength(3);
    expect(new Set(stripe.calls.map((c) => c.key)).size).toBe(1);
    expect(new Set(stripe.calls.map((c) => JSON.stringify(c.params))).size).toBe(1);
    expect(credits()).toEqual([{ amount: 5_000, ref: 'pi_9' }]);
    expect(attempts()).toHaveLength(1);
    expect(account.ar_state).toBe('armed');
  });

  it('a card error turns auto-recharge off with the reason, and credits nothing', async () => {
    const stripe = fakeStripe(() => stripeError('StripeCardError', 'Your card was declined.', { code: 'card_declined', decline_code: 'insufficient_funds' }));
    await runAutoRecharge(host, stripe.payments, T0);
    expect(account).toMatchObject({ ar_enabled: 0, ar_state: 'off', ar_idempotency_key: null, ar_last_error: 'Your card was declined. (card_declined: insufficient_funds)' });
    expect(attempts()).toMatchObject([{ status: 'failed', error: 'Your card was declined. (card_declined: insufficient_funds)' }]);
    expect(credits()).toEqual([]);
    await runAutoRecharge(host, stripe.payments, T0 + 60_000);
    expect(stripe.calls).toHaveLength(1);
  });

  it('a payment that needs the customer (requires_action) stops too', async () => {
    await runAutoRecharge(host, fakeStripe(() => ({ id: 'pi_3ds', status: 'requires_action' })).payments, T0);
    expect(account).toMatchObject({ ar_state: 'off', ar_last_error: 'payment requires_action' });
    expect(attempts()).toMatchObject([{ status: 'failed', payment_intent_id: 'pi_3ds' }]);
  });

  it('the hourly cap: the fourth recharge in an hour is refused without calling Stripe, and the account stays armed', async () => {
    const stripe = fakeStripe((n) => ({ id: `pi_${n}`, status: 'succeeded' }));
    for (let i = 0; i < AUTO_RECHARGE_MAX_PER_HOUR; i++) {
      await runAutoRecharge(host, stripe.payments, T0 + i * 60_000);
      account = s.transaction(() => saveAccount(s.sql, account, { ar_state: 'scheduled' }, T0));
    }
    await runAutoRecharge(host, stripe.payments, T0 + 10 * 60_000);
    expect(stripe.calls).toHaveLength(AUTO_RECHARGE_MAX_PER_HOUR);
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
    const stripe = fakeStripe(() => ({ id: 'pi_x', status: 'succeeded' }));
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
    expect(needsRecharge({ ...armed, ar_state: 'in_flight' })).toBe(false);
  });
});
