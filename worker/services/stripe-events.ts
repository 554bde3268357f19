import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type Stripe from 'stripe';
import type { WebhookAnswer } from '../contracts/payments';
import { DEFAULT_SETTINGS } from '../contracts/settings';
import { packages } from '../db/schema';
import { readSettings } from '../db/settings';
import { AppError } from '../lib/errors';
import { constructWebhookEvent, stripeClient } from '../lib/stripe';
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
  type AccountHints,
  type EventPlan,
  type PaidPayment,
} from '../lib/stripe-event-map';
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

async function applyEvent(env: Env, event: Stripe.Event): Promise<Outcome> {
  try {
    return await applyPlan(env, planEvent(event));
  } catch (err) {
    // No account to apply it to: retrying cannot help. Acknowledge, and flag it for admins.
    if (err instanceof AppError && err.code === 'account_not_found') {
      return { status: 'ignored', objectId: (event.data.object as { id?: string }).id ?? null, attention: `account_not_found: ${err.message}` };
    }
    throw err;
  }
}

/** Carries out what the event asks for (planEvent, worker/lib/stripe-event-map.ts). */
async function applyPlan(env: Env, plan: EventPlan): Promise<Outcome> {
  switch (plan.do) {
    case 'ignore':
      return { status: 'ignored', objectId: plan.objectId ?? undefined };
    case 'acknowledge':
      return { status: 'processed', objectId: plan.objectId };
    case 'credit':
      return creditPayment(env, await userFor(env, plan.hints), plan.payment);
    case 'charge-refunds': {
      // At our API version a Charge has no `refunds` list unless expanded
      // (https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand): list the
      // refunds as their own objects, and use `amount_refunded` only as a cross-check.
      const userId = await userFor(env, plan.hints);
      const refunds: Stripe.Refund[] = [];
      for await (const refund of stripeClient(env).refunds.list({ charge: plan.chargeId, limit: 100 })) {
        refunds.push(refund);
        await applyRefund(env, userId, plan.paymentIntentId, refund);
      }
      return { status: 'processed', userId, objectId: plan.chargeId, attention: refundsMismatch(plan.chargeId, plan.amountRefunded, refunds) };
    }
    case 'refund': {
      // The refund as it is now, not as the event saw it: a `pending` event delivered after the
      // `failed` one must not apply it (https://docs.stripe.com/refunds#refund-status).
      const refund = await stripeClient(env).refunds.retrieve(plan.refundId);
      const piId = idOf(refund.payment_intent);
      if (!piId) return { status: 'ignored', objectId: refund.id };
      const userId = await userFor(env, { metaUserId: refund.metadata?.userId, customer: null, paymentIntentId: piId });
      await applyRefund(env, userId, piId, refund);
      return { status: 'processed', userId, objectId: refund.id };
    }
    case 'dispute': {
      // The dispute as it is now (events arrive in any order), https://docs.stripe.com/disputes/how-disputes-work.
      const dispute = await stripeClient(env).disputes.retrieve(plan.disputeId);
      const piId = idOf(dispute.payment_intent);
      const userId = await userFor(env, { metaUserId: dispute.metadata?.userId, customer: null, paymentIntentId: piId });
      const stub = env.TOKEN_ACCOUNT.getByName(userId);
      const req = { disputeId: dispute.id, paymentIntentId: piId, disputedCents: dispute.amount };
      const action = disputeAction(dispute.status);
      // An inquiry (https://docs.stripe.com/disputes/how-disputes-work#inquiries) withdraws no
      // funds: nothing is held and the account is not suspended.
      if (action === 'inquiry' || action === 'ignore') return { status: 'ignored', userId, objectId: dispute.id };
      const r = action === 'open' ? await stub.openDispute(req) : await stub.closeDispute({ ...req, won: action === 'won' });
      if (!r.ok) throw notApplied(r, `dispute ${dispute.id}`);
      return { status: 'processed', userId, objectId: dispute.id };
    }
    case 'recharge-failed': {
      // The PaymentIntent as it is now (a later retry may have succeeded); the account's attempt
      // for it ends: off with Stripe's reason, or credited once if it succeeded after all. An
      // attempt already ended (by the alarm's own retrieve) changes nothing.
      const pi = await stripeClient(env).paymentIntents.retrieve(plan.paymentIntentId);
      const userId = await userFor(env, plan.hints);
      const stub = env.TOKEN_ACCOUNT.getByName(userId);
      const r = await stub.rechargeSettled(pi.id, pi.status, pi.last_payment_error?.message);
      if (!r.ok) throw AppError.from(r, `auto-recharge ${pi.id}`);
      return { status: 'processed', userId, objectId: pi.id };
    }
  }
}

