#!/usr/bin/env node
// Checks, against Stripe's test mode, the behaviours our payment handlers and the Stripe
// simulator (scripts/stripe-sim) rely on. For people with network access and a real test key:
//
//   STRIPE_SECRET_KEY=sk_test_… npm run stripe:smoke
//
// Without a key it says so and exits 0 (CI and this repository's machines have no network).
// With STRIPE_API_BASE it runs against that Stripe-compatible server instead (the simulator), so
// the simulator can be held to the same checks. Every check names the documentation it follows.
// It creates test-mode objects only (a customer, two PaymentIntents, one refund) and refuses a
// live key.
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';

const key = process.env.STRIPE_SECRET_KEY ?? '';
if (!key) {
  console.log('stripe:smoke: STRIPE_SECRET_KEY is not set; nothing to check (set a sk_test_ key to run it against Stripe test mode).');
  process.exit(0);
}
if (!key.startsWith('sk_test_')) {
  console.error('stripe:smoke: only a test-mode key (sk_test_…) is accepted.');
  process.exit(2);
}

/** The Stripe SDK as the Worker builds it (lib/stripe.ts), optionally pointed at another base URL. */
function client() {
  const config = { maxNetworkRetries: 0, timeout: 30_000 };
  if (process.env.STRIPE_API_BASE) {
    const url = new URL(process.env.STRIPE_API_BASE);
    Object.assign(config, { host: url.hostname, port: url.port || (url.protocol === 'https:' ? 443 : 80), protocol: url.protocol.replace(':', '') });
  }
  return new Stripe(key, config);
}

const stripe = client();
const run = randomUUID();
const results = [];

/** Runs one named check; a failure is recorded and the run goes on. */
async function check(name, source, fn) {
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`  ✓ ${name}`);
  } catch (err) {
    results.push({ name, ok: false, error: err instanceof Error ? err.message : String(err) });
    console.log(`  ✗ ${name}\n      ${err instanceof Error ? err.message : String(err)}\n      (${source})`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

console.log(`stripe:smoke against ${process.env.STRIPE_API_BASE ?? 'api.stripe.com'} (run ${run})`);

const customer = await stripe.customers.create({ email: `smoke+${run}@example.com`, metadata: { smokeRun: run } }, { idempotencyKey: `smoke:customer:${run}` });

// A purchase as Checkout would leave it: a confirmed card PaymentIntent that saves the card.
let purchase;
await check('a card purchase succeeds and saves the card for off-session use', 'docs.stripe.com/payments/save-during-payment', async () => {
  purchase = await stripe.paymentIntents.create(
    { amount: 1500, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true, setup_future_usage: 'off_session', automatic_payment_methods: { enabled: true, allow_redirects: 'never' }, metadata: { smokeRun: run, kind: 'purchase' } },
    { idempotencyKey: `smoke:purchase:${run}` },
  );
  assert(purchase.status === 'succeeded', `status ${purchase.status}`);
  assert(typeof purchase.latest_charge === 'string', 'latest_charge is not an id');
});

await check('a PaymentIntent has no `charges` list unless expanded (API 2022-11-15)', 'docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand', async () => {
  const pi = await stripe.paymentIntents.retrieve(purchase.id);
  assert(!('charges' in pi), 'PaymentIntent carries `charges`');
});

await check('a refund is its own object; the Charge has no `refunds` list unless expanded, and `amount_refunded` is cumulative', 'docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand; docs.stripe.com/api/charges/object#charge_object-amount_refunded', async () => {
  const r1 = await stripe.refunds.create({ payment_intent: purchase.id, amount: 500, metadata: { smokeRun: run } }, { idempotencyKey: `smoke:refund1:${run}` });
  assert(r1.object === 'refund' && ['pending', 'succeeded'].includes(r1.status ?? ''), `refund status ${r1.status}`);
  const charge = await stripe.charges.retrieve(purchase.latest_charge);
  assert(!('refunds' in charge), 'Charge carries `refunds` without expand');
  assert(charge.amount_refunded === 500, `amount_refunded ${charge.amount_refunded}`);
  const expanded = await stripe.charges.retrieve(purchase.latest_charge, { expand: ['refunds'] });
  assert(expanded.refunds && expanded.refunds.data.some((r) => r.id === r1.id), 'expand[]=refunds does not list the refund');
});

// Auto-recharge: an off-session PaymentIntent created and confirmed with an idempotency key.
const pm = purchase ? (typeof purchase.payment_method === 'string' ? purchase.payment_method : purchase.payment_method?.id) : null;
const rechargeKey = `smoke:recharge:${run}`;
const rechargeParams = { amount: 1000, currency: 'usd', customer: customer.id, payment_method: pm ?? 'pm_card_visa', off_session: true, confirm: true, metadata: { smokeRun: run, kind: 'auto_recharge' } };
let first;
await check('the same key and parameters replay the first PaymentIntent (Idempotent-Replayed), no second payment', 'docs.stripe.com/api/idempotent_requests', async () => {
  first = await stripe.paymentIntents.create(rechargeParams, { idempotencyKey: rechargeKey });
  const again = await stripe.paymentIntents.create(rechargeParams, { idempotencyKey: rechargeKey });
  assert(again.id === first.id, `second id ${again.id} ≠ ${first.id}`);
  assert(again.lastResponse.headers['idempotent-replayed'] === 'true', 'no Idempotent-Replayed: true header on the replay');
  const list = await stripe.paymentIntents.list({ customer: customer.id, limit: 10 });
  assert(list.data.filter((p) => p.metadata?.kind === 'auto_recharge').length === 1, 'more than one recharge PaymentIntent for the customer');
});

await check('the same key with other parameters is refused (400 idempotency_error)', 'docs.stripe.com/idempotency ("compares incoming parameters to those of the original request and errors")', async () => {
  try {
    await stripe.paymentIntents.create({ ...rechargeParams, amount: 1001 }, { idempotencyKey: rechargeKey });
  } catch (err) {
    assert(err.type === 'StripeIdempotencyError' && err.statusCode === 400, `got ${err.type} ${err.statusCode}`);
    return;
  }
  throw new Error('accepted');
});

await check('an amount under 50¢ is refused with amount_too_small', 'docs.stripe.com/currencies#minimum-and-maximum-charge-amounts; docs.stripe.com/error-codes#amount-too-small', async () => {
  try {
    await stripe.paymentIntents.create({ amount: 49, currency: 'usd', customer: customer.id }, { idempotencyKey: `smoke:small:${run}` });
  } catch (err) {
    assert(err.code === 'amount_too_small', `got ${err.type} ${err.code}`);
    return;
  }
  throw new Error('accepted');
});

await check('an idempotency key longer than 255 characters is refused', 'docs.stripe.com/idempotency ("Idempotency keys are up to 255 characters long")', async () => {
  try {
    await stripe.customers.create({ metadata: { smokeRun: run } }, { idempotencyKey: 'k'.repeat(256) });
  } catch (err) {
    assert(err.statusCode === 400, `got ${err.type} ${err.statusCode}`);
    return;
  }
  throw new Error('accepted');
});

const failed = results.filter((r) => !r.ok);
console.log(`stripe:smoke: ${results.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
