import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type Stripe from 'stripe';
import type { AutoRechargeInput, AutoRechargeView } from '../contracts/account';
import type { CheckoutAnswer, CheckoutInput, CheckoutStatusAnswer } from '../contracts/payments';
import { DEFAULT_SETTINGS } from '../contracts/settings';
import { packages } from '../db/schema';
import { readSettings } from '../db/settings';
import { newId } from '../lib/crypto';
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
  const session = await stripe.checkout.sessions.create(
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
    { idempotencyKey: `checkout:${user.id}:${input.idempotencyKey ?? newId('chk')}` },
  );
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
  const r = unwrap(await env.TOKEN_ACCOUNT.getByName(userId).configureAutoRecharge({ ...cfg, priceCents, monthlyLimitCents: cfg.monthlyLimitCents ?? null }));
  return r.balance.autoRecharge;
}
