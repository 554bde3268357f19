import type { RouterType } from 'itty-router';
import { z } from 'zod';
import { AppError } from '../lib/errors';
import { enforceRateLimit, limiters, RATE_LIMIT_PERIOD_S } from '../lib/rate-limit';
import { json, readBody, readRawBody, validate } from '../lib/http';
import { requireUser } from '../services/auth';
import { checkoutStatus, configureAutoRecharge, createCheckout, handleWebhookEvent, MAX_PURCHASE_CENTS, verifyWebhook } from '../services/payments';

/** A package or a custom amount, exactly one; one object (not a union) so every error names its field. */
export const checkoutSchema = z
  .strictObject({
    packageId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_\-]+$/, 'invalid package id').optional(),
    amountCents: z.int().min(1).max(MAX_PURCHASE_CENTS).optional(),
    idempotencyKey: z.string().min(1).max(255).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.packageId !== undefined && v.amountCents !== undefined) ctx.addIssue({ code: 'custom', message: 'give packageId or amountCents, not both', path: ['amountCents'] });
    if (v.packageId === undefined && v.amountCents === undefined) ctx.addIssue({ code: 'custom', message: 'packageId or amountCents is required', path: ['packageId'] });
  });

export const sessionIdSchema = z.string().regex(/^cs_[A-Za-z0-9_]{1,200}$/, 'invalid checkout session id');

const tokenAmount = z.int().min(1).max(100_000_000);
export const autoRechargeSchema = z
  .strictObject({
    enabled: z.boolean(),
    threshold: z.int().min(0).max(100_000_000),
    amount: tokenAmount,
    monthlyLimitCents: z.int().min(500).max(10_000_000).nullable().optional(),
  })
  .refine((v) => v.amount > v.threshold || !v.enabled, { message: 'amount must be larger than threshold', path: ['amount'] });

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
    return json({ autoRecharge: await configureAutoRecharge(env, user.id, body) });
  });

  // Raw body first: the signature covers the exact bytes Stripe sent.
  router.post('/api/stripe/webhook', async (request: Request, env: Env) => {
    const raw = await readRawBody(request).catch((e) => {
      throw e instanceof AppError && e.code === 'unsupported_media_type' ? new AppError('bad_request', 'Webhook body must be JSON') : e;
    });
    const event = await verifyWebhook(env, raw, request.headers.get('stripe-signature'));
    const result = await handleWebhookEvent(env, event);
    return json({ received: true, ...result });
  });
}
