// The Stripe simulator behaves as Stripe does at the pinned API version (issue 9, item 1): each rule is driven
// through the real `stripe` SDK and names the documentation it follows (see docs/stripe-simulator.md, "Stripe
// fidelity"). Object shapes are held to Stripe's fixtures by ./contract.test.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StripeSimulator } from '../../../scripts/stripe-sim/server.mjs';
import { simControl, startSim, waitFor } from './harness';

let sim: StripeSimulator;
let stripe: Stripe;

const control = simControl(() => sim);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: any) => e,
  );
/** Event types emitted so far for an object id (in order). */
const typesFor = (id: string) => sim.state.events.filter((e: any) => e.data.object.id === id).map((e: any) => e.type);
const paid = (pm: string, amount = 1000) => stripe.paymentIntents.create({ amount, currency: 'usd', payment_method: pm, confirm: true });
const disputeOf = (charge: string) => waitFor(() => [...sim.state.disputes.values()].find((d: any) => d.charge === charge));

beforeAll(async () => {
  ({ sim, stripe } = await startSim('sk_test_fidelity', { port: 0, deliverWebhooks: false, disputeDelayMs: 20, refundDelayMs: 40, bankDelayMs: 40 }));
});
afterAll(() => sim?.close());
beforeEach(async () => {
  await control('/_sim/reset', {});
});

describe('idempotency (docs.stripe.com/idempotency, docs.stripe.com/api/idempotent_requests)', () => {
  it('a 500 answered after the work began is saved and replayed, never turned into the success (after_commit_500)', async () => {
    await control('/_sim/faults', { method: 'POST', path: '^/v1/payment_intents$', mode: 'after_commit_500' });
    const params = { amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true };
    const first = await failure(stripe.paymentIntents.create(params, { idempotencyKey: 'recharge-1' }));
    expect(first).toMatchObject({ type: 'StripeAPIError', statusCode: 500 });
    expect(sim.state.paymentIntents.size).toBe(1); // the payment was made
    const again = await failure(stripe.paymentIntents.create(params, { idempotencyKey: 'recharge-1' }));
    expect(again).toMatchObject({ type: 'StripeAPIError', statusCode: 500 });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(sim.state.paymentIntents.size).toBe(1);
  });

  it('a request refused by validation saves nothing: the key can run other parameters', async () => {
    const bad = await failure(stripe.paymentIntents.create({ amount: 2000 } as any, { idempotencyKey: 'k-validation' }));
    expect(bad).toMatchObject({ type: 'StripeInvalidRequestError', code: 'parameter_missing' });
    const ok = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd' }, { idempotencyKey: 'k-validation' });
    expect(ok.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(sim.state.paymentIntents.size).toBe(1);
  });

  it('replays until the key is 24 h old (test clock); after that the same key runs as a new request', async () => {
    const a = await stripe.customers.create({ email: 'a@example.com' }, { idempotencyKey: 'k-expiry' });
    await control('/_sim/clock', { advance_seconds: 24 * 3600 - 2 });
    const replay = await stripe.customers.create({ email: 'a@example.com' }, { idempotencyKey: 'k-expiry' });
    expect([replay.id, replay.lastResponse.headers['idempotent-replayed']]).toEqual([a.id, 'true']);
    await control('/_sim/clock', { advance_seconds: 2 });
    const b = await stripe.customers.create({ email: 'a@example.com' }, { idempotencyKey: 'k-expiry' });
    expect(b.id).not.toBe(a.id); // a second object
    expect(b.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(sim.state.customers.size).toBe(2);
    expect(b.created - a.created).toBeGreaterThanOrEqual(24 * 3600);
  });

  it('the same key with other parameters is a 400 idempotency_error (StripeIdempotencyError)', async () => {
    await stripe.customers.create({ email: 'a@example.com' }, { idempotencyKey: 'k-params' });
    const err = await failure(stripe.customers.create({ email: 'b@example.com' }, { idempotencyKey: 'k-params' }));
    expect(err).toMatchObject({ type: 'StripeIdempotencyError', statusCode: 400 });
    expect(sim.state.customers.size).toBe(1);
  });

  it('a key whose first request is still executing answers 409 (idempotency_error), then replays the first result', async () => {
    await control('/_sim/faults', { method: 'POST', path: '^/v1/customers$', mode: 'delay', ms: 300 });
    const slow = stripe.customers.create({ email: 'slow@example.com' }, { idempotencyKey: 'k-inflight' });
    await sleep(60);
    const conflict = await failure(stripe.customers.create({ email: 'slow@example.com' }, { idempotencyKey: 'k-inflight' }));
    expect(conflict.statusCode).toBe(409);
    expect(conflict.raw.type).toBe('idempotency_error');
    const first = await slow;
    const replay = await stripe.customers.create({ email: 'slow@example.com' }, { idempotencyKey: 'k-inflight' });
    expect([replay.id, replay.lastResponse.headers['idempotent-replayed']]).toEqual([first.id, 'true']);
    expect(sim.state.customers.size).toBe(1);
  });

  it('keys are 1 to 255 characters: 255 is accepted, 256 is a 400 and runs nothing', async () => {
    const ok = await stripe.customers.create({}, { idempotencyKey: 'k'.repeat(255) });
    expect(ok.id).toMatch(/^cus_/);
    const long = await failure(stripe.customers.create({}, { idempotencyKey: 'k'.repeat(256) }));
    expect(long).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400 });
    const empty = await fetch(`${sim.url}/v1/customers`, { method: 'POST', headers: { authorization: 'Bearer sk_test_fidelity', 'idempotency-key': '' } });
    expect(empty.status).toBe(400);
    expect(sim.state.customers.size).toBe(1);
  });
});

