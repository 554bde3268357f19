// Contract test of the Stripe simulator against Stripe's own published example objects (issue 9, item 2).
//
// ./fixtures3.json is `openapi/fixtures3.json` from github.com/stripe/openapi (see ./README.md): one example
// object per API resource, as Stripe's mock server serves them. Every object the simulator returns through the
// real `stripe` SDK must have exactly the fixture's keys, except *includable* fields, which the live API leaves
// out unless the request expands them (https://docs.stripe.com/expand: "properties that aren't included by
// default in a response"). The fixtures list those too, so the test removes them from the expected keys and
// checks that they appear only when expanded.
//
// Status values are checked against the `stripe` package's TypeScript unions (copied below, each naming its
// type), and `object` against the fixtures.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeSimulator, type StripeSimulator } from '../../../scripts/stripe-sim/server.mjs';

const FIXTURES_PATH = process.env.STRIPE_FIXTURES ?? path.join(import.meta.dirname, 'fixtures3.json');
const fixtures: Record<string, Record<string, unknown>> = JSON.parse(readFileSync(FIXTURES_PATH, 'utf8')).resources;

/**
 * Includable fields per resource (by `object`): present in the fixtures, absent from API answers unless expanded.
 * - Charge `refunds`: https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand
 * - PaymentIntent `charges` (removed outright, so not in the fixtures either):
 *   https://docs.stripe.com/changelog/2022-11-15/removes-charges-attribute-paymentintent
 * - Checkout Session `line_items`: "there is an includable line_items property"
 *   https://docs.stripe.com/api/checkout/sessions/line_items
 * - Customer `cash_balance`, `invoice_credit_balance`, `sources`, `subscriptions`, `tax`, `tax_ids` (marked
 *   Expandable, not in the example object): https://docs.stripe.com/api/customers/object
 */
const INCLUDABLE: Record<string, string[]> = {
  charge: ['refunds'],
  payment_intent: ['charges'],
  'checkout.session': ['line_items'],
  customer: ['cash_balance', 'invoice_credit_balance', 'sources', 'subscriptions', 'tax', 'tax_ids'],
};

// Stripe.PaymentIntent.Status
const PAYMENT_INTENT_STATUS = ['canceled', 'processing', 'requires_action', 'requires_capture', 'requires_confirmation', 'requires_payment_method', 'succeeded'];
// Stripe.Charge.Status
const CHARGE_STATUS = ['failed', 'pending', 'succeeded'];
// Stripe.Refund `status` is typed `string | null`; its doc comment lists the values.
const REFUND_STATUS = ['pending', 'requires_action', 'succeeded', 'failed', 'canceled'];
// Stripe.Dispute.Status
const DISPUTE_STATUS = ['appeal_needs_response', 'appeal_under_review', 'lost', 'needs_response', 'prevented', 'under_review', 'warning_closed', 'warning_needs_response', 'warning_under_review', 'won'];
// Stripe.Checkout.Session.Status
const SESSION_STATUS = ['complete', 'expired', 'open'];
// Stripe.Checkout.Session.PaymentStatus
const SESSION_PAYMENT_STATUS = ['no_payment_required', 'paid', 'unpaid'];

type Obj = Record<string, any>;

/** Nested hashes whose keys are data, not shape: free-form `metadata`, and `payment_method_options`, which has one
 * key per payment method type the intent allows (the fixture's allows none). An event's `data` is checked as
 * the object it carries (its fixture example is a Plan), `previous_attributes` holds only what changed. */
const SKIP_NESTED = ['metadata', 'payment_method_options'];
const SKIP_PATHS = ['event.data'];
/** Nested keys the `stripe` package's types mark optional (`?:`) because Stripe sends them only in some cases:
 * allowed, not required. */
