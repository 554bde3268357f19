import type Stripe from 'stripe';

/**
 * The pure half of the Stripe webhook mapping (worker/services/stripe-events.ts does the I/O):
 * which events move money and what they name, what a refund's or dispute's current status
 * means for the tokens, and the checks a payment must pass before it is credited. Kept free of
 * D1, the DO and the Stripe client so the plain-Node unit project (and Stryker) can test every
 * branch (test/unit/lib/stripe-event-map.test.ts).
 */

/** A payment as the handlers credit it: the amount and currency Stripe reports as paid. */
export interface PaidPayment {
  id: string;
  amountCents: number;
  currency: string | null;
  metadata: Record<string, string>;
  paymentMethod: string | null;
}

/** Where an event's account is looked for: our metadata, the Stripe customer, the credited payment. */
export interface AccountHints {
  metaUserId: string | undefined;
  customer: string | null;
  paymentIntentId?: string | null;
}

/** What one event asks for. `ignore`: nothing moves; `acknowledge`: nothing moves but the event counts as processed. */
export type EventPlan =
  | { do: 'ignore'; objectId: string | null }
  | { do: 'acknowledge'; objectId: string }
  | { do: 'credit'; payment: PaidPayment; hints: AccountHints }
  | { do: 'charge-refunds'; chargeId: string; paymentIntentId: string; amountRefunded: number; hints: AccountHints }
  | { do: 'refund'; refundId: string }
  | { do: 'dispute'; disputeId: string }
  | { do: 'recharge-failed'; paymentIntentId: string; hints: AccountHints };

/** A string id or an expanded object's id. */
export const idOf = (v: string | { id: string } | null | undefined): string | null => (typeof v === 'string' ? v : (v?.id ?? null));

/**
 * Maps an event to what it asks for, from the event's own object. Refunds and disputes are
 * re-read from Stripe by the caller (events arrive in any order,
 * https://docs.stripe.com/webhooks#event-ordering), so only their ids are taken here.
 */
export function planEvent(event: Stripe.Event): EventPlan {
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const session = event.data.object;
      // An async payment method completes the session unpaid; its money arrives (or not) later.
      if (session.mode !== 'payment' || session.payment_status !== 'paid' || !session.payment_intent) return { do: 'ignore', objectId: session.id };
      return {
        do: 'credit',
        payment: { id: idOf(session.payment_intent)!, amountCents: session.amount_total ?? 0, currency: session.currency, metadata: session.metadata ?? {}, paymentMethod: null },
        hints: { metaUserId: session.metadata?.userId, customer: idOf(session.customer) },
      };
    }
    case 'payment_intent.succeeded': {
      const pi = event.data.object;
      const kind = pi.metadata?.kind;
      if (kind !== 'purchase' && kind !== 'auto_recharge') return { do: 'ignore', objectId: pi.id };
      return {
        do: 'credit',
        payment: { id: pi.id, amountCents: pi.amount_received, currency: pi.currency, metadata: pi.metadata, paymentMethod: idOf(pi.payment_method) },
        hints: { metaUserId: pi.metadata?.userId, customer: idOf(pi.customer) },
      };
    }
    case 'payment_intent.processing':
      // A bank debit on its way (https://docs.stripe.com/payments/paymentintents/lifecycle): it will
      // succeed or fail later, with its own event. Nothing moves, and auto-recharge stays as it is.
      return { do: 'ignore', objectId: event.data.object.id };
    case 'charge.refunded': {
      const charge = event.data.object;
      const piId = idOf(charge.payment_intent);
      if (!piId) return { do: 'ignore', objectId: charge.id };
      return { do: 'charge-refunds', chargeId: charge.id, paymentIntentId: piId, amountRefunded: charge.amount_refunded, hints: { metaUserId: charge.metadata?.userId, customer: idOf(charge.customer), paymentIntentId: piId } };
    }
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed':
    case 'charge.refund.updated':
      return { do: 'refund', refundId: event.data.object.id };
    case 'charge.dispute.created':
    case 'charge.dispute.updated':
    case 'charge.dispute.funds_withdrawn':
    case 'charge.dispute.funds_reinstated':
    case 'charge.dispute.closed':
      return { do: 'dispute', disputeId: event.data.object.id };
    case 'payment_intent.payment_failed': {
      // An auto-recharge's debit failed (a declined card, or a US bank debit that failed days
      // later, https://docs.stripe.com/payments/ach-direct-debit#timing): its attempt must end.
      const pi = event.data.object;
      if (pi.metadata?.kind === 'auto_recharge') return { do: 'recharge-failed', paymentIntentId: pi.id, hints: { metaUserId: pi.metadata.userId, customer: idOf(pi.customer) } };
      return { do: 'acknowledge', objectId: pi.id };
    }
    case 'checkout.session.async_payment_failed':
      // Nothing to move: no tokens were credited. The event is kept for the admin's view.
      return { do: 'acknowledge', objectId: event.data.object.id };
    default:
      return { do: 'ignore', objectId: null };
  }
}

