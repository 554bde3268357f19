import type { RouterType } from 'itty-router';
import { autoRechargeSchema, type AutoRechargeAnswer } from '../contracts/account';
import { checkoutSchema, sessionIdSchema, type WebhookAnswer } from '../contracts/payments';
import { AppError } from '../lib/errors';
import { enforceRateLimit, limiters, RATE_LIMIT_PERIOD_S } from '../lib/rate-limit';
import { json, readBody, readRawBody, validate } from '../lib/http';
import { requireUser } from '../services/auth';
import { checkoutStatus, configureAutoRecharge, createCheckout } from '../services/payments';
import { handleWebhookEvent, verifyWebhook } from '../services/stripe-events';

/** Buying tokens, auto-recharge settings, and Stripe's webhook. */
export function registerPaymentRoutes(router: RouterType) {
  router.post('/api/checkout', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    await enforceRateLimit(limiters(env).RATE_LIMIT_CHECKOUT, `user:${user.id}`, RATE_LIMIT_PERIOD_S.checkout);
    const body = await readBody(request, checkoutSchema);
    const origin = new URL(request.url).origin;
    return json(await createCheckout(env, user, { ...body, idempotencyKey: body.idempotencyKey ?? request.headers.get('idempotency-key') ?? undefined }, origin));
  });

  router.get('/api/checkout/sessions/:id', async (request: Request & { params: { id: string } }, env: Env) => {
    const user = await requireUser(request, env);
    const id = validate(sessionIdSchema, request.params.id);
    return json(await checkoutStatus(env, user, id));
  });

  router.put('/api/account/auto-recharge', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    const body = await readBody(request, autoRechargeSchema);
    return json({ autoRecharge: await configureAutoRecharge(env, user.id, body) } satisfies AutoRechargeAnswer);
  });

  // Raw body first: the signature covers the exact bytes Stripe sent.
  router.post('/api/stripe/webhook', async (request: Request, env: Env) => {
    const raw = await readRawBody(request).catch((e) => {
      throw e instanceof AppError && e.code === 'unsupported_media_type' ? new AppError('bad_request', 'Webhook body must be JSON') : e;
    });
    const event = await verifyWebhook(env, raw, request.headers.get('stripe-signature'));
    const result = await handleWebhookEvent(env, event);
    return json({ received: true, ...result } satisfies WebhookAnswer);
  });
}