const CONDITIONAL: Record<string, string[]> = {
  // Stripe.Charge.Outcome `risk_level?`, `risk_score?`: Radar's evaluation of the payment.
  'charge.outcome': ['risk_level', 'risk_score'],
  // Stripe.Refund.DestinationDetails.Card `reference?`, `reference_status?`, `reference_type?`: the network's reference.
  'refund.destination_details.card': ['reference', 'reference_status', 'reference_type'],
  // Stripe.PaymentIntent.NextAction: `type` plus one optional key named after it (we send `use_stripe_sdk`).
  'payment_intent.next_action': ['use_stripe_sdk'],
  // Stripe.PaymentIntent.LastPaymentError: everything but `type` is optional (the fixture shows an idempotency_error).
  'payment_intent.last_payment_error': ['charge', 'code', 'decline_code', 'doc_url', 'message', 'payment_method'],
};
const isHash = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** Nested hashes (present on both sides) whose keys differ from the fixture's, as readable lines. */
function nestedDrift(object: string, o: Obj, fx: Obj, path = ''): string[] {
  const out: string[] = [];
  for (const k of Object.keys(o)) {
    const p = path ? `${path}.${k}` : k;
    if (SKIP_NESTED.includes(k) || SKIP_PATHS.includes(`${object}.${p}`) || !isHash(o[k]) || !isHash(fx[k])) continue;
    const cond = CONDITIONAL[`${object}.${p}`] ?? [];
    const got = without(keysOf(o[k]), cond);
    const want = without(keysOf(fx[k]), cond);
    if (got.join() !== want.join()) out.push(`${object}.${p}: has [${got.filter((x) => !want.includes(x))}] lacks [${want.filter((x) => !got.includes(x))}]`);
    out.push(...nestedDrift(object, o[k], fx[k], p));
  }
  return out;
}

/** The keys an API answer for this `object` must have: the fixture's, minus includable ones. */
const expectedKeys = (object: string) => {
  const fx = fixtures[object];
  if (!fx) throw new Error(`no fixture for ${object}`);
  return Object.keys(fx)
    .filter((k) => !(INCLUDABLE[object] ?? []).includes(k))
    .sort();
};
const keysOf = (o: Obj) => Object.keys(o).sort();
const without = (keys: string[], drop: string[]) => keys.filter((k) => !drop.includes(k));

let sim: StripeSimulator;
let stripe: Stripe;
/** Every object the scenario produced, by `object`, as the SDK returned them. */
const seen: Record<string, Obj[]> = {};
const keep = <T extends Obj>(o: T): T => {
  (seen[o.object] ??= []).push(o);
  return o;
};
const control = async (path: string, body: unknown) => {
  const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as any;
};
const cardError = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => {
      throw new Error('expected a card error');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Stripe.errors.StripeCardError);
  return (e as Stripe.errors.StripeCardError).raw as Obj;
};

let charge: Obj;
let session: Obj;
let events: Obj[];

beforeAll(async () => {
  sim = await startStripeSimulator({ port: 0, deliverWebhooks: false, disputeDelayMs: 20 });
  stripe = new Stripe('sk_test_contract', { host: '127.0.0.1', port: sim.port, protocol: 'http', maxNetworkRetries: 0 });

  const customer = keep(await stripe.customers.create({ email: 'contract@example.com', metadata: { userId: 'u1' } }));
  keep(await stripe.customers.retrieve(customer.id));
  const product = keep(await stripe.products.create({ name: '100k tokens' }));
  keep(await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 1500 }));

  // PaymentIntents through every status the simulator reaches.
  const paid = keep(await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true, off_session: true }));
  keep(await stripe.paymentIntents.create({ amount: 2000, currency: 'usd' }));
  keep(await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa' }));
  keep(await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true }));
  const toCancel = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd' });
  keep(await stripe.paymentIntents.cancel(toCancel.id));
  const declined = await cardError(stripe.paymentIntents.create({ amount: 2000, currency: 'usd', customer: customer.id, payment_method: 'pm_card_chargeDeclined', confirm: true }));
  keep(declined.payment_intent);
  keep(await stripe.paymentMethods.retrieve(String(paid.payment_method)));

  charge = keep(await stripe.charges.retrieve(String(paid.latest_charge)));
  keep(await stripe.charges.retrieve(String(declined.payment_intent.latest_charge)));
  keep(await stripe.refunds.create({ payment_intent: paid.id, amount: 500 }));
  keep(await stripe.refunds.create({ charge: charge.id }));

  // A dispute opened by the network (pm_card_createDispute), then conceded.
  const disputed = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_createDispute', confirm: true });
  let dispute: Obj | undefined;
  for (let i = 0; i < 100 && !dispute; i++) {
    dispute = (await stripe.disputes.list({ payment_intent: disputed.id })).data[0];
    if (!dispute) await new Promise((r) => setTimeout(r, 20));
  }
  if (!dispute) throw new Error('no dispute opened');
  keep(await stripe.disputes.retrieve(dispute.id));
  keep(await stripe.disputes.close(dispute.id));

  // Checkout Sessions: open, paid (through the simulator's stand-in for the hosted page), expired.
  const params: Stripe.Checkout.SessionCreateParams = {
    mode: 'payment',
    customer: customer.id,
    line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 1500, product_data: { name: '100k tokens' } } }],
    payment_intent_data: { metadata: { userId: 'u1' } },
    success_url: 'http://app.test/ok?session_id={CHECKOUT_SESSION_ID}',
    cancel_url: 'http://app.test/cancel',
  };
  session = keep(await stripe.checkout.sessions.create(params));
  for (const item of (await stripe.checkout.sessions.listLineItems(session.id)).data) keep(item);
  const toPay = await stripe.checkout.sessions.create(params);
  expect((await control(`/_sim/checkout/sessions/${toPay.id}/pay`, { card: '4242424242424242' })).ok).toBe(true);
  keep(await stripe.checkout.sessions.retrieve(toPay.id));
  const toExpire = await stripe.checkout.sessions.create(params);
  keep(await stripe.checkout.sessions.expire(toExpire.id));

  events = (await stripe.events.list({ limit: 100 })).data as unknown as Obj[];
  for (const e of events) keep(e);
}, 30_000);

