import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type Stripe from 'stripe';
import type { WebhookAnswer } from '../contracts/payments';
import { DEFAULT_SETTINGS } from '../contracts/settings';
import { packages } from '../db/schema';
import { readSettings } from '../db/settings';
import { AppError } from '../lib/errors';
import { constructWebhookEvent, stripeClient } from '../lib/stripe';
import { priceForTokens, tokensForCents } from './payments';

/**
 * Stripe webhooks → the account's DO. Every handler follows the money Stripe reports (I12), not
 * what our own metadata claims: a credit is computed from the amount and currency paid; refunds
 * and disputes are read as their own objects, in their current state, because Stripe delivers
 * events in any order and more than once (https://docs.stripe.com/webhooks#event-ordering).
 *
 * What cannot be applied yet (a refund or dispute of a payment not credited yet) answers 503
 * `payment_not_credited`, so the event stays `failed` and Stripe retries it with backoff for up
 * to three days (https://docs.stripe.com/webhooks#retries); the purchase event applied meanwhile
 * lets the retry succeed. Nothing is marked processed while undone.
 *
 * What can never be applied (an account that does not exist, a currency we do not sell in) is
 * acknowledged (2xx, so Stripe stops retrying), recorded `ignored` with an `error` that starts
 * with `attention:`, and listed for admins (GET /api/admin/stripe-events?attention=1).
 */

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

/** The prefix of a stripe_events `error` that an admin must look at (the event was acknowledged). */
export const ATTENTION = 'attention:';

type Outcome = { status: 'processed' | 'ignored'; userId?: string | null; objectId?: string | null; attention?: string };

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
    await env.DB.prepare(`UPDATE stripe_events SET status = ?, user_id = ?, object_id = ?, error = ?, processed_at = ? WHERE id = ?`)
      .bind(outcome.status, outcome.userId ?? null, outcome.objectId ?? null, outcome.attention ? `${ATTENTION} ${outcome.attention}`.slice(0, 500) : null, Date.now(), event.id)
      .run();
    if (outcome.attention) console.warn('stripe event needs attention', { eventId: event.id, type: event.type, attention: outcome.attention });
    return { status: outcome.status, duplicate: false };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await env.DB.prepare(`UPDATE stripe_events SET status = 'failed', error = ? WHERE id = ?`).bind(message.slice(0, 500), event.id).run();
    // Refusals (AppErrors) answer with their code and are not logged as unhandled; Stripe retries either way.
    if (err instanceof AppError) console.error('stripe event failed', { eventId: event.id, type: event.type, code: err.code, message });
    throw err;
  }
}

const idOf = (v: string | { id: string } | null | undefined): string | null => (typeof v === 'string' ? v : (v?.id ?? null));

async function applyEvent(env: Env, event: Stripe.Event): Promise<Outcome> {
  try {
    return await applyMapped(env, event);
  } catch (err) {
    // No account to apply it to: retrying cannot help. Acknowledge, and flag it for admins.
    if (err instanceof AppError && err.code === 'account_not_found') {
      return { status: 'ignored', objectId: (event.data.object as { id?: string }).id ?? null, attention: `account_not_found: ${err.message}` };
    }
    throw err;
  }
}

