import { Router } from 'itty-router';
import { AppError, errorResponse } from './lib/errors';
import { assignRequestId, requestIdOf } from './lib/http';
import { registerBillingRoutes } from './routes/billing';
import { registerAuthRoutes } from './routes/auth';
import { registerAccountRoutes } from './routes/account';
import { registerApiKeyRoutes } from './routes/api-keys';
import { registerAdminRoutes } from './routes/admin';
import { registerPaymentRoutes } from './routes/payments';
import { registerReconcileRoutes } from './routes/reconcile';
import { registerWebhookRoutes } from './routes/webhooks';
import { assertSameOrigin } from './services/auth';
import { handleAlertBatch } from './services/webhook-delivery';
import type { AlertQueueMessage } from './contracts/webhooks';
import { rateLimit } from './lib/rate-limit';
import { runArchive } from './services/archive';

export { TokenAccount } from './do/token-account';
export { BillingService } from './billing-service';

// The same-origin check runs before every route, so routes added later are covered too.
// Every error, from a route or a `before` check, becomes the one error answer with the request's id.
const router = Router({ before: [assertSameOrigin, rateLimit], catch: (err: unknown, request: Request) => errorResponse(err, requestIdOf(request)) });
router.get('/api/health', () => Response.json({ ok: true }));
registerBillingRoutes(router);
registerAuthRoutes(router);
registerAccountRoutes(router);
registerApiKeyRoutes(router);
registerAdminRoutes(router);
registerPaymentRoutes(router);
registerReconcileRoutes(router);
registerWebhookRoutes(router);
router.all('/api/*', () => {
  throw new AppError('not_found', 'No such API route');
});

/**
 * Pages may load only this origin's scripts, styles, images and API; nothing may frame them.
 * Checkout leaves by navigation (window.location), which connect-src and form-action don't govern.
 */
export const PAGE_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

const API_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'same-origin',
};

function withHeaders(res: Response, headers: Record<string, string>): Response {
  const out = new Response(res.body, res);
  for (const [k, v] of Object.entries(headers)) out.headers.set(k, v);
  return out;
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (!url.pathname.startsWith('/api/')) return withHeaders(await env.ASSETS.fetch(request), PAGE_SECURITY_HEADERS);
    // Every API answer names its request (`x-request-id`), so a user's report finds the log line.
    const requestId = assignRequestId(request);
    return withHeaders(await router.fetch(request, env, ctx), { ...API_HEADERS, 'x-request-id': requestId });
  },

  /**
   * Cron Trigger (wrangler.jsonc `triggers.crons`, hourly): archives raw usage rows older than the
   * retention window to R2 and prunes them from D1, a bounded number of days per run
   * (worker/services/archive.ts). A run that fails deletes nothing unverified; the next resumes.
   */
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(
      runArchive(env, { now: controller.scheduledTime }).then(
        (r) => console.log('archive run', JSON.stringify({ cutoff: r.cutoff, days: r.days.length, more: r.more })),
        (err: unknown) => console.error('archive run failed; the next run resumes', err instanceof Error ? err.message : String(err)),
      ),
    );
  },

  /** The alert queue's consumer: signed POSTs to the operator's webhook endpoints (services/webhook-delivery.ts). */
  async queue(batch, env) {
    await handleAlertBatch(batch, env);
  },
} satisfies ExportedHandler<Env, AlertQueueMessage>;
