/**
 * The auto-recharge state machine (worker/do/auto-recharge.ts) at the edges the main-path tests
 * (auto-recharge.test.ts) leave open, each found as a surviving mutant (issue 9,
 * docs/reliability.md): when a run waits and when it goes on, the caps at their edges, the
 * reasons it gives when it stops, webhooks that finish an attempt while Stripe is answering, the
 * list that finds a creation in doubt, and overlapping alarm runs.
 */
import { describe, expect, it } from 'vitest';
import { RechargeRunner, runAutoRecharge, settleRecharge } from '../../../worker/do/auto-recharge';
import { loadAccount } from '../../../worker/do/ledger-store';
import { CONFIRM_CARD_MESSAGE, IDEMPOTENCY_WINDOW_MS, MAX_PROCESSING_MS, MAX_UNRESOLVED, type PaymentIntents } from '../../../worker/do/recharge-policy';
import type { AccountRow } from '../../../worker/do/rows';
import { OUTBOX_FLUSH_DELAY_MS } from '../../../worker/do/schedule';
import { T0 } from '../support/accounts';
import type { FakeStripe } from '../support/fake-stripe';
import { RechargeBench } from '../support/recharge-bench';

const ops = (stripe: FakeStripe) => stripe.calls.map((c) => c.op);
const MINUTE = 60_000;
const HOUR = 3600_000;

/** Runs `meanwhile` after Stripe has answered `op` and before the machine sees the answer (the input gate is open during the call). */
function duringCall(stripe: FakeStripe, op: keyof PaymentIntents, meanwhile: () => void): void {
  const real = stripe.payments[op] as (...args: unknown[]) => Promise<unknown>;
  (stripe.payments as unknown as Record<string, unknown>)[op] = (...args: unknown[]) =>
    real(...args).then(
      (answer) => (meanwhile(), answer),
      (err) => {
        meanwhile();
        throw err;
      },
    );
}

/** A recharge scheduled again at `at` (a charge crossed the threshold), then the alarm. */
async function rechargeAt(b: RechargeBench, stripe: FakeStripe, at: number): Promise<void> {
  b.clock = at;
  b.save({ ar_state: 'scheduled' });
  await b.run(stripe);
}

