import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type Stripe from 'stripe';
import type { AutoRechargeInput, AutoRechargeView } from '../contracts/account';
import type { CheckoutAnswer, CheckoutInput, CheckoutStatusAnswer, WebhookAnswer } from '../contracts/payments';
import { DEFAULT_SETTINGS } from '../contracts/settings';
import { packages } from '../db/schema';
import { readSettings } from '../db/settings';
import { newId, sha256Hex } from '../lib/crypto';
import { AppError, unwrap } from '../lib/errors';
import { constructWebhookEvent, stripeClient } from '../lib/stripe';
import type { AuthUser } from './auth';

/** Tokens bought for `cents` at the settings' rate (floor: never sell a fraction of a token). */
export function tokensForCents(cents: number, tokensPerUsd: number): number {
  return Math.floor((cents * tokensPerUsd) / 100);
}

/** Price of `tokens`: the package's price when the amount equals a package, otherwise the per-USD rate (rounded up). */
export async function priceForTokens(env: Env, tokens: number): Promise<number> {
  const pkg = await drizzle(env.DB).select().from(packages).where(and(eq(packages.tokens, tokens), eq(packages.active, true))).get();
  if (pkg) return pkg.priceCents;
  const settings = (await readSettings(env.DB)) ?? DEFAULT_SETTINGS;
  return Math.ceil((tokens * 100) / settings.tokensPerUsd);
}

/** The user's Stripe customer, created once (Stripe idempotency key + the DO keeps the first id). */
export async function ensureCustomer(env: Env, stripe: Stripe, user: AuthUser): Promise<string> {
  const stub = env.TOKEN_ACCOUNT.getByName(user.id);
  const profile = unwrap(await stub.getPaymentProfile());
  if (profile.stripeCustomerId) return profile.stripeCustomerId;
  const customer = await stripe.customers.create({ email: user.email, metadata: { userId: user.id } }, { idempotencyKey: `customer:${user.id}` });
  const saved = unwrap(await stub.setStripeCustomer(customer.id));
  await env.DB.prepare('INSERT OR IGNORE INTO stripe_customers (customer_id, user_id, created_at) VALUES (?, ?, ?)').bind(saved.stripeCustomerId, user.id, Date.now()).run();
  return saved.stripeCustomerId;
}

/** Stripe's longest idempotency key (https://docs.stripe.com/api/idempotent_requests: "up to 255 characters"). */
export const STRIPE_MAX_IDEMPOTENCY_KEY = 255;

/**
 * The Stripe idempotency key of a user's checkout: `checkout:<user id>:<caller key>`, or, when
 * that would pass Stripe's 255 characters, `checkout:<user id>:sha256:<hex of the caller key>`
 * (at most 9 + 128 + 1 + 71 = 209 characters for the longest user id). Keys that fit are used
 * as they are, so a retry sends the key it sent before this rule.
 */
export async function checkoutKey(userId: string, callerKey: string): Promise<string> {
  const plain = `checkout:${userId}:${callerKey}`;
  return plain.length <= STRIPE_MAX_IDEMPOTENCY_KEY ? plain : `checkout:${userId}:sha256:${await sha256Hex(callerKey)}`;
}

/**
 * A Checkout Session in payment mode for a package or a custom amount. The card is saved for
 * off-session use; metadata on the session and its PaymentIntent says who gets how many tokens.
 */
