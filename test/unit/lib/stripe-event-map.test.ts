/**
 * The pure half of the webhook mapping (worker/lib/stripe-event-map.ts), in plain Node so
 * Stryker can mutate it. Events are built from Stripe's own example objects
 * (test/scripts/stripe-sim/fixtures3.json, from github.com/stripe/openapi), changed only in the
 * fields each case is about; the workerd suite (test/routes/stripe-events.test.ts,
 * test/routes/payments.test.ts) runs the same mapping end to end against the simulator.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import {
  claimMismatch,
  creditDescription,
  creditTypeOf,
  disputeAction,
  idOf,
  notCreditable,
  planEvent,
  refundAction,
  refundsMismatch,
  strictPositiveInt,
  tokensBought,
} from '../../../worker/lib/stripe-event-map';

const fixtures = JSON.parse(readFileSync(path.join(import.meta.dirname, '../../scripts/stripe-sim/fixtures3.json'), 'utf8')).resources as Record<string, Record<string, unknown>>;

/** An event of `type` whose object is Stripe's example `resource` with `patch` applied. */
function event(type: string, resource: string, patch: Record<string, unknown> = {}): Stripe.Event {
  return { ...fixtures.event, id: 'evt_test', type, data: { object: { ...structuredClone(fixtures[resource]), ...patch } } } as unknown as Stripe.Event;
}