describe('a run goes as far as it can now, and no further', () => {
  it('a retry that is not due yet calls nothing: the machine waits its backoff (2 s after the first failure)', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { confirm: ['after'] } });
    await b.run(stripe);
    expect(b.account).toMatchObject({ ar_state: 'confirming', ar_attempts: 1, ar_next_at: T0 + 2_000, ar_last_error: 'retrying: upstream 500' });
    b.clock = T0 + 1_999;
    await b.run(stripe);
    expect(ops(stripe)).toEqual(['create', 'confirm']);
    b.clock = T0 + 2_000;
    await b.run(stripe);
    expect(ops(stripe)).toEqual(['create', 'confirm', 'retrieve']);
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });

  it('a 500 on create backs off and says it is retrying; the next run looks for the PaymentIntent before sending again', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { create: ['before'] } });
    await b.run(stripe);
    expect(b.account).toMatchObject({ ar_state: 'creating', ar_attempts: 1, ar_next_at: T0 + 2_000, ar_last_error: 'retrying: upstream 500' });
    await b.runAt(stripe);
    await b.runAt(stripe);
    expect(ops(stripe)).toEqual(['create', 'list', 'create', 'confirm']);
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });

  it('a creation Stripe refuses (400: a parameter fails validation) turns auto-recharge off with Stripe\'s reason and is never resent', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { create: ['invalid'] } });
    await b.run(stripe);
    expect(b.account).toMatchObject({ ar_enabled: 0, ar_state: 'off', ar_attempt_id: null, ar_last_error: 'Amount must be at least $0.50 usd (amount_too_small)' });
    expect(b.attempts()).toMatchObject([{ status: 'failed', payment_intent_id: null, error: 'Amount must be at least $0.50 usd (amount_too_small)' }]);
    b.clock += HOUR;
    await b.run(stripe);
    expect(ops(stripe)).toEqual(['create']);
  });

  it('one run does at most four steps; a refused confirmation (400) is looked at again at once, and after three confirmations the machine stops and says so', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { confirm: ['invalid', 'invalid', 'invalid'] } });
    await b.run(stripe);
    // start, create, confirm (400: retrieve now), retrieve + confirm: four steps, then the run ends.
    expect(ops(stripe)).toEqual(['create', 'confirm', 'retrieve', 'confirm']);
    expect(b.account).toMatchObject({ ar_state: 'confirming', ar_next_at: T0, ar_last_error: 'retrying: Received unknown parameter: mandate_data (parameter_unknown)' });
    await b.run(stripe);
    expect(ops(stripe).slice(4)).toEqual(['retrieve', 'confirm', 'retrieve']);
    expect(b.account).toMatchObject({ ar_enabled: 0, ar_state: 'off', ar_last_error: 'payment pi_1 could not be confirmed after 3 tries' });
    expect(stripe.charged()).toEqual([]);
    expect(b.credits()).toEqual([]);
  });

  it('an object without an account: the alarm and a payment webhook change nothing and call nothing', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe();
    b.account = null as unknown as AccountRow;
    await runAutoRecharge(b.host, stripe.payments, T0);
    expect(settleRecharge(b.host, 'pi_1', 'succeeded')).toBe(false);
    expect(stripe.calls).toEqual([]);
  });

  it('an attempt whose record is missing turns auto-recharge off and says so, without calling Stripe', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe();
    b.save({ ar_state: 'confirming', ar_attempt_id: 'arc_missing', ar_next_at: T0 });
    await b.run(stripe);
    expect(b.account).toMatchObject({ ar_enabled: 0, ar_state: 'off', ar_attempt_id: null, ar_last_error: 'the attempt record is missing' });
    expect(b.alerts()).toEqual([{ type: 'recharge.failed', data: { attemptId: 'arc_missing', paymentIntentId: null, reason: 'the attempt record is missing' } }]);
    expect(stripe.calls).toEqual([]);
  });

  it('auto-recharge turned off before the alarm: a scheduled recharge goes off, card and customer notwithstanding', async () => {
    const b = await RechargeBench.open({ ar_enabled: 0 });
    const stripe = b.stripe();
    await b.run(stripe);
    expect(b.account.ar_state).toBe('off');
    expect(stripe.calls).toEqual([]);
  });

  it('the attempt is dated at the alarm\'s time, the one the caps were checked at', async () => {
    const b = await RechargeBench.open();
    b.clock = T0 + 1_500; // the alarm for T0 runs 1.5 s late
    await runAutoRecharge(b.host, b.stripe().payments, T0);
    expect(b.attempts()).toMatchObject([{ created_at: T0, status: 'succeeded' }]);
    expect(b.account.ar_window_hour_start).toBe(T0);
  });
});

