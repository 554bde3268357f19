import { Router } from 'itty-router';
import { AppError, errorResponse } from './lib/errors';
import { registerBillingRoutes } from './routes/billing';
import { registerAuthRoutes } from './routes/auth';
import { registerAccountRoutes } from './routes/account';
import { registerAdminRoutes } from './routes/admin';
import { registerPaymentRoutes } from './routes/payments';
import { registerReconcileRoutes } from './routes/reconcile';
import { assertSameOrigin } from './services/auth';
import { rateLimit } from './lib/rate-limit';

export { TokenAccount } from './do/token-account';
export { BillingService } from './billing-service';

// The same-origin check runs before every route, so routes added later are covered too.
const router = Router({ before: [assertSameOrigin, rateLimit], catch: errorResponse });
router.get('/api/health', () => Response.json({ ok: true }));
registerBillingRoutes(router);
registerAuthRoutes(router);
registerAccountRoutes(router);
registerAdminRoutes(router);
registerPaymentRoutes(router);
registerReconcileRoutes(router);
router.all('/api/*', () => {
  throw new AppError('not_found', 'No such API route');
});

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (!url.pathname.startsWith('/api/')) return env.ASSETS.fetch(request);
    return router.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