describe('planEvent', () => {
  const paidSession = { mode: 'payment', payment_status: 'paid', payment_intent: 'pi_1', amount_total: 1_500, currency: 'usd', customer: 'cus_1', metadata: { userId: 'user_1', packageId: 'pkg_starter' } };

  for (const type of ['checkout.session.completed', 'checkout.session.async_payment_succeeded']) {
    it(`${type}: a paid payment-mode session credits its PaymentIntent with the amount and currency paid`, () => {
      expect(planEvent(event(type, 'checkout.session', paidSession))).toEqual({
        do: 'credit',
        payment: { id: 'pi_1', amountCents: 1_500, currency: 'usd', metadata: paidSession.metadata, paymentMethod: null },
        hints: { metaUserId: 'user_1', customer: 'cus_1' },
      });
    });
  }

  it('a session with an expanded PaymentIntent and customer, no metadata and no total: ids taken, amount 0, metadata {}', () => {
    const plan = planEvent(event('checkout.session.completed', 'checkout.session', { ...paidSession, payment_intent: { id: 'pi_2' }, customer: { id: 'cus_2' }, metadata: null, amount_total: null }));
    expect(plan).toEqual({ do: 'credit', payment: { id: 'pi_2', amountCents: 0, currency: 'usd', metadata: {}, paymentMethod: null }, hints: { metaUserId: undefined, customer: 'cus_2' } });
  });

  it('an unpaid session (an async payment method), a subscription session or one without a PaymentIntent is ignored', () => {
    const id = fixtures['checkout.session'].id;
    expect(planEvent(event('checkout.session.completed', 'checkout.session', { ...paidSession, payment_status: 'unpaid' }))).toEqual({ do: 'ignore', objectId: id });
    expect(planEvent(event('checkout.session.completed', 'checkout.session', { ...paidSession, mode: 'subscription' }))).toEqual({ do: 'ignore', objectId: id });
    expect(planEvent(event('checkout.session.completed', 'checkout.session', { ...paidSession, payment_intent: null }))).toEqual({ do: 'ignore', objectId: id });
    // Stripe's own example is an open, unpaid session.
    expect(planEvent(event('checkout.session.completed', 'checkout.session'))).toEqual({ do: 'ignore', objectId: id });
  });

  it('payment_intent.succeeded credits amount_received (not amount) of our purchases and auto-recharges only', () => {
    const pi = { id: 'pi_9', amount: 9_999, amount_received: 1_500, currency: 'usd', customer: { id: 'cus_9' }, payment_method: 'pm_9', status: 'succeeded' };
    for (const kind of ['purchase', 'auto_recharge']) {
      const metadata = { kind, userId: 'user_9' };
      expect(planEvent(event('payment_intent.succeeded', 'payment_intent', { ...pi, metadata }))).toEqual({
        do: 'credit',
        payment: { id: 'pi_9', amountCents: 1_500, currency: 'usd', metadata, paymentMethod: 'pm_9' },
        hints: { metaUserId: 'user_9', customer: 'cus_9' },
      });
    }
    expect(planEvent(event('payment_intent.succeeded', 'payment_intent', { ...pi, payment_method: { id: 'pm_x' }, metadata: { kind: 'purchase' } }))).toMatchObject({ payment: { paymentMethod: 'pm_x' }, hints: { metaUserId: undefined } });
    expect(planEvent(event('payment_intent.succeeded', 'payment_intent', { ...pi, metadata: { kind: 'other' } }))).toEqual({ do: 'ignore', objectId: 'pi_9' });
    expect(planEvent(event('payment_intent.succeeded', 'payment_intent', { ...pi, metadata: {} }))).toEqual({ do: 'ignore', objectId: 'pi_9' });
  });

  it('payment_intent.processing moves nothing', () => {
    expect(planEvent(event('payment_intent.processing', 'payment_intent', { id: 'pi_p', status: 'processing', metadata: { kind: 'auto_recharge' } }))).toEqual({ do: 'ignore', objectId: 'pi_p' });
  });

  it('charge.refunded lists the refunds of its charge, with amount_refunded to cross-check; a charge without a PaymentIntent is ignored', () => {
    const charge = { id: 'ch_1', payment_intent: 'pi_1', amount_refunded: 750, customer: 'cus_1', metadata: { userId: 'user_1' } };
    expect(planEvent(event('charge.refunded', 'charge', charge))).toEqual({
      do: 'charge-refunds',
      chargeId: 'ch_1',
      paymentIntentId: 'pi_1',
      amountRefunded: 750,
      hints: { metaUserId: 'user_1', customer: 'cus_1', paymentIntentId: 'pi_1' },
    });
    expect(planEvent(event('charge.refunded', 'charge', { ...charge, payment_intent: { id: 'pi_x' }, customer: null, metadata: {} }))).toMatchObject({ paymentIntentId: 'pi_x', hints: { metaUserId: undefined, customer: null, paymentIntentId: 'pi_x' } });
    expect(planEvent(event('charge.refunded', 'charge', { ...charge, payment_intent: null }))).toEqual({ do: 'ignore', objectId: 'ch_1' });
  });

  it('refund and dispute events name only their object: the caller reads its current state', () => {
    for (const type of ['refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated']) {
      expect(planEvent(event(type, 'refund', { id: 're_7' })), type).toEqual({ do: 'refund', refundId: 're_7' });
    }
    for (const type of ['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.funds_withdrawn', 'charge.dispute.funds_reinstated', 'charge.dispute.closed']) {
      expect(planEvent(event(type, 'dispute', { id: 'dp_7' })), type).toEqual({ do: 'dispute', disputeId: 'dp_7' });
    }
  });

  it('payment_intent.payment_failed of an auto-recharge ends its attempt; any other is acknowledged', () => {
    const failed = { id: 'pi_f', status: 'requires_payment_method', customer: 'cus_f' };
    expect(planEvent(event('payment_intent.payment_failed', 'payment_intent', { ...failed, metadata: { kind: 'auto_recharge', userId: 'user_f' } }))).toEqual({
      do: 'recharge-failed',
      paymentIntentId: 'pi_f',
      hints: { metaUserId: 'user_f', customer: 'cus_f' },
    });
    expect(planEvent(event('payment_intent.payment_failed', 'payment_intent', { ...failed, customer: { id: 'cus_g' }, metadata: { kind: 'auto_recharge' } }))).toMatchObject({ hints: { metaUserId: undefined, customer: 'cus_g' } });
    expect(planEvent(event('payment_intent.payment_failed', 'payment_intent', { ...failed, metadata: { kind: 'purchase' } }))).toEqual({ do: 'acknowledge', objectId: 'pi_f' });
    expect(planEvent(event('payment_intent.payment_failed', 'payment_intent', { ...failed, metadata: null }))).toEqual({ do: 'acknowledge', objectId: 'pi_f' });
    expect(planEvent(event('checkout.session.async_payment_failed', 'checkout.session', { id: 'cs_f' }))).toEqual({ do: 'acknowledge', objectId: 'cs_f' });
  });

  it('any other event is ignored', () => {
    expect(planEvent(event('customer.created', 'payment_intent'))).toEqual({ do: 'ignore', objectId: null });
    expect(planEvent(event('charge.succeeded', 'charge'))).toEqual({ do: 'ignore', objectId: null });
  });
});

describe('what a refund or dispute status means', () => {
  it('refunds: succeeded takes back, failed and canceled give back, the rest waits', () => {
    expect(refundAction('succeeded')).toBe('take');
    expect(refundAction('failed')).toBe('give-back');
    expect(refundAction('canceled')).toBe('give-back');
    for (const s of ['pending', 'requires_action', null]) expect(refundAction(s)).toBe('wait');
  });

  it('disputes: inquiries never hold, chargebacks hold until won or lost', () => {
    for (const s of ['warning_needs_response', 'warning_under_review', 'warning_closed']) expect(disputeAction(s), s).toBe('inquiry');
    for (const s of ['needs_response', 'under_review']) expect(disputeAction(s), s).toBe('open');
    expect(disputeAction('won')).toBe('won');
    expect(disputeAction('prevented')).toBe('won');
    expect(disputeAction('lost')).toBe('lost');
    expect(disputeAction('charge_refunded')).toBe('ignore');
    // Stripe's example dispute is an inquiry.
    expect(disputeAction(String(fixtures.dispute.status))).toBe('inquiry');
  });
});

