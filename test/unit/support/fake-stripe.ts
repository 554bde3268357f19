/**
 * A fake of Stripe's PaymentIntents for the auto-recharge unit tests (worker/do/auto-recharge.ts
 * is handed Stripe, never the other way round). It keeps PaymentIntents in memory as Stripe does:
 *
 * - a key replays its first answer, a 500 included, until it is pruned after 24 h; then the same
 *   key runs as a new request; a request that fails validation saves nothing for its key
 *   (https://docs.stripe.com/api/idempotent_requests, https://docs.stripe.com/idempotency);
 * - `created` is a Unix time in seconds (`"created": 1680800504` in the list example at
 *   https://docs.stripe.com/api/payment_intents/list), on Stripe's clock (`stripeSkewMs` behind
 *   or ahead of the object's), and `list` filters by `customer` and `created.gte`, newest first, `limit` a page,
 *   `starting_after` the last id of the previous page, `has_more` when more follow
 *   (https://docs.stripe.com/api/payment_intents/list, https://docs.stripe.com/api/pagination);
 * - confirming a PaymentIntent that is neither `requires_confirmation` nor
 *   `requires_payment_method` is a 400 `payment_intent_unexpected_state`
 *   (https://docs.stripe.com/error-codes#payment-intent-unexpected-state).
 *
 * `faults` scripts failures per call, in order: `before` (a 500, nothing done), `after` (done,
 * then a 500 answered and saved for the key), `card` / `auth` (a declined confirmation:
 * `card_declined` with `insufficient_funds`, or `authentication_required`; `cardLost` / `authLost`:
 * the same decline, its answer lost on the way back), `network` (a connection error, nothing
 * done, nothing saved for the key), `invalid` (a 400 for a parameter that fails validation —
 * `amount_too_small` on create, `parameter_unknown` on confirm: nothing done and, as Stripe
 * documents, no result saved for the key). `confirmStatus` is what a confirmation leads
 * to (`succeeded` by default).
 */
import type { Intent, PaymentIntents } from '../../../worker/do/recharge-policy';

export type StripeCall = { op: 'create' | 'confirm' | 'retrieve' | 'list'; id?: string; params?: unknown; key?: string };
export type StripeFault = 'before' | 'after' | 'card' | 'auth' | 'cardLost' | 'authLost' | 'network' | 'invalid';
export type FakeIntent = Intent & { created: number; customer: string };

const DAY_MS = 24 * 3600_000;