export async function createCheckout(
  env: Env,
  user: AuthUser,
  input: CheckoutInput,
  origin: string,
): Promise<CheckoutAnswer> {
  const settings = (await readSettings(env.DB)) ?? DEFAULT_SETTINGS;
  let tokens: number;
  let amountCents: number;
  let lineItem: Stripe.Checkout.SessionCreateParams.LineItem;
  if (input.packageId !== undefined) {
    const pkg = await drizzle(env.DB).select().from(packages).where(eq(packages.id, input.packageId)).get();
    if (!pkg || !pkg.active) throw new AppError('package_not_found');
    tokens = pkg.tokens;
    amountCents = pkg.priceCents;
    // Seeded packages carry placeholder price ids until `npm run stripe:setup` writes real ones.
    lineItem = pkg.stripePriceId.startsWith('price_') && !pkg.stripePriceId.startsWith('price_placeholder')
      ? { price: pkg.stripePriceId, quantity: 1 }
      : { price_data: { currency: 'usd', unit_amount: pkg.priceCents, product_data: { name: `${pkg.name} — ${pkg.tokens.toLocaleString('en-US')} tokens` } }, quantity: 1 };
  } else {
    amountCents = input.amountCents!;
    if (amountCents < settings.minimumPurchaseCents) {
      throw new AppError('bad_request', `The minimum purchase is $${(settings.minimumPurchaseCents / 100).toFixed(2)}`);
    }
    tokens = tokensForCents(amountCents, settings.tokensPerUsd);
    lineItem = { price_data: { currency: 'usd', unit_amount: amountCents, product_data: { name: `${tokens.toLocaleString('en-US')} tokens` } }, quantity: 1 };
  }
  const stripe = stripeClient(env);
  const customer = await ensureCustomer(env, stripe, user);
  const metadata: Record<string, string> = { userId: user.id, tokens: String(tokens), kind: 'purchase' };
  if (input.packageId) metadata.packageId = input.packageId;
  let session: Stripe.Checkout.Session;
  try {
    session = await stripe.checkout.sessions.create(
      {
        mode: 'payment',
        customer,
        client_reference_id: user.id,
        line_items: [lineItem],
        metadata,
        payment_intent_data: { setup_future_usage: 'off_session', metadata },
        success_url: `${origin}/tokens?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
        cancel_url: `${origin}/tokens?checkout=cancelled`,
      },
      { idempotencyKey: await checkoutKey(user.id, input.idempotencyKey ?? newId('chk')) },
    );
  } catch (err) {
    // The same key with other parameters (another package or amount): Stripe answers 400
    // `idempotency_error` (https://docs.stripe.com/api/idempotent_requests,
    // https://docs.stripe.com/error-handling#idempotency-errors); the caller's mistake, not ours.
    if ((err as { type?: string }).type === 'StripeIdempotencyError') throw new AppError('idempotency_conflict', 'This idempotency key was already used for a different checkout');
    throw err;
  }
  if (!session.url) throw new AppError('upstream_unavailable', 'Stripe returned no checkout URL');
  return { url: session.url, sessionId: session.id, tokens, amountCents };
}

/**
 * Where a checkout the user came back from stands: paid or not, and whether its tokens are in
 * the account yet. The success URL itself proves nothing; this asks Stripe and the ledger.
 */
export async function checkoutStatus(env: Env, user: AuthUser, sessionId: string): Promise<CheckoutStatusAnswer> {
  let session: Stripe.Checkout.Session;
  try {
    session = await stripeClient(env).checkout.sessions.retrieve(sessionId);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) throw new AppError('not_found', 'Checkout session not found');
    throw err;
  }
  if (session.metadata?.userId !== user.id) throw new AppError('not_found', 'Checkout session not found');
  const pi = typeof session.payment_intent === 'string' ? session.payment_intent : (session.payment_intent?.id ?? null);
  const entry = pi ? await env.TOKEN_ACCOUNT.getByName(user.id).findByRef(pi) : null;
  return {
    sessionId: session.id,
    status: session.status,
    paymentStatus: session.payment_status,
    tokens: Number(session.metadata?.tokens ?? 0),
    amountCents: session.amount_total,
    credited: entry !== null,
    paymentIntentId: pi,
  };
}

/** Saves the auto-recharge settings on the account (priced here, from packages and settings). */
export async function configureAutoRecharge(env: Env, userId: string, cfg: AutoRechargeInput): Promise<AutoRechargeView> {
  const priceCents = await priceForTokens(env, cfg.amount);
  // A recharge is a purchase: never below the minimum purchase (itself ≥ Stripe's 50¢ minimum charge).
  const minimum = ((await readSettings(env.DB)) ?? DEFAULT_SETTINGS).minimumPurchaseCents;
  if (cfg.enabled && priceCents < minimum) {
    throw new AppError('bad_request', `Invalid request: amount: an auto-recharge costs at least the minimum purchase ($${(minimum / 100).toFixed(2)}); ${cfg.amount} tokens cost $${(priceCents / 100).toFixed(2)}`);
  }
  const r = unwrap(await env.TOKEN_ACCOUNT.getByName(userId).configureAutoRecharge({ ...cfg, priceCents, monthlyLimitCents: cfg.monthlyLimitCents ?? null }));
  return r.balance.autoRecharge;
}

// ---------------------------------------------------------------- webhooks

/** Verifies the Stripe-Signature header over the raw body; anything off is a 400 with no effect. */
export async function verifyWebhook(env: Env, rawBody: string, signature: string | null): Promise<Stripe.Event> {
  if (!env.STRIPE_WEBHOOK_SECRET) throw new AppError('upstream_unavailable', 'Webhooks are not configured (STRIPE_WEBHOOK_SECRET is not set)');
  if (!signature) throw new AppError('bad_request', 'Missing Stripe-Signature header');
  try {
    return await constructWebhookEvent(rawBody, signature, env.STRIPE_WEBHOOK_SECRET);
  } catch {
    throw new AppError('bad_request', 'Invalid Stripe webhook signature');
  }
}

type Outcome = { status: 'processed' | 'ignored'; userId?: string | null; objectId?: string | null };

/**
 * Records the event, applies it once and marks the outcome. Deduplication by event id is a
 * shortcut; exactly-once crediting comes from the DO keying every credit by PaymentIntent id
 * (or refund/dispute id), since different events describe the same money.
 */
export async function handleWebhookEvent(env: Env, event: Stripe.Event): Promise<Omit<WebhookAnswer, 'received'>> {
  const now = Date.now();
  const inserted = await env.DB.prepare(
    `INSERT INTO stripe_events (id, type, status, stripe_created, received_at) VALUES (?, ?, 'processing', ?, ?)
     ON CONFLICT (id) DO UPDATE SET attempts = attempts + 1 WHERE status IN ('processing', 'failed')
     RETURNING status, attempts`,
  )
    .bind(event.id, event.type, event.created, now)
    .first<{ status: string; attempts: number }>();
  if (!inserted) return { status: 'processed', duplicate: true }; // already processed or ignored
  try {
    const outcome = await applyEvent(env, event);
    await env.DB.prepare(`UPDATE stripe_events SET status = ?, user_id = ?, object_id = ?, error = NULL, processed_at = ? WHERE id = ?`)
      .bind(outcome.status, outcome.userId ?? null, outcome.objectId ?? null, Date.now(), event.id)
      .run();
    return { status: outcome.status, duplicate: false };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await env.DB.prepare(`UPDATE stripe_events SET status = 'failed', error = ? WHERE id = ?`).bind(message.slice(0, 500), event.id).run();
    // Refusals (AppErrors) answer with their code and are not logged as unhandled; Stripe retries either way.
    if (err instanceof AppError) console.error('stripe event failed', { eventId: event.id, type: event.type, code: err.code, message });
    throw err;
  }
}

async function applyEvent(env: Env, event: Stripe.Event): Promise<Outcome> {
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const session = event.data.object;
      if (session.mode !== 'payment' || session.payment_status !== 'paid' || !session.payment_intent) return { status: 'ignored', objectId: session.id };
      const piId = typeof session.payment_intent === 'string' ? session.payment_intent : session.payment_intent.id;
      const userId = await userFor(env, session.metadata?.userId, session.customer);
      return creditPayment(env, userId, { id: piId, amountCents: session.amount_total ?? 0, metadata: session.metadata ?? {}, paymentMethod: null });
    }
    case 'payment_intent.succeeded': {
      const pi = event.data.object;
      const kind = pi.metadata?.kind;
      if (kind !== 'purchase' && kind !== 'auto_recharge') return { status: 'ignored', objectId: pi.id };
      const userId = await userFor(env, pi.metadata?.userId, pi.customer);
      const pm = typeof pi.payment_method === 'string' ? pi.payment_method : (pi.payment_method?.id ?? null);
      return creditPayment(env, userId, { id: pi.id, amountCents: pi.amount_received || pi.amount, metadata: pi.metadata, paymentMethod: pm });
    }
    case 'charge.refunded': {
      const charge = event.data.object;
      const piId = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
      if (!piId) return { status: 'ignored', objectId: charge.id };
      const userId = await userFor(env, charge.metadata?.userId, charge.customer, piId);
      for (const refund of charge.refunds?.data ?? []) {
        if (refund.status === 'failed' || refund.status === 'canceled') continue;
        const r = await env.TOKEN_ACCOUNT.getByName(userId).refundPayment({ paymentIntentId: piId, refundId: refund.id, refundedCents: refund.amount });
        if (!r.ok && r.code !== 'not_found') throw AppError.from(r, `refund ${refund.id}`);
      }
      return { status: 'processed', userId, objectId: charge.id };
    }
    case 'charge.dispute.created':
    case 'charge.dispute.closed': {
      const dispute = event.data.object;
      const piId = typeof dispute.payment_intent === 'string' ? dispute.payment_intent : (dispute.payment_intent?.id ?? null);
      const userId = await userFor(env, dispute.metadata?.userId, null, piId);
      const stub = env.TOKEN_ACCOUNT.getByName(userId);
      const r =
        event.type === 'charge.dispute.created'
          ? await stub.openDispute({ disputeId: dispute.id, paymentIntentId: piId })
          : dispute.status === 'won' || dispute.status === 'lost'
            ? await stub.closeDispute({ disputeId: dispute.id, paymentIntentId: piId, won: dispute.status === 'won' })
            : null;
      if (r && !r.ok) throw AppError.from(r, `dispute ${dispute.id}`);
      return { status: r ? 'processed' : 'ignored', userId, objectId: dispute.id };
    }
    case 'checkout.session.async_payment_failed':
    case 'payment_intent.payment_failed':
      // Nothing to move: no tokens were credited. Auto-recharge failures are handled by the
      // account's own alarm from Stripe's answer; the event is kept for the admin's view.
      return { status: 'processed', objectId: (event.data.object as { id: string }).id };
    default:
      return { status: 'ignored' };
  }
}

async function creditPayment(
  env: Env,
  userId: string,
  p: { id: string; amountCents: number; metadata: Record<string, string>; paymentMethod: string | null },
): Promise<Outcome> {
  const tokens = Number(p.metadata.tokens);
  if (!Number.isSafeInteger(tokens) || tokens <= 0) throw new AppError('bad_request', `payment ${p.id} has no valid tokens metadata`);
  const type = p.metadata.kind === 'auto_recharge' ? 'auto_recharge' : 'purchase';
  const stub = env.TOKEN_ACCOUNT.getByName(userId);
  const r = await stub.credit({
    type,
    amount: tokens,
    ref: p.id,
    amountCents: p.amountCents,
    isPurchase: true,
    description: type === 'purchase' ? `Purchase of ${tokens.toLocaleString('en-US')} tokens` : `Auto-recharge of ${tokens.toLocaleString('en-US')} tokens`,
    metadata: p.metadata.packageId ? { packageId: p.metadata.packageId } : undefined,
  });
  if (!r.ok) throw AppError.from(r, `credit ${p.id}`);
  if (p.paymentMethod) await stub.setDefaultPaymentMethod(p.paymentMethod);
  return { status: 'processed', userId, objectId: p.id };
}

/** Maps an event to its account: metadata first, then the Stripe customer, then the credited payment. */
async function userFor(env: Env, metaUserId: string | undefined, customer: string | { id: string } | null | undefined, paymentIntentId?: string | null): Promise<string> {
  if (metaUserId) return metaUserId;
  const customerId = typeof customer === 'string' ? customer : customer?.id;
  if (customerId) {
    const row = await env.DB.prepare('SELECT user_id FROM stripe_customers WHERE customer_id = ?').bind(customerId).first<{ user_id: string }>();
    if (row) return row.user_id;
  }
  if (paymentIntentId) {
    const row = await env.DB.prepare('SELECT user_id FROM token_transactions WHERE ref = ? LIMIT 1').bind(paymentIntentId).first<{ user_id: string }>();
    if (row) return row.user_id;
    // D1 may not have the credit yet (outbox delay): ask Stripe whose payment it is.
    const pi = await stripeClient(env).paymentIntents.retrieve(paymentIntentId);
    if (pi.metadata?.userId) return pi.metadata.userId;
    if (pi.customer) return userFor(env, undefined, pi.customer);
  }
  throw new AppError('account_not_found', 'cannot map the event to an account');
}