describe('crediting what was paid', () => {
  it('strictPositiveInt takes our own digits only', () => {
    expect(strictPositiveInt('5000')).toBe(5_000);
    expect(strictPositiveInt('1')).toBe(1);
    expect(strictPositiveInt('9007199254740991')).toBe(9_007_199_254_740_991);
    for (const v of ['0x10', '1e3', ' 5', '5 ', '5.0', '-1', '0', '05', '', '9007199254740992', '12345678901234567', 5, null, undefined]) expect(strictPositiveInt(v), String(v)).toBeNull();
  });

  it('only positive whole USD amounts are credited', () => {
    expect(notCreditable({ amountCents: 1_500, currency: 'usd' })).toBeNull();
    expect(notCreditable({ amountCents: 1, currency: 'USD' })).toBeNull();
    expect(notCreditable({ amountCents: 1_500, currency: 'jpy' })).toBe('not credited: paid 1500 in jpy, only usd is credited');
    expect(notCreditable({ amountCents: 1_500, currency: null })).toBe('not credited: paid 1500 in no currency, only usd is credited');
    expect(notCreditable({ amountCents: 0, currency: 'usd' })).toBe('not credited: amount 0');
    expect(notCreditable({ amountCents: -5, currency: 'usd' })).toBe('not credited: amount -5');
    expect(notCreditable({ amountCents: 1.5, currency: 'usd' })).toBe('not credited: amount 1.5');
  });

  it('tokensBought: the package at its price, else the hint at its price, else the rate', () => {
    const atRate = () => 4_242;
    const pkg = { priceCents: 1_500, tokens: 150_000 };
    expect(tokensBought(1_500, { pkg, hinted: null, hintedPriceCents: null, atRate })).toBe(150_000);
    // 50¢ claiming 5,000,000 tokens: neither the package nor the hint matches the amount.
    expect(tokensBought(50, { pkg, hinted: 5_000_000, hintedPriceCents: 50_000, atRate: () => 5_000 })).toBe(5_000);
    expect(tokensBought(1_400, { pkg, hinted: 140_000, hintedPriceCents: 1_400, atRate })).toBe(140_000);
    expect(tokensBought(1_400, { pkg: null, hinted: 140_000, hintedPriceCents: 1_399, atRate })).toBe(4_242);
    expect(tokensBought(1_400, { pkg: null, hinted: null, hintedPriceCents: 1_400, atRate })).toBe(4_242);
  });

  it('the credit type and description follow the metadata kind', () => {
    expect(creditTypeOf({ kind: 'auto_recharge' })).toBe('auto_recharge');
    expect(creditTypeOf({ kind: 'purchase' })).toBe('purchase');
    expect(creditTypeOf({})).toBe('purchase');
    expect(creditDescription('purchase', 150_000)).toBe('Purchase of 150,000 tokens');
    expect(creditDescription('auto_recharge', 1_234_567)).toBe('Auto-recharge of 1,234,567 tokens');
  });

  it('a claim of other tokens than credited is noted for admins', () => {
    expect(claimMismatch({ tokens: '5000000' }, 5_000, 50)).toBe('metadata claimed 5000000 tokens; 5000 credited for 50 cents');
    expect(claimMismatch({ tokens: '5000' }, 5_000, 50)).toBeUndefined();
    expect(claimMismatch({ tokens: '0x10' }, 5_000, 50)).toBeUndefined();
    expect(claimMismatch({}, 5_000, 50)).toBeUndefined();
  });
});

describe('refundsMismatch', () => {
  it('counts succeeded and pending refunds against amount_refunded; failed and canceled hold no money', () => {
    const refunds = [
      { status: 'succeeded', amount: 500 },
      { status: 'pending', amount: 250 },
      { status: 'failed', amount: 1_000 },
      { status: 'canceled', amount: 2_000 },
    ];
    expect(refundsMismatch('ch_1', 750, refunds)).toBeUndefined();
    expect(refundsMismatch('ch_1', 500, refunds)).toBe('charge ch_1: amount_refunded 500 but its refunds add up to 750');
    expect(refundsMismatch('ch_1', 0, [])).toBeUndefined();
    expect(refundsMismatch('ch_1', 100, [])).toBe('charge ch_1: amount_refunded 100 but its refunds add up to 0');
  });
});

describe('idOf', () => {
  it('takes a string id or an expanded object, null otherwise', () => {
    expect(idOf('pi_1')).toBe('pi_1');
    expect(idOf({ id: 'pi_2' })).toBe('pi_2');
    expect(idOf(null)).toBeNull();
    expect(idOf(undefined)).toBeNull();
  });
});