describe('overlapping alarm runs (RechargeRunner)', () => {
  it('a second run waits for the first instead of working the same attempt: one creation, no list; a later run goes on', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ confirmStatus: 'processing' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const create = stripe.payments.create;
    stripe.payments.create = async (p, o) => (await gate, create(p, o));
    const runner = new RechargeRunner(b.host, stripe.payments);
    let secondDone = false;
    const first = runner.run(T0);
    const second = runner.run(T0).then(() => void (secondDone = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(secondDone).toBe(false);
    release();
    await Promise.all([first, second]);
    expect(ops(stripe)).toEqual(['create', 'confirm']);
    expect(b.account.ar_state).toBe('awaiting_webhook');
    // The runner is free again: the next alarm retrieves the debit, which went through.
    stripe.intents.get('pi_1')!.status = 'succeeded';
    b.clock = b.account.ar_next_at!;
    await runner.run(b.clock);
    expect(ops(stripe)).toEqual(['create', 'confirm', 'retrieve']);
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });
});

describe('what a recharge sends and records', () => {
  it('the PaymentIntent as created (card or saved bank account), the ledger entry, and ids an admin can tell apart', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe();
    await b.run(stripe);
    const [attempt] = b.attempts();
    expect(attempt.id).toMatch(/^arc_/);
    expect(stripe.calls[0].params).toEqual({
      amount: 500,
      currency: 'usd',
      customer: 'cus_1',
      payment_method: 'pm_1',
      payment_method_types: ['card', 'us_bank_account'],
      description: 'Auto-recharge: 5000 tokens',
      metadata: { userId: 'user_1', tokens: '5000', kind: 'auto_recharge', attemptId: attempt.id },
    });
    const entries = b.s.rows<{ description: string; metadata: string; amount_cents: number }>(`SELECT description, metadata, amount_cents FROM ledger WHERE type = 'auto_recharge'`);
    expect(entries).toEqual([{ description: 'Auto-recharge of 5000 tokens', metadata: JSON.stringify({ attemptId: attempt.id }), amount_cents: 500 }]);
    // A purchase: it counts as the account's last purchase.
    expect(b.account.last_purchase_at).toBe(T0);
  });

  it('auto-recharge turned off while a debit was processing: the payment is still credited, and the machine ends off, not armed', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ confirmStatus: 'processing' });
    await b.runAt(stripe);
    b.save({ ar_enabled: 0 }); // payment-profile.ts keeps an in-flight state when turned off
    stripe.intents.get('pi_1')!.status = 'succeeded';
    await b.runAt(stripe);
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
    expect(b.account).toMatchObject({ ar_state: 'off', ar_attempt_id: null });
  });

  it('every attempt that ends sends its own alert: two recharges, two recharge.succeeded; two failures, two recharge.failed', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { confirm: [undefined as never, undefined as never, 'card', 'card'] } });
    await b.run(stripe);
    await rechargeAt(b, stripe, T0 + HOUR);
    expect(b.alerts().map((a) => a.type)).toEqual(['recharge.succeeded', 'recharge.succeeded']);
    await rechargeAt(b, stripe, T0 + 2 * HOUR);
    b.save({ ar_enabled: 1 }); // turned back on after the decline
    await rechargeAt(b, stripe, T0 + 3 * HOUR);
    expect(b.alerts().map((a) => a.type)).toEqual(['recharge.succeeded', 'recharge.succeeded', 'recharge.failed', 'recharge.failed']);
    expect(new Set(b.alerts().map((a) => a.data.attemptId)).size).toBe(4);
    expect(b.alerts()[3].data).toMatchObject({ paymentIntentId: 'pi_4', reason: 'Your card was declined. (card_declined: insufficient_funds)' });
  });
});

describe('caps', () => {
  it('the hourly cap holds across the window\'s edge: a new window opens exactly an hour after the last, and allows three recharges, not more', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe();
    for (const t of [T0, T0 + MINUTE, T0 + 2 * MINUTE]) await rechargeAt(b, stripe, t);
    expect(stripe.count('create')).toBe(3);
    for (const t of [T0 + HOUR, T0 + HOUR + MINUTE, T0 + HOUR + 2 * MINUTE]) await rechargeAt(b, stripe, t);
    expect(stripe.count('create')).toBe(6);
    expect(b.account).toMatchObject({ ar_window_hour_start: T0 + HOUR, ar_window_hour_count: 3 });
    await rechargeAt(b, stripe, T0 + HOUR + 3 * MINUTE);
    expect(stripe.count('create')).toBe(6);
    expect(b.account).toMatchObject({ ar_state: 'armed', ar_last_error: 'hourly cap reached (3 recharges per hour)' });
    // The refused attempt is recorded for admins (an id and a key of its own) and flushed soon.
    const refused = b.attempts().at(-1)!;
    expect(refused).toMatchObject({ status: 'failed', error: 'hourly cap reached (3 recharges per hour)', payment_intent_id: null });
    expect(refused.id).toMatch(/^arc_/);
    expect(refused.idempotency_key).toMatch(/^cap_/);
    expect(b.alarms).toEqual([T0 + HOUR + 3 * MINUTE + OUTBOX_FLUSH_DELAY_MS]);
  });

  it('the monthly limit adds up this month\'s recharges and starts again next month', async () => {
    const b = await RechargeBench.open({ ar_monthly_limit_cents: 1_000 });
    const stripe = b.stripe();
    await rechargeAt(b, stripe, T0);
    await rechargeAt(b, stripe, T0 + 2 * HOUR);
    expect(b.account.ar_window_month_cents).toBe(1_000);
    await rechargeAt(b, stripe, T0 + 4 * HOUR);
    expect(stripe.count('create')).toBe(2);
    expect(b.account.ar_last_error).toBe('monthly limit reached ($10.00)');
    await rechargeAt(b, stripe, Date.UTC(2026, 11, 1, 0, 0, 0));
    expect(stripe.count('create')).toBe(3);
    expect(b.account).toMatchObject({ ar_window_month: '2026-12', ar_window_month_cents: 500 });
  });
});

