import { stripeClient } from '../lib/stripe';
import type { PaymentIntents } from './recharge-policy';

/**
 * Stripe's PaymentIntents for the auto-recharge machine, without SDK retries: the SDK would
 * resend with the same key, and a key replays its first answer (a 500 too); the machine resolves
 * unknown outcomes itself.
 */
export function stripePaymentIntents(env: Env): PaymentIntents {
  const stripe = () => stripeClient(env, { maxNetworkRetries: 0 });
  return {
    create: (params, opts) => stripe().paymentIntents.create(params, opts),
    confirm: (id, params, opts) => stripe().paymentIntents.confirm(id, params, opts),
    retrieve: (id) => stripe().paymentIntents.retrieve(id),
    list: (params) => stripe().paymentIntents.list(params),
  };
}