describe('refunds (docs.stripe.com/refunds, docs.stripe.com/testing#refunds)', () => {
  it('charge.refunded carries the cumulative amount_refunded; refunded only when the whole charge is', async () => {
    const pi = await paid('pm_card_visa', 3000);
    await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
    await stripe.refunds.create({ payment_intent: pi.id, amount: 2000 });
    const refunded = sim.state.events.filter((e: any) => e.type === 'charge.refunded').map((e: any) => [e.data.object.amount_refunded, e.data.object.refunded]);
    expect(refunded).toEqual([
      [1000, false],
      [3000, true],
    ]);
  });

  it('pm_card_pendingRefund: pending, then succeeded with refund.updated', async () => {
    const pi = await paid('pm_card_pendingRefund');
    const re = await stripe.refunds.create({ payment_intent: pi.id, amount: 400 });
    expect(re.status).toBe('pending');
    expect((await stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded).toBe(400);
    await waitFor(() => typesFor(re.id).includes('refund.updated'));
    expect((await stripe.refunds.retrieve(re.id)).status).toBe('succeeded');
    expect(typesFor(re.id)).toEqual(['refund.created', 'refund.updated', 'charge.refund.updated']);
  });

  it('pm_card_refundFail: succeeded at first, then failed (refund.failed); the charge gets the amount back', async () => {
    const pi = await paid('pm_card_refundFail');
    const re = await stripe.refunds.create({ payment_intent: pi.id });
    expect(re.status).toBe('succeeded');
    expect((await stripe.charges.retrieve(pi.latest_charge as string)).refunded).toBe(true);
    await waitFor(() => typesFor(re.id).includes('refund.failed'));
    const failed = await stripe.refunds.retrieve(re.id);
    expect(failed).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card' });
    expect(typesFor(re.id)).toEqual(['refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated']);
    const updated = sim.state.events.find((e: any) => e.type === 'refund.updated' && e.data.object.id === re.id);
    expect(updated.data.previous_attributes.status).toBe('succeeded');
    expect(await stripe.charges.retrieve(pi.latest_charge as string)).toMatchObject({ amount_refunded: 0, refunded: false });
  });

  it('a pending refund can be canceled (control API); canceled and failed refunds give the amount back', async () => {
    const pi = await paid('pm_card_pendingRefund', 2000);
    const re = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    const canceled = await control(`/_sim/refunds/${re.id}/settle`, { status: 'canceled' });
    expect(canceled.body.status).toBe('canceled');
    expect((await stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded).toBe(0);
    const again = await control(`/_sim/refunds/${re.id}/settle`, { status: 'succeeded' });
    expect(again.status).toBe(400); // final
    const re2 = await stripe.refunds.create({ payment_intent: pi.id, amount: 700 });
    await control(`/_sim/refunds/${re2.id}/settle`, { status: 'failed' });
    expect(typesFor(re2.id)).toContain('refund.failed');
    await sleep(80); // the test card's own timer finds the refund already settled and leaves it
    expect((await stripe.refunds.retrieve(re2.id)).status).toBe('failed');
  });

  it('refunding a charge with an open chargeback is refused (charge_disputed); an inquiry does not block it', async () => {
    const pi = await paid('pm_card_createDispute');
    await disputeOf(pi.latest_charge as string);
    const err = await failure(stripe.refunds.create({ payment_intent: pi.id }));
    expect(err).toMatchObject({ type: 'StripeInvalidRequestError', code: 'charge_disputed' });
    const inquiry = await paid('pm_card_createDisputeInquiry');
    await disputeOf(inquiry.latest_charge as string);
    expect((await stripe.refunds.create({ payment_intent: inquiry.id })).status).toBe('succeeded');
  });
});

describe('disputes (docs.stripe.com/disputes/how-disputes-work, docs.stripe.com/testing#disputes)', () => {
  it('pm_card_createDisputeInquiry: an inquiry moves no money; evidence → warning_under_review; closes warning_closed', async () => {
    const pi = await paid('pm_card_createDisputeInquiry');
    const dp = await disputeOf(pi.latest_charge as string);
    expect(dp).toMatchObject({ status: 'warning_needs_response', is_charge_refundable: true, balance_transactions: [], payment_method_details: { card: { case_type: 'inquiry' } } });
    const answered = await stripe.disputes.update(dp.id, { evidence: { uncategorized_text: 'Delivered' } });
    expect(answered.status).toBe('warning_under_review');
    const closed = await control(`/_sim/disputes/${dp.id}/close`, { status: 'warning_closed' });
    expect(closed.body.status).toBe('warning_closed');
    expect(typesFor(dp.id)).toEqual(['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed']);
  });

  it('pm_card_createDisputeProductNotReceived / pm_card_createDispute: a chargeback withdraws its funds at once', async () => {
    for (const [pm, reason] of [
      ['pm_card_createDisputeProductNotReceived', 'product_not_received'],
      ['pm_card_createDispute', 'fraudulent'],
    ]) {
      const pi = await paid(pm);
      const dp = await disputeOf(pi.latest_charge as string);
      await waitFor(() => typesFor(dp.id).length === 2);
      expect(dp).toMatchObject({ status: 'needs_response', reason, is_charge_refundable: false, payment_method_details: { card: { case_type: 'chargeback' } } });
      expect(typesFor(dp.id)).toEqual(['charge.dispute.created', 'charge.dispute.funds_withdrawn']);
      expect(dp.balance_transactions.map((t: any) => t.amount)).toEqual([-1000]);
    }
  });

  it('a dispute for part of a charge, won: funds withdrawn then reinstated for that part only', async () => {
    const pi = await paid('pm_card_visa', 3000);
    const dp = (await control(`/_sim/charges/${pi.latest_charge}/dispute`, { amount: 1200 })).body;
    expect(dp).toMatchObject({ amount: 1200, status: 'needs_response' });
    const submitted = await stripe.disputes.update(dp.id, { evidence: { uncategorized_text: 'Service rendered' } });
    expect(submitted.status).toBe('under_review');
    await control(`/_sim/disputes/${dp.id}/close`, { status: 'won' });
    const won = await stripe.disputes.retrieve(dp.id);
    expect(won.status).toBe('won');
    expect(won.balance_transactions.map((t) => t.amount)).toEqual([-1200, 1200]);
    expect(typesFor(dp.id)).toEqual(['charge.dispute.created', 'charge.dispute.funds_withdrawn', 'charge.dispute.updated', 'charge.dispute.closed', 'charge.dispute.funds_reinstated']);
  });

  it('an inquiry escalated to a chargeback withdraws funds then; a lost chargeback reinstates nothing', async () => {
    const pi = await paid('pm_card_visa', 2000);
    const dp = (await control(`/_sim/charges/${pi.latest_charge}/dispute`, { status: 'warning_needs_response' })).body;
    expect(typesFor(dp.id)).toEqual(['charge.dispute.created']);
    const escalated = await control(`/_sim/disputes/${dp.id}/update`, { status: 'needs_response' });
    expect(escalated.body).toMatchObject({ status: 'needs_response', is_charge_refundable: false, payment_method_details: { card: { case_type: 'chargeback' } } });
    expect((await control(`/_sim/disputes/${dp.id}/close`, { status: 'warning_closed' })).status).toBe(400);
    const lost = await stripe.disputes.close(dp.id);
    expect(lost.status).toBe('lost');
    expect(typesFor(dp.id)).toEqual(['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.funds_withdrawn', 'charge.dispute.closed']);
  });
});

describe('bank debits and minimums (docs.stripe.com/payments/ach-direct-debit, docs.stripe.com/currencies)', () => {
  const bank = (pm: string) =>
    stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: pm, payment_method_types: ['us_bank_account'], confirm: true });

  it('pm_usBankAccount_success: processing (charge pending), then succeeded', async () => {
    const pi = await bank('pm_usBankAccount_success');
    expect(pi.status).toBe('processing');
    expect(await stripe.charges.retrieve(pi.latest_charge as string)).toMatchObject({ status: 'pending', paid: false, payment_method_details: { type: 'us_bank_account' } });
    await waitFor(() => typesFor(pi.id).includes('payment_intent.succeeded'));
    expect(typesFor(pi.id)).toEqual(['payment_intent.created', 'payment_intent.processing', 'payment_intent.succeeded']);
    expect((await stripe.charges.retrieve(pi.latest_charge as string)).status).toBe('succeeded');
  });

  it('pm_usBankAccount_insufficientFunds: processing, then payment_failed back to requires_payment_method', async () => {
    const pi = await bank('pm_usBankAccount_insufficientFunds');
    expect(pi.status).toBe('processing');
    await waitFor(() => typesFor(pi.id).includes('payment_intent.payment_failed'));
    const failed = await stripe.paymentIntents.retrieve(pi.id);
    expect(failed).toMatchObject({ status: 'requires_payment_method', last_payment_error: { code: 'insufficient_funds' } });
    expect((await stripe.charges.retrieve(pi.latest_charge as string)).status).toBe('failed');
  });

  it('pm_usBankAccount_processing stays processing until the bank answers (control API)', async () => {
    const pi = await bank('pm_usBankAccount_processing');
    await sleep(120);
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('processing');
    await control(`/_sim/payment_intents/${pi.id}/settle`, { outcome: 'succeeded' });
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
    expect(typesFor(pi.latest_charge as string)).toEqual(['charge.pending', 'charge.succeeded']);
  });

  it('a bank account needs the PaymentIntent to allow it', async () => {
    const err = await failure(stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: 'pm_usBankAccount_success', confirm: true }));
    expect(err).toMatchObject({ type: 'StripeInvalidRequestError', param: 'payment_method' });
  });

  it('amount_too_small below the currency minimum (USD 50¢, GBP 30p)', async () => {
    const small = await failure(stripe.paymentIntents.create({ amount: 49, currency: 'usd' }));
    expect(small).toMatchObject({ type: 'StripeInvalidRequestError', code: 'amount_too_small', param: 'amount' });
    expect((await stripe.paymentIntents.create({ amount: 50, currency: 'usd' })).amount).toBe(50);
    expect(await failure(stripe.paymentIntents.create({ amount: 29, currency: 'gbp' }))).toMatchObject({ code: 'amount_too_small' });
    expect((await stripe.paymentIntents.create({ amount: 30, currency: 'gbp' })).amount).toBe(30);
  });
});

describe('webhook delivery order (docs.stripe.com/webhooks#event-ordering)', () => {
  it('off by default: first attempts go out once each, in event order', () => {
    expect(sim.webhooks.chaos).toBeNull();
  });

  it('chaos mode delivers every event, out of order and some twice', async () => {
    const received: string[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body).id);
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
      await control('/_sim/webhooks', { url, enabled_events: ['customer.created'], chaos: { delayMs: [0, 200], duplicate: 1, seed: 42 } });
      for (let i = 0; i < 8; i++) await stripe.customers.create({ email: `c${i}@example.com` });
      const emitted = sim.state.events.filter((e: any) => e.type === 'customer.created').map((e: any) => e.id);
      await waitFor(() => received.length === 16);
      for (const id of emitted) expect(received.filter((r) => r === id)).toHaveLength(2);
      const firstSeen = [...new Set(received)];
      expect(firstSeen).not.toEqual(emitted);
      expect(firstSeen.sort()).toEqual([...emitted].sort());
    } finally {
      await control('/_sim/webhooks', { chaos: null, deliver: false });
      await new Promise((r) => receiver.close(r));
    }
  });
});