export function fakeStripe(now: () => number, opts: { faults?: Partial<Record<StripeCall['op'], StripeFault[]>>; confirmStatus?: string; stripeSkewMs?: number } = {}) {
  const calls: StripeCall[] = [];
  const intents = new Map<string, FakeIntent>();
  const keys = new Map<string, { at: number; answer: Intent | Error }>();
  let n = 0;
  const err500 = () => Object.assign(new Error('upstream 500'), { type: 'StripeAPIError', statusCode: 500 });
  const networkError = () => Object.assign(new Error('connection reset'), { type: 'StripeConnectionError' });
  // A parameter that fails Stripe's validation, so its endpoint never starts and nothing is saved
  // for the key ("Results are only saved if an API endpoint started executing. If incoming
  // parameters failed validation … no idempotent result is saved", docs.stripe.com/api/idempotent_requests).
  // Codes and messages from docs.stripe.com/error-codes (amount-too-small, parameter-unknown).
  const invalid = (op: 'create' | 'confirm') =>
    op === 'create'
      ? Object.assign(new Error('Amount must be at least $0.50 usd'), { type: 'StripeInvalidRequestError', statusCode: 400, code: 'amount_too_small', param: 'amount' })
      : Object.assign(new Error('Received unknown parameter: mandate_data'), { type: 'StripeInvalidRequestError', statusCode: 400, code: 'parameter_unknown', param: 'mandate_data' });
  const fault = (op: StripeCall['op']) => opts.faults?.[op]?.shift();
  const idempotent = (key: string, run: () => Intent | Error): Intent => {
    const saved = keys.get(key);
    const live = saved && now() - saved.at < DAY_MS;
    const answer = live ? saved.answer : run();
    if (!live) keys.set(key, { at: now(), answer });
    if (answer instanceof Error) throw answer;
    return { ...answer };
  };
  const payments: PaymentIntents = {
    create: async (params, o) => {
      calls.push({ op: 'create', params: JSON.parse(JSON.stringify(params)), key: o.idempotencyKey });
      const f = fault('create');
      if (f === 'before') throw err500();
      if (f === 'network') throw networkError();
      if (f === 'invalid') throw invalid('create');
      return idempotent(o.idempotencyKey, () => {
        const pi: FakeIntent = { id: `pi_${++n}`, status: 'requires_confirmation', metadata: params.metadata, customer: params.customer, created: Math.floor((now() + (opts.stripeSkewMs ?? 0)) / 1000) };
        intents.set(pi.id, pi);
        return f === 'after' ? err500() : { ...pi };
      });
    },
    confirm: async (id, params, o) => {
      calls.push({ op: 'confirm', id, params, key: o.idempotencyKey });
      const f = fault('confirm');
      if (f === 'before') throw err500();
      if (f === 'network') throw networkError();
      if (f === 'invalid') throw invalid('confirm');
      const lost = f === 'cardLost' || f === 'authLost';
      try {
        return idempotent(o.idempotencyKey, () => {
          const pi = intents.get(id)!;
          if (pi.status !== 'requires_confirmation' && pi.status !== 'requires_payment_method') return Object.assign(new Error(`You cannot confirm this PaymentIntent because it has a status of ${pi.status}.`), { type: 'StripeInvalidRequestError', code: 'payment_intent_unexpected_state' });
          if (f === 'card' || f === 'auth' || f === 'cardLost' || f === 'authLost') {
            const card = f === 'card' || f === 'cardLost';
            const code = card ? 'card_declined' : 'authentication_required';
            const declineCode = card ? 'insufficient_funds' : undefined;
            // A failed confirmation leaves the PaymentIntent in requires_payment_method with the
            // failure in last_payment_error (docs.stripe.com/payments/paymentintents/lifecycle); an
            // off-session card needing authentication fails the same way, code authentication_required
            // (docs.stripe.com/error-codes#authentication-required).
            pi.status = 'requires_payment_method';
            pi.last_payment_error = { code, message: 'Your card was declined.', ...(declineCode ? { decline_code: declineCode } : {}) };
            return Object.assign(new Error('Your card was declined.'), { type: 'StripeCardError', code, decline_code: declineCode });
          }
          pi.status = opts.confirmStatus ?? 'succeeded';
          return f === 'after' ? err500() : { ...pi };
        });
      } catch (err) {
        // A lost answer: Stripe declined (and saved the decline for the key), then the connection dropped.
        throw lost ? networkError() : err;
      }
    },
    retrieve: async (id) => {
      calls.push({ op: 'retrieve', id });
      const f = fault('retrieve');
      if (f === 'network') throw networkError();
      if (f) throw err500();
      return { ...intents.get(id)! };
    },
    list: async (params) => {
      calls.push({ op: 'list', params });
      const f = fault('list');
      if (f === 'network') throw networkError();
      if (f) throw err500();
      const all = [...intents.values()].filter((pi) => pi.customer === params.customer && pi.created >= params.created.gte).reverse();
      const start = params.starting_after ? all.findIndex((pi) => pi.id === params.starting_after) + 1 : 0;
      return { data: all.slice(start, start + params.limit).map((pi) => ({ ...pi })), has_more: start + params.limit < all.length };
    },
  };
  const count = (op: StripeCall['op']) => calls.filter((c) => c.op === op).length;
  /** PaymentIntents that moved (or are moving) money. */
  const charged = () => [...intents.values()].filter((pi) => pi.status === 'succeeded' || pi.status === 'processing');
  /** A PaymentIntent the customer made elsewhere (a checkout, another device), `created` now on Stripe's clock. */
  const other = (id: string, customer = 'cus_1', extra: Partial<FakeIntent> = {}) => void intents.set(id, { id, status: 'succeeded', metadata: {}, customer, created: Math.floor((now() + (opts.stripeSkewMs ?? 0)) / 1000), ...extra });
  return { calls, payments, intents, count, charged, other };
}

export type FakeStripe = ReturnType<typeof fakeStripe>;