describe('a creation in doubt', () => {
  it('given up after three sends, the attempt records why; the list looks at one page when it has no more', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { create: ['before', 'before', 'before'] } });
    stripe.other('pi_checkout'); // a purchase of the same customer, on the only page of the list
    for (let i = 0; i < 3; i++) await b.runAt(stripe);
    const giveUpAt = b.clock;
    await b.runAt(stripe);
    expect(b.attempts()).toMatchObject([
      { status: 'failed', payment_intent_id: null, error: 'not created at Stripe after 3 tries: retrying: upstream 500' },
      { status: 'succeeded', payment_intent_id: 'pi_1' },
    ]);
    expect(stripe.count('list')).toBe(3);
    expect(b.alarms).toContain(giveUpAt);
  });

  it('a send that never answered (the object restarted), not found exactly 24 h later: given up as "no answer", and the new attempt is dated when it starts', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe();
    const create = stripe.payments.create;
    stripe.payments.create = () => new Promise<never>(() => undefined); // the request never reached Stripe; the object is reset
    void b.run(stripe);
    await new Promise((r) => setTimeout(r, 5));
    b.account = loadAccount(b.s.sql)!; // a new instance reads the account from storage
    stripe.payments.create = create;
    const first = b.attempts()[0];
    b.clock = T0 + IDEMPOTENCY_WINDOW_MS - 3_000;
    // The list takes 3 s to answer: the key's 24 h are over when it does.
    const list = stripe.payments.list;
    stripe.payments.list = async (p) => ((b.clock += 3_000), list(p));
    await b.run(stripe);
    const [failed, next] = b.attempts();
    expect(failed).toMatchObject({ id: first.id, status: 'failed', error: 'not created at Stripe after 1 tries: no answer' });
    expect(next).toMatchObject({ status: 'succeeded', created_at: T0 + IDEMPOTENCY_WINDOW_MS });
    // The hung send never reached the fake; the only creation Stripe saw is the new attempt's, with its own key.
    const creates = stripe.calls.filter((c) => c.op === 'create');
    expect(creates.map((c) => c.key)).toEqual([next.idempotency_key]);
    expect(next.idempotency_key).not.toBe(first.idempotency_key);
  });

  it('Stripe\'s clock 5 minutes behind the object\'s: the lost PaymentIntent is still found, never created twice', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { create: ['after'] }, stripeSkewMs: -5 * MINUTE });
    await b.runAt(stripe);
    await b.runAt(stripe);
    expect(stripe.count('create')).toBe(1);
    expect(stripe.intents.size).toBe(1);
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });

  it('the search is bounded: five pages of 100 per run; past them the same key is resent and Stripe replays its answer, never a second PaymentIntent', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { create: ['after'] } });
    await b.runAt(stripe);
    for (let i = 0; i < 600; i++) stripe.other(`pi_other_${i}`);
    await b.runAt(stripe);
    const lists = stripe.calls.filter((c) => c.op === 'list');
    expect(lists).toHaveLength(5);
    const creates = stripe.calls.filter((c) => c.op === 'create');
    expect(creates).toHaveLength(2);
    expect(creates[1].key).toBe(creates[0].key);
    expect(stripe.intents.size).toBe(601);
    expect(b.account).toMatchObject({ ar_state: 'creating', ar_last_error: 'retrying: upstream 500' });
  });

  it('a list that fails is retried later and says why', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { create: ['after'], list: ['before'] } });
    await b.runAt(stripe);
    await b.runAt(stripe);
    expect(b.account).toMatchObject({ ar_state: 'creating', ar_attempts: 2, ar_last_error: 'retrying: listing PaymentIntents: upstream 500' });
    await b.runAt(stripe);
    expect(stripe.count('create')).toBe(1);
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });
});

