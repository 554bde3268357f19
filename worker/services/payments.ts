import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type Stripe from 'stripe';
import type { AutoRechargeInput, AutoRechargeView } from '../contracts/account';
import type { CheckoutAnswer, CheckoutInput, CheckoutStatusAnswer } from '../contracts/payments';
import { DEFAULT_SETTINGS } from '../contracts/settings';
import { packages } from '../db/schema';
import { readSettings } from '../db/settings';
import { newId, sha256Hex } from '../lib/crypto';
import { AppError, unwrap } from '../lib/errors';
import { stripeClient } from '../lib/stripe';
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

/**
 * Saves the auto-recharge settings on the account (priced here, from packages and settings). A
 * target recharge is priced when it starts (recharge-policy.ts targetRecharge), at the rate and
 * minimum purchase saved with it here.
 */
export async function configureAutoRecharge(env: Env, userId: string, cfg: AutoRechargeInput): Promise<AutoRechargeView> {
  const settings = (await readSettings(env.DB)) ?? DEFAULT_SETTINGS;
  if (cfg.mode === 'target') {
    const r = unwrap(
      await env.TOKEN_ACCOUNT.getByName(userId).configureAutoRecharge({
        enabled: cfg.enabled,
        threshold: cfg.threshold,
        amount: 0,
        priceCents: 0, // priced by the DO (payment-profile.ts targetConfig)
        monthlyLimitCents: cfg.monthlyLimitCents ?? null,
        mode: 'target',
        target: cfg.target,
        tokensPerUsd: settings.tokensPerUsd,
        minimumCents: settings.minimumPurchaseCents,
      }),
    );
    return r.balance.autoRecharge;
  }
  const amount = cfg.amount!; // the contract requires it in fixed mode
  const priceCents = await priceForTokens(env, amount);
  // A recharge is a purchase: never below the minimum purchase (itself ≥ Stripe's 50¢ minimum charge).
  const minimum = settings.minimumPurchaseCents;
  if (cfg.enabled && priceCents < minimum) {
    throw new AppError('bad_request', `Invalid request: amount: an auto-recharge costs at least the minimum purchase ($${(minimum / 100).toFixed(2)}); ${amount} tokens cost $${(priceCents / 100).toFixed(2)}`);
  }
  const r = unwrap(await env.TOKEN_ACCOUNT.getByName(userId).configureAutoRecharge({ enabled: cfg.enabled, threshold: cfg.threshold, amount, priceCents, monthlyLimitCents: cfg.monthlyLimitCents ?? null }));
  return r.balance.autoRecharge;
}