/** A refund in its current state: succeeded → taken back once; failed/canceled → given back; pending → later. */
async function applyRefund(env: Env, userId: string, piId: string, refund: Stripe.Refund): Promise<void> {
  const stub = env.TOKEN_ACCOUNT.getByName(userId);
  const action = refundAction(refund.status);
  if (action === 'take') {
    const r = await stub.refundPayment({ paymentIntentId: piId, refundId: refund.id, refundedCents: refund.amount });
    if (!r.ok) throw notApplied(r, `refund ${refund.id}`);
  } else if (action === 'give-back') {
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
 * The tokens a payment buys, from what was paid (I12): see tokensBought. Looks up the package
 * the metadata names, the price of the tokens it hints at, and the settings' rate.
 */
export async function tokensPaidFor(env: Env, amountCents: number, metadata: Record<string, string>): Promise<number> {
  const pkg = metadata.packageId ? ((await drizzle(env.DB).select().from(packages).where(eq(packages.id, metadata.packageId)).get()) ?? null) : null;
  const hinted = strictPositiveInt(metadata.tokens);
  const hintedPriceCents = hinted === null ? null : await priceForTokens(env, hinted);
  const settings = (await readSettings(env.DB)) ?? DEFAULT_SETTINGS;
  return tokensBought(amountCents, { pkg, hinted, hintedPriceCents, atRate: () => tokensForCents(amountCents, settings.tokensPerUsd) });
}

async function creditPayment(env: Env, userId: string, p: PaidPayment): Promise<Outcome> {
  const refusal = notCreditable(p);
  if (refusal) return { status: 'ignored', userId, objectId: p.id, attention: refusal };
  const tokens = await tokensPaidFor(env, p.amountCents, p.metadata);
  if (tokens <= 0) return { status: 'ignored', userId, objectId: p.id, attention: `not credited: ${p.amountCents} cents buy no whole token` };
  const type = creditTypeOf(p.metadata);
  const stub = env.TOKEN_ACCOUNT.getByName(userId);
  const r = await stub.credit({
    type,
    amount: tokens,
    ref: p.id,
    amountCents: p.amountCents,
    isPurchase: true,
    description: creditDescription(type, tokens),
    metadata: p.metadata.packageId ? { packageId: p.metadata.packageId } : undefined,
  });
  if (!r.ok) throw AppError.from(r, `credit ${p.id}`);
  if (p.paymentMethod) await stub.setDefaultPaymentMethod(p.paymentMethod);
  return { status: 'processed', userId, objectId: p.id, attention: claimMismatch(p.metadata, tokens, p.amountCents) };
}

/**
 * Maps an event to its account: metadata first, then the Stripe customer, then the credited
 * payment. An id that names no account is caught later: the DO answers `account_not_found`.
 */
async function userFor(env: Env, { metaUserId, customer, paymentIntentId }: AccountHints): Promise<string> {
  if (metaUserId) return metaUserId;
  const customerId = customer;
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
    if (pi.customer) return userFor(env, { metaUserId: undefined, customer: idOf(pi.customer) });
  }
  throw new AppError('account_not_found', 'cannot map the event to an account');
}