describe('resolving an unknown outcome', () => {
  it('a failed retrieve says what it was retrieving', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { confirm: ['before'], retrieve: ['before'] } });
    await b.runAt(stripe);
    await b.runAt(stripe);
    expect(b.account).toMatchObject({ ar_state: 'confirming', ar_last_error: 'retrying: retrieving pi_1: upstream 500' });
  });

  it(`Stripe unreachable: exactly ${MAX_UNRESOLVED} tries in all, then off, the PaymentIntent named in the alert`, async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { confirm: ['before'], retrieve: Array(20).fill('before') } });
    for (let i = 0; i < 20 && b.account.ar_state !== 'off'; i++) await b.runAt(stripe);
    const reason = `outcome unknown after ${MAX_UNRESOLVED} tries (retrieving pi_1: upstream 500): check this payment in Stripe`;
    expect(stripe.count('confirm') + stripe.count('retrieve')).toBe(MAX_UNRESOLVED);
    expect(b.account).toMatchObject({ ar_state: 'off', ar_last_error: reason });
    expect(b.alerts()).toEqual([{ type: 'recharge.failed', data: { attemptId: b.attempts()[0].id, paymentIntentId: 'pi_1', reason } }]);
  });

  it('a decline whose answer was lost is read from the PaymentIntent: the codes, and the confirm-your-card message for authentication_required', async () => {
    const b = await RechargeBench.open();
    await b.runAt(b.stripe({ faults: { confirm: ['cardLost'] } }));
    const stripe = b.stripe();
    stripe.intents.set('pi_1', { id: 'pi_1', status: 'requires_payment_method', customer: 'cus_1', created: 0, last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card was declined.' } });
    await b.runAt(stripe);
    expect(b.account).toMatchObject({ ar_state: 'off', ar_last_error: 'Your card was declined. (card_declined: insufficient_funds)' });

    const c = await RechargeBench.open();
    const auth = c.stripe({ faults: { confirm: ['authLost'] } });
    await c.runAt(auth);
    expect(c.account).toMatchObject({ ar_state: 'confirming', ar_last_error: 'retrying: connection reset' });
    await c.runAt(auth);
    expect(ops(auth)).toEqual(['create', 'confirm', 'retrieve']);
    expect(c.account).toMatchObject({ ar_state: 'off', ar_last_error: `${CONFIRM_CARD_MESSAGE} (Your card was declined. (authentication_required))` });
  });
});