afterAll(async () => {
  await sim?.close();
});

describe('stripe simulator contract: keys match Stripe fixtures', () => {
  const RESOURCES = ['customer', 'product', 'price', 'payment_intent', 'payment_method', 'refund', 'dispute', 'checkout.session', 'item', 'event'];

  it('the scenario produced every resource', () => {
    for (const r of [...RESOURCES, 'charge']) expect(seen[r]?.length ?? 0, r).toBeGreaterThan(0);
  });

  for (const object of RESOURCES) {
    it(`${object}: exactly the fixture's keys, includable ones left out`, () => {
      for (const o of seen[object]) expect(keysOf(o), `${object} ${o.id}`).toEqual(expectedKeys(object));
    });
  }

  it("charge: the fixture's keys, apart from the includable `refunds` (asserted separately below)", () => {
    for (const o of seen.charge) expect(without(keysOf(o), ['refunds']), o.id).toEqual(without(expectedKeys('charge'), ['refunds']));
  });

  // The handlers no longer read `charge.refunds` (issue 9): refunds come from refund events and the refunds API.
  it('charge: leaves out `refunds` unless expanded (API version 2022-11-15)', () => {
    for (const o of seen.charge) expect(keysOf(o), o.id).toEqual(expectedKeys('charge'));
  });

  it('charge: expand[]=refunds gives the refund list', async () => {
    const c = (await stripe.charges.retrieve(charge.id, { expand: ['refunds'] })) as Obj;
    expect(c.refunds).toMatchObject({ object: 'list', has_more: false });
    expect(c.refunds.data.map((r: Obj) => r.object)).toEqual(['refund', 'refund']);
  });

  it('checkout.session: `line_items` only when expanded, as a list of items', async () => {
    expect(session).not.toHaveProperty('line_items');
    const s = (await stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] })) as Obj;
    expect(s.line_items).toMatchObject({ object: 'list', has_more: false, url: `/v1/checkout/sessions/${session.id}/line_items` });
    for (const item of s.line_items.data) expect(keysOf(item)).toEqual(expectedKeys('item'));
  });

  it('payment_intent: no `charges`; customer: no includable fields', () => {
    for (const pi of seen.payment_intent) expect(pi).not.toHaveProperty('charges');
    for (const c of seen.customer) for (const k of INCLUDABLE.customer) expect(c, k).not.toHaveProperty(k);
  });

  it("nested objects have the fixture's keys too", () => {
    const drift = Object.entries(seen).flatMap(([object, list]) => list.flatMap((o) => nestedDrift(object, o, fixtures[object])));
    const inEvents = events.flatMap((e) => nestedDrift(e.data.object.object, e.data.object, fixtures[e.data.object.object]).map((d) => `${e.type}: ${d}`));
    expect([...new Set([...drift, ...inEvents])]).toEqual([]);
  });

  it('item: its price has the price fixture keys', () => {
    for (const item of seen.item) expect(keysOf(item.price)).toEqual(expectedKeys('price'));
  });
});

