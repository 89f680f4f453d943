import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { DependencyError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { installOperatorAuth } from './auth.js';
import { installErrorHandler } from './errors.js';
import { registerHealthRoutes, type HealthOptions } from './health.js';

export interface ProbeServer {
  /** The port it listens on (the kernel's pick when asked for 0 in tests). */
  port: number;
  close(): Promise<void>;
}

/**
 * The probe server every role runs on METRICS_PORT: `GET /healthz`, `GET /readyz` and
 * `GET /metrics`, the very routes (and METRICS_TOKEN rule) of the main app, on a port of their own,
 * so that `recon worker`, which serves no other HTTP, can be probed and scraped like the receiver.
 * Nothing else is served there: any other path needs an operator token and then is 404.
 */
export async function buildProbeApp(
  rt: Runtime,
  opts: HealthOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: rt.log.child({ component: 'probe-server' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1_024,
    return503OnClosing: true,
  });
  installErrorHandler(app);
  installOperatorAuth(app, rt.config);
  await registerHealthRoutes(app, rt, opts);
  return app;
}

/**
 * Listens on `port` (METRICS_PORT) and HOST. A port already taken fails the start with a line that
 * names METRICS_PORT, as PORT does for the receiver.
 */
export async function startProbeServer(
  rt: Runtime,
  port: number = rt.config.METRICS_PORT,
  opts: HealthOptions = {},
): Promise<ProbeServer> {
  const app = await buildProbeApp(rt, opts);
  try {
    await app.listen({ port, host: rt.config.HOST });
  } catch (err) {
    await app.close().catch(() => {});
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new DependencyError(
        code === 'EADDRINUSE'
          ? `metrics port ${port} on ${rt.config.HOST} is already in use (set METRICS_PORT, or 0 to disable it)`
          : `cannot listen on ${rt.config.HOST}:${port} (${code}; set METRICS_PORT/HOST)`,
        { cause: err },
      );
    throw err;
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  rt.log.info({ port: bound }, 'probe server listening (/healthz, /readyz, /metrics)');
  return {
    port: bound,
    async close() {
      // Probes and scrapes are short, but a keep-alive scraper must not hold the stop (see roles.ts).
      const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
      try {
        await app.close();
      } finally {
        clearInterval(sweep);
      }
    },
  };
}