async function applyMapped(env: Env, event: Stripe.Event): Promise<Outcome> {
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const session = event.data.object;
      // An async payment method completes the session unpaid; its money arrives (or not) later.
      if (session.mode !== 'payment' || session.payment_status !== 'paid' || !session.payment_intent) return { status: 'ignored', objectId: session.id };
      const piId = idOf(session.payment_intent)!;
      const userId = await userFor(env, session.metadata?.userId, session.customer);
      return creditPayment(env, userId, { id: piId, amountCents: session.amount_total ?? 0, currency: session.currency, metadata: session.metadata ?? {}, paymentMethod: null });
    }
    case 'payment_intent.succeeded': {
      const pi = event.data.object;
      const kind = pi.metadata?.kind;
      if (kind !== 'purchase' && kind !== 'auto_recharge') return { status: 'ignored', objectId: pi.id };
      const userId = await userFor(env, pi.metadata?.userId, pi.customer);
      return creditPayment(env, userId, { id: pi.id, amountCents: pi.amount_received, currency: pi.currency, metadata: pi.metadata, paymentMethod: idOf(pi.payment_method) });
    }
    case 'payment_intent.processing':
      // A bank debit on its way (https://docs.stripe.com/payments/paymentintents/lifecycle): it will
      // succeed or fail later, with its own event. Nothing moves, and auto-recharge stays as it is.
      return { status: 'ignored', objectId: event.data.object.id };
    case 'charge.refunded': {
      // At our API version a Charge has no `refunds` list unless expanded
      // (https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand): list the
      // refunds as their own objects, and use `amount_refunded` (cumulative,
      // https://docs.stripe.com/api/charges/object#charge_object-amount_refunded) only as a cross-check.
      const charge = event.data.object;
      const piId = idOf(charge.payment_intent);
      if (!piId) return { status: 'ignored', objectId: charge.id };
      const userId = await userFor(env, charge.metadata?.userId, charge.customer, piId);
      let listed = 0;
      for await (const refund of stripeClient(env).refunds.list({ charge: charge.id, limit: 100 })) {
        if (refund.status === 'succeeded' || refund.status === 'pending') listed += refund.amount;
        await applyRefund(env, userId, piId, refund);
      }
      const attention = listed === charge.amount_refunded ? undefined : `charge ${charge.id}: amount_refunded ${charge.amount_refunded} but its refunds add up to ${listed}`;
      return { status: 'processed', userId, objectId: charge.id, attention };
    }
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed':
    case 'charge.refund.updated': {
      // The refund as it is now, not as the event saw it: a `pending` event delivered after the
      // `failed` one must not apply it (https://docs.stripe.com/refunds#refund-status).
      const refund = await stripeClient(env).refunds.retrieve(event.data.object.id);
      const piId = idOf(refund.payment_intent);
      if (!piId) return { status: 'ignored', objectId: refund.id };
      const userId = await userFor(env, refund.metadata?.userId, null, piId);
      await applyRefund(env, userId, piId, refund);
      return { status: 'processed', userId, objectId: refund.id };
    }
    case 'charge.dispute.created':
    case 'charge.dispute.updated':
    case 'charge.dispute.funds_withdrawn':
    case 'charge.dispute.funds_reinstated':
    case 'charge.dispute.closed': {
      // The dispute as it is now (events arrive in any order), https://docs.stripe.com/disputes/how-disputes-work.
      const dispute = await stripeClient(env).disputes.retrieve(event.data.object.id);
      const piId = idOf(dispute.payment_intent);
      const userId = await userFor(env, dispute.metadata?.userId, null, piId);
      const stub = env.TOKEN_ACCOUNT.getByName(userId);
      const req = { disputeId: dispute.id, paymentIntentId: piId, disputedCents: dispute.amount };
      let r;
      switch (dispute.status) {
        case 'warning_needs_response':
        case 'warning_under_review':
        case 'warning_closed':
          // An inquiry (https://docs.stripe.com/disputes/how-disputes-work#inquiries): no funds are
          // withdrawn, so nothing is held and the account is not suspended.
          return { status: 'ignored', userId, objectId: dispute.id };
        case 'needs_response':
        case 'under_review':
          r = await stub.openDispute(req);
          break;
        case 'won':
        case 'prevented':
          r = await stub.closeDispute({ ...req, won: true });
          break;
        case 'lost':
          r = await stub.closeDispute({ ...req, won: false });
          break;
        default:
          return { status: 'ignored', userId, objectId: dispute.id };
      }
      if (!r.ok) throw notApplied(r, `dispute ${dispute.id}`);
      return { status: 'processed', userId, objectId: dispute.id };
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

/** A refund in its current state: succeeded → taken back once; failed/canceled → given back; pending → later. */
async function applyRefund(env: Env, userId: string, piId: string, refund: Stripe.Refund): Promise<void> {
  const stub = env.TOKEN_ACCOUNT.getByName(userId);
  if (refund.status === 'succeeded') {
    const r = await stub.refundPayment({ paymentIntentId: piId, refundId: refund.id, refundedCents: refund.amount });
    if (!r.ok) throw notApplied(r, `refund ${refund.id}`);
  } else if (refund.status === 'failed' || refund.status === 'canceled') {
    const r = await stub.reverseRefund(refund.id);
    if (!r.ok) throw notApplied(r, `refund ${refund.id}`);
  }
}

/** A DO refusal as the error to answer: a payment not credited yet is a 503 Stripe retries. */
function notApplied(r: { code: string; message?: string }, what: string): AppError {
  if (r.code === 'not_found') return new AppError('payment_not_credited', `${what}: its payment is not credited yet; Stripe will retry`);
  return AppError.from(r as Parameters<typeof AppError.from>[0], what);
}

/**
 * Strict decimal integer ("0x10", "1e3", " 5", "5.0", "-1" → null): metadata is a hint we wrote
 * ourselves, and anything but our own digits is not even a hint.
 */
export function strictPositiveInt(v: unknown): number | null {
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,15}$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * The tokens a payment buys, from what was paid (I12). A package's tokens only when the amount
 * is that package's price; the metadata's token count only when it costs exactly the amount at
 * today's prices (auto-recharges are priced that way); otherwise the amount at the settings'
 * tokens-per-USD. Metadata is a hint, never the authority.
 */
export async function tokensPaidFor(env: Env, amountCents: number, metadata: Record<string, string>): Promise<number> {
  if (metadata.packageId) {
    const pkg = await drizzle(env.DB).select().from(packages).where(eq(packages.id, metadata.packageId)).get();
    if (pkg && pkg.priceCents === amountCents) return pkg.tokens;
  }
  const hinted = strictPositiveInt(metadata.tokens);
  if (hinted !== null && (await priceForTokens(env, hinted)) === amountCents) return hinted;
  const settings = (await readSettings(env.DB)) ?? DEFAULT_SETTINGS;
  return tokensForCents(amountCents, settings.tokensPerUsd);
}

async function creditPayment(
  env: Env,
  userId: string,
  p: { id: string; amountCents: number; currency: string | null; metadata: Record<string, string>; paymentMethod: string | null },
): Promise<Outcome> {
  // We sell in USD only (https://docs.stripe.com/currencies: amounts are in the currency's
  // smallest unit, so 1,500 JPY is not $15.00): anything else is recorded and flagged, not credited.
  if ((p.currency ?? '').toLowerCase() !== 'usd') {
    return { status: 'ignored', userId, objectId: p.id, attention: `not credited: paid ${p.amountCents} in ${p.currency ?? 'no currency'}, only usd is credited` };
  }
  if (!Number.isSafeInteger(p.amountCents) || p.amountCents <= 0) return { status: 'ignored', userId, objectId: p.id, attention: `not credited: amount ${p.amountCents}` };
  const tokens = await tokensPaidFor(env, p.amountCents, p.metadata);
  if (tokens <= 0) return { status: 'ignored', userId, objectId: p.id, attention: `not credited: ${p.amountCents} cents buy no whole token` };
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
  const hinted = strictPositiveInt(p.metadata.tokens);
  const attention = hinted !== null && hinted !== tokens ? `metadata claimed ${hinted} tokens; ${tokens} credited for ${p.amountCents} cents` : undefined;
  return { status: 'processed', userId, objectId: p.id, attention };
}

/**
 * Maps an event to its account: metadata first, then the Stripe customer, then the credited
 * payment. An id that names no account is caught later: the DO answers `account_not_found`.
 */
async function userFor(env: Env, metaUserId: string | undefined, customer: string | { id: string } | null | undefined, paymentIntentId?: string | null): Promise<string> {
  if (metaUserId) return metaUserId;
  const customerId = idOf(customer);
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