describe('stripe simulator contract: events carry the same objects as the API', () => {
  it('every event object has its resource keys (a charge: apart from `refunds`)', () => {
    for (const e of events) {
      const o = e.data.object as Obj;
      const drop = o.object === 'charge' ? ['refunds'] : [];
      expect(without(keysOf(o), drop), `${e.type} ${e.id}`).toEqual(without(expectedKeys(o.object), drop));
    }
  });

  // Stripe's charge events carry the charge as the API answers it, without `refunds`.
  it('charge events leave out `refunds`', () => {
    const chargeEvents = events.filter((e) => e.data.object.object === 'charge');
    expect(chargeEvents.map((e) => e.type)).toContain('charge.refunded');
    for (const e of chargeEvents) expect(e.data.object, `${e.type} ${e.id}`).not.toHaveProperty('refunds');
  });
});

describe('stripe simulator contract: object names and status values', () => {
  it('`object` is the fixture object name', () => {
    for (const [object, list] of Object.entries(seen)) {
      expect(fixtures[object]?.object, object).toBe(object);
      for (const o of list) expect(o.object).toBe(object);
    }
  });

  it('statuses are values of the stripe package types', () => {
    const check = (object: string, field: string, allowed: string[]) => {
      const values = seen[object].map((o) => o[field]);
      expect(values.length, object).toBeGreaterThan(0);
      for (const v of values) expect(allowed, `${object}.${field}`).toContain(v);
      return new Set(values);
    };
    // Also the statuses the scenario means to reach, so a simulator that stops reaching them fails here.
    expect([...check('payment_intent', 'status', PAYMENT_INTENT_STATUS)].sort()).toEqual(['canceled', 'requires_action', 'requires_confirmation', 'requires_payment_method', 'succeeded']);
    expect([...check('charge', 'status', CHARGE_STATUS)].sort()).toEqual(['failed', 'succeeded']);
    expect([...check('refund', 'status', REFUND_STATUS)]).toEqual(['succeeded']);
    expect([...check('dispute', 'status', DISPUTE_STATUS)].sort()).toEqual(['lost', 'needs_response']);
    expect([...check('checkout.session', 'status', SESSION_STATUS)].sort()).toEqual(['complete', 'expired', 'open']);
    expect([...check('checkout.session', 'payment_status', SESSION_PAYMENT_STATUS)].sort()).toEqual(['paid', 'unpaid']);
    for (const e of events) for (const [field, allowed] of STATUS_BY_OBJECT[e.data.object.object] ?? []) expect(allowed, `${e.type}`).toContain(e.data.object[field]);
  });
});

/** Status fields per `object`, for objects inside events. */
const STATUS_BY_OBJECT: Record<string, [string, string[]][]> = {
  payment_intent: [['status', PAYMENT_INTENT_STATUS]],
  charge: [['status', CHARGE_STATUS]],
  refund: [['status', REFUND_STATUS]],
  dispute: [['status', DISPUTE_STATUS]],
  'checkout.session': [
    ['status', SESSION_STATUS],
    ['payment_status', SESSION_PAYMENT_STATUS],
  ],
};

