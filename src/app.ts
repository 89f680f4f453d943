import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { installOperatorAuth } from './api/auth.js';
import { installErrorHandler } from './api/errors.js';
import { registerHealthRoutes } from './api/health.js';
import { registerLedgerRoutes } from './api/ledger.js';
import { registerListRoutes } from './api/lists.js';
import { registerMismatchRoutes } from './api/mismatches.js';
import { registerOpenApi } from './api/openapi.js';
import { registerReconcileRoutes } from './api/reconcile.js';
import { registerReportRoutes } from './api/reports.js';
import { registerReversalRoutes } from './api/reversals.js';
import { registerConsoleRoutes } from './console/routes.js';
import { registerWebhookRoute } from './receiver/webhook-route.js';
import type { Runtime } from './runtime.js';

/**
 * Builds the HTTP app without listening (tests use `app.inject` or listen on port 0).
 * Route modules own their services and close them in `onClose` hooks.
 */
export async function buildApp(rt: Runtime): Promise<FastifyInstance> {
  const app = Fastify({
    // Typed as Fastify's base logger so the instance is a plain FastifyInstance for route modules.
    loggerInstance: rt.log as FastifyBaseLogger,
    // Per-request lines would dominate the log at webhook rates; outcomes are counted in /metrics.
    logController: new LogController({ disableRequestLogging: true }),
    // The webhook route sets its own (configurable) limit; this bounds the operator API.
    bodyLimit: 8 * 1_048_576,
    return503OnClosing: true,
  });
  installErrorHandler(app);
  installOperatorAuth(app, rt.config);
  await registerOpenApi(app);
  await registerHealthRoutes(app, rt);
  await registerWebhookRoute(app, rt);
  await registerReversalRoutes(app, rt);
  await registerLedgerRoutes(app, rt);
  await registerMismatchRoutes(app, rt);
  await registerReconcileRoutes(app, rt);
  await registerReportRoutes(app, rt);
  await registerListRoutes(app, rt);
  await registerConsoleRoutes(app);
  return app;
}