/**
 * What a refund in its current state does to the tokens (https://docs.stripe.com/refunds#refund-status):
 * succeeded → taken back once; failed or canceled → given back (if they were taken); pending,
 * requires_action → nothing yet.
 */
export function refundAction(status: string | null): 'take' | 'give-back' | 'wait' {
  if (status === 'succeeded') return 'take';
  if (status === 'failed' || status === 'canceled') return 'give-back';
  return 'wait';
}

/**
 * What a dispute in its current state does (https://docs.stripe.com/disputes/how-disputes-work):
 * an inquiry (`warning_*`) withdraws no funds, so nothing is held and nothing suspended; an open
 * chargeback holds the disputed share; won/prevented gives it back; lost keeps it.
 */
export function disputeAction(status: string): 'inquiry' | 'open' | 'won' | 'lost' | 'ignore' {
  switch (status) {
    case 'warning_needs_response':
    case 'warning_under_review':
    case 'warning_closed':
      return 'inquiry';
    case 'needs_response':
    case 'under_review':
      return 'open';
    case 'won':
    case 'prevented':
      return 'won';
    case 'lost':
      return 'lost';
    default:
      return 'ignore';
  }
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
 * Why a paid payment is not credited at all, or null. We sell in USD only
 * (https://docs.stripe.com/currencies: amounts are in the currency's smallest unit, so 1,500 JPY
 * is not $15.00): anything else is recorded and flagged, not credited.
 */
export function notCreditable(p: Pick<PaidPayment, 'amountCents' | 'currency'>): string | null {
  if ((p.currency ?? '').toLowerCase() !== 'usd') return `not credited: paid ${p.amountCents} in ${p.currency ?? 'no currency'}, only usd is credited`;
  if (!Number.isSafeInteger(p.amountCents) || p.amountCents <= 0) return `not credited: amount ${p.amountCents}`;
  return null;
}

/**
 * The tokens a payment buys, from what was paid (I12), given what the caller looked up: the
 * named package's tokens only when the amount is that package's price; the metadata's count only
 * when it costs exactly the amount at today's prices (`hintedPriceCents`); otherwise `atRate`
 * (the amount at the settings' tokens-per-USD). Metadata is a hint, never the authority.
 */
export function tokensBought(amountCents: number, o: { pkg: { priceCents: number; tokens: number } | null; hinted: number | null; hintedPriceCents: number | null; atRate: () => number }): number {
  if (o.pkg && o.pkg.priceCents === amountCents) return o.pkg.tokens;
  if (o.hinted !== null && o.hintedPriceCents === amountCents) return o.hinted;
  return o.atRate();
}

/** The ledger type of a paid credit: an auto-recharge's own, every other payment a purchase. */
export function creditTypeOf(metadata: Record<string, string>): 'purchase' | 'auto_recharge' {
  return metadata.kind === 'auto_recharge' ? 'auto_recharge' : 'purchase';
}

/** The ledger description of a paid credit. */
export function creditDescription(type: 'purchase' | 'auto_recharge', tokens: number): string {
  return type === 'purchase' ? `Purchase of ${tokens.toLocaleString('en-US')} tokens` : `Auto-recharge of ${tokens.toLocaleString('en-US')} tokens`;
}

/** A note for admins when the metadata claimed other tokens than were credited, or undefined. */
export function claimMismatch(metadata: Record<string, string>, tokens: number, amountCents: number): string | undefined {
  const hinted = strictPositiveInt(metadata.tokens);
  return hinted !== null && hinted !== tokens ? `metadata claimed ${hinted} tokens; ${tokens} credited for ${amountCents} cents` : undefined;
}

/**
 * The cross-check of a refunded charge: its cumulative `amount_refunded`
 * (https://docs.stripe.com/api/charges/object#charge_object-amount_refunded) against its refunds
 * that hold money (succeeded or pending). Undefined when they agree, else a note for admins.
 */
export function refundsMismatch(chargeId: string, amountRefunded: number, refunds: ReadonlyArray<{ status: string | null; amount: number }>): string | undefined {
  const listed = refunds.reduce((sum, r) => (r.status === 'succeeded' || r.status === 'pending' ? sum + r.amount : sum), 0);
  return listed === amountRefunded ? undefined : `charge ${chargeId}: amount_refunded ${amountRefunded} but its refunds add up to ${listed}`;
}