describe('bank debits (processing)', () => {
  it('polled slowly, backing off from about a minute to 15 minutes; the webhook is the fast path', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ confirmStatus: 'processing' });
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      const at = b.clock;
      await b.runAt(stripe);
      waits.push(b.clock - at);
    }
    expect(waits).toEqual([64_000, 64_000, 128_000, 256_000, 512_000, 900_000, 900_000]);
    expect(b.account.ar_state).toBe('awaiting_webhook');
  });

  it('still processing after 7 days: handed to an admin (off, with what to check), not polled for ever', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ confirmStatus: 'processing' });
    await b.run(stripe);
    b.clock = T0 + MAX_PROCESSING_MS - 64_000;
    await b.run(stripe);
    expect(b.account).toMatchObject({ ar_state: 'awaiting_webhook', ar_next_at: T0 + MAX_PROCESSING_MS });
    b.clock = T0 + MAX_PROCESSING_MS;
    await b.run(stripe);
    expect(b.account).toMatchObject({ ar_enabled: 0, ar_state: 'off', ar_last_error: 'payment pi_1 still processing after 7 days: check it in Stripe' });
    expect(b.credits()).toEqual([]);
  });

  it('a debit canceled without an error says "payment canceled"', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ confirmStatus: 'processing' });
    await b.runAt(stripe);
    Object.assign(stripe.intents.get('pi_1')!, { status: 'canceled', last_payment_error: null });
    await b.runAt(stripe);
    expect(b.account).toMatchObject({ ar_state: 'off', ar_last_error: 'payment canceled' });
  });

  it('a failed retrieve while waiting is retried and says why; the debit is credited once it succeeds', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ confirmStatus: 'processing', faults: { retrieve: ['before'] } });
    await b.runAt(stripe);
    await b.runAt(stripe);
    expect(b.account).toMatchObject({ ar_state: 'awaiting_webhook', ar_last_error: 'retrying: retrieving pi_1: upstream 500' });
    stripe.intents.get('pi_1')!.status = 'succeeded';
    await b.runAt(stripe);
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });
});

describe('a webhook finishes the attempt while Stripe is answering the alarm', () => {
  /** Threshold 20,000 and 5,000 a recharge: after one recharge the balance is still below, so the facade schedules the next one. */
  const belowAfterOne = { ar_threshold: 20_000 };

  it('a stale `processing` from the retrieve does not put the finished recharge back to waiting', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ confirmStatus: 'processing' });
    await b.runAt(stripe);
    duringCall(stripe, 'retrieve', () => settleRecharge(b.host, 'pi_1', 'succeeded'));
    await b.runAt(stripe);
    expect(b.account).toMatchObject({ ar_state: 'armed', ar_attempt_id: null, ar_next_at: null, ar_last_error: null });
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });

  it('the confirmation answers after the webhook credited it: the next recharge the facade scheduled is kept', async () => {
    const b = await RechargeBench.open(belowAfterOne);
    const stripe = b.stripe();
    duringCall(stripe, 'confirm', () => settleRecharge(b.host, 'pi_1', 'succeeded'));
    await b.run(stripe);
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
    expect(b.account.ar_state).toBe('scheduled');
    expect(b.afterCommits).toBe(1);
  });

  it('the confirmation\'s 500 arrives after the webhook credited it: no retry, no error on the page', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ faults: { confirm: ['after'] } });
    duringCall(stripe, 'confirm', () => settleRecharge(b.host, 'pi_1', 'succeeded'));
    await b.run(stripe);
    expect(b.account).toMatchObject({ ar_state: 'armed', ar_attempts: 0, ar_next_at: null, ar_last_error: null });
    expect(b.credits()).toEqual([{ amount: 5_000, ref: 'pi_1' }]);
  });

  it('the retrieve after a lost confirmation answers after the webhook credited it: the next recharge is kept', async () => {
    const b = await RechargeBench.open(belowAfterOne);
    const stripe = b.stripe({ faults: { confirm: ['after'] } });
    await b.runAt(stripe);
    duringCall(stripe, 'retrieve', () => settleRecharge(b.host, 'pi_1', 'succeeded'));
    await b.run(stripe);
    expect(b.account.ar_state).toBe('scheduled');
    expect(b.afterCommits).toBe(1);
  });

  it('a failed retrieve after the webhook credited it: no retry, no error on the page', async () => {
    const b = await RechargeBench.open();
    const stripe = b.stripe({ confirmStatus: 'processing', faults: { retrieve: ['before'] } });
    await b.runAt(stripe);
    duringCall(stripe, 'retrieve', () => settleRecharge(b.host, 'pi_1', 'succeeded'));
    await b.runAt(stripe);
    expect(b.account).toMatchObject({ ar_state: 'armed', ar_attempts: 0, ar_next_at: null, ar_last_error: null });
  });
});