describe('stripe simulator contract: the refund, dispute and bank-debit life cycles keep the fixtures too', () => {
  /** Top-level keys the `stripe` package types mark optional (`?:`), present only in some states. */
  const OPTIONAL_TOP: Record<string, string[]> = {
    // Stripe.Refund `failure_balance_transaction?`, `failure_reason?`: only once a refund failed.
    refund: ['failure_balance_transaction', 'failure_reason'],
    // Stripe.PaymentMethod `card?`, `us_bank_account?`: one key named after `type`.
    payment_method: ['card', 'us_bank_account'],
  };
  const lifecycle: Record<string, Obj[]> = {};
  const keep2 = <T extends Obj>(o: T): T => {
    (lifecycle[o.object] ??= []).push(o);
    return o;
  };
  let lifecycleEvents: Obj[] = [];
  const wait = async <T>(fn: () => Promise<T | undefined>): Promise<T> => {
    for (let i = 0; i < 200; i++) {
      const v = await fn();
      if (v) return v;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('timed out');
  };

  beforeAll(async () => {
    const since = sim.state.events.length;
    // Refunds: pending → canceled, succeeded → failed.
    const pending = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_pendingRefund', confirm: true });
    const r1 = keep2(await stripe.refunds.create({ payment_intent: pending.id, amount: 500 }));
    await control(`/_sim/refunds/${r1.id}/settle`, { status: 'canceled' });
    keep2(await stripe.refunds.retrieve(r1.id));
    const failing = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_refundFail', confirm: true });
    const r2 = await stripe.refunds.create({ payment_intent: failing.id });
    await control(`/_sim/refunds/${r2.id}/settle`, { status: 'failed' });
    keep2(await stripe.refunds.retrieve(r2.id));
    // An inquiry answered and closed; a partial chargeback won.
    const inquiry = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_createDisputeInquiry', confirm: true });
    const dq = await wait(async () => (await stripe.disputes.list({ payment_intent: inquiry.id })).data[0]);
    keep2(await stripe.disputes.update(dq.id, { evidence: { uncategorized_text: 'Delivered' } }));
    keep2((await control(`/_sim/disputes/${dq.id}/close`, { status: 'warning_closed' })) as Obj);
    const charged = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const dp = await control(`/_sim/charges/${charged.latest_charge}/dispute`, { amount: 1000 });
    await control(`/_sim/disputes/${dp.id}/close`, { status: 'won' });
    keep2(await stripe.disputes.retrieve(dp.id));
    // A bank debit: processing (charge pending), then succeeded.
    const bank = keep2(await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: 'pm_usBankAccount_processing', payment_method_types: ['us_bank_account'], confirm: true }));
    keep2(await stripe.charges.retrieve(String(bank.latest_charge)));
    keep2(await stripe.paymentMethods.retrieve(String(bank.payment_method)));
    await control(`/_sim/payment_intents/${bank.id}/settle`, { outcome: 'succeeded' });
    keep2(await stripe.charges.retrieve(String(bank.latest_charge)));
    lifecycleEvents = sim.state.events.slice(since);
  }, 30_000);

  it('every object and event object has the fixture keys (optional ones allowed where the SDK types say so)', () => {
    const all = [...Object.values(lifecycle).flat(), ...lifecycleEvents.map((e) => e.data.object as Obj)];
    for (const o of all) {
      const optional = OPTIONAL_TOP[o.object] ?? [];
      const drop = o.object === 'charge' ? ['refunds'] : []; // asserted absent above
      expect(without(keysOf(o), [...optional, ...drop]), `${o.object} ${o.id}`).toEqual(without(expectedKeys(o.object), [...optional, ...drop]));
    }
    const drift = all.flatMap((o) => nestedDrift(o.object, o, fixtures[o.object])).filter((d) => !d.startsWith('payment_method.us_bank_account') && !d.startsWith('charge.payment_method_details'));
    expect([...new Set(drift)]).toEqual([]);
  });

  it('they reach the statuses of those life cycles, all values of the stripe package types', () => {
    const statuses = (object: string, allowed: string[]) => {
      const values = [...new Set([...(lifecycle[object] ?? []), ...lifecycleEvents.map((e) => e.data.object).filter((o) => o.object === object)].map((o) => o.status))];
      for (const v of values) expect(allowed, object).toContain(v);
      return values.sort();
    };
    expect(statuses('refund', REFUND_STATUS)).toEqual(['canceled', 'failed', 'pending', 'succeeded']);
    expect(statuses('dispute', DISPUTE_STATUS)).toEqual(['needs_response', 'warning_closed', 'warning_needs_response', 'warning_under_review', 'won']);
    expect(statuses('payment_intent', PAYMENT_INTENT_STATUS)).toEqual(['processing', 'requires_confirmation', 'succeeded']);
    expect(statuses('charge', CHARGE_STATUS)).toEqual(['pending', 'succeeded']);
    expect(lifecycleEvents.map((e) => e.type)).toEqual(
      expect.arrayContaining(['refund.updated', 'refund.failed', 'charge.refund.updated', 'charge.dispute.updated', 'charge.dispute.funds_withdrawn', 'charge.dispute.funds_reinstated', 'charge.dispute.closed', 'charge.pending', 'payment_intent.processing']),
    );
  });
});
