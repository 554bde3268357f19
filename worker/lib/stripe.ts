import Stripe from 'stripe';
import { AppError } from './errors';

/**
 * The Stripe SDK over fetch. With STRIPE_API_BASE set it talks to the local Stripe-compatible
 * simulator (scripts/stripe-sim) instead of api.stripe.com — refused in production, so a
 * misconfigured deployment can never take "payments" from a simulator.
 */
export function stripeClient(env: Env, opts: { maxNetworkRetries?: number; timeoutMs?: number } = {}): Stripe {
  if (!env.STRIPE_SECRET_KEY) throw new AppError('upstream_unavailable', 'Payments are not configured (STRIPE_SECRET_KEY is not set)');
  const config: Stripe.StripeConfig = {
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: opts.maxNetworkRetries ?? 2,
    timeout: opts.timeoutMs ?? 15_000,
  };
  const base = env.STRIPE_API_BASE;
  if (base) {
    if (env.ENVIRONMENT !== 'development' && env.ENVIRONMENT !== 'test') {
      throw new AppError('internal', 'STRIPE_API_BASE (the Stripe simulator) is only allowed in development and test');
    }
    const url = new URL(base);
    config.host = url.hostname;
    config.port = url.port || (url.protocol === 'https:' ? 443 : 80);
    config.protocol = url.protocol === 'https:' ? 'https' : 'http';
  }
  return new Stripe(env.STRIPE_SECRET_KEY, config);
}

const webCrypto = Stripe.createSubtleCryptoProvider();

/** How far a webhook's signed timestamp may be from now, either way (Stripe's libraries' default). */
export const WEBHOOK_TOLERANCE_S = 300;

/**
 * Verifies a webhook's Stripe-Signature over the raw body (WebCrypto); needs no API key. The
 * signed `t=` must lie within WEBHOOK_TOLERANCE_S of now in BOTH directions: the SDK refuses only
 * timestamps too far in the past, so a signature dated in the future (a leaked secret's forgery
 * made to outlive the window, or a badly skewed clock) is refused here. The timestamp is part of
 * the signed payload, so it cannot be edited without breaking the signature
 * (https://docs.stripe.com/webhooks#verify-manually, "Preventing replay attacks").
 */
export async function constructWebhookEvent(rawBody: string, signature: string, secret: string, nowMs = Date.now()): Promise<Stripe.Event> {
  const event = await Stripe.webhooks.constructEventAsync(rawBody, signature, secret, WEBHOOK_TOLERANCE_S, webCrypto, nowMs); // receivedAt in ms (the SDK divides by 1000)
  // The same reading of the header as the SDK's parseHeader (the last `t=` wins), so the
  // timestamp checked here is the one whose signature the SDK just verified.
  let t = -1;
  for (const item of signature.split(',')) {
    const [k, v] = item.split('=');
    if (k === 't') t = parseInt(v, 10);
  }
  if (!(t * 1000 <= nowMs + WEBHOOK_TOLERANCE_S * 1000)) throw new Error('Webhook timestamp is in the future, beyond the tolerance');
  return event;
}

/** What a failed Stripe call means for an off-session payment. */
export type StripeFailure = { kind: 'card'; reason: string } | { kind: 'retry'; reason: string } | { kind: 'permanent'; reason: string };

/** Card errors end auto-recharge; network errors, 5xx and rate limits are retried with the same key. */
export function classifyStripeError(err: unknown): StripeFailure {
  const e = err as { type?: string; code?: string; decline_code?: string; message?: string; statusCode?: number };
  // Stripe's message is written for the card holder ("Your card was declined."); the codes say why.
  const codes = [e.code, e.decline_code].filter(Boolean).join(': ');
  const reason = e.message && codes ? `${e.message} (${codes})` : e.message || codes || 'unknown error';
  switch (e.type) {
    case 'StripeCardError':
      return { kind: 'card', reason };
    case 'StripeConnectionError':
    case 'StripeAPIError':
    case 'StripeRateLimitError':
      return { kind: 'retry', reason };
    case 'StripeInvalidRequestError':
    case 'StripeAuthenticationError':
    case 'StripePermissionError':
    case 'StripeIdempotencyError':
      return { kind: 'permanent', reason };
    default:
      if ((e.statusCode ?? 0) >= 500) return { kind: 'retry', reason };
      return { kind: 'retry', reason: e.message ?? String(err) };
  }
}
