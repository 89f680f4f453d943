import type { FastifyInstance } from 'fastify';
import { metrics, refreshOpenMismatchGauge } from '../metrics.js';
import { withTimeout } from '../queue/producer.js';
import type { Runtime } from '../runtime.js';

export interface HealthOptions {
  /** Longest each readiness probe may take. @defaultValue 1000 */
  probeTimeoutMs?: number;
}

type Probe = 'ok' | 'unavailable';

/**
 * `GET /healthz` (the process answers), `GET /readyz` (Postgres and Redis answer, each probed
 * with a short timeout: 200 or 503 naming what failed), `GET /metrics` (Prometheus text).
 * None needs the operator token; none reveals configuration.
 */
export async function registerHealthRoutes(
  app: FastifyInstance,
  rt: Runtime,
  opts: HealthOptions = {},
): Promise<void> {
  const timeoutMs = opts.probeTimeoutMs ?? 1_000;

  const probe = async (what: string, fn: () => Promise<unknown>): Promise<Probe> => {
    try {
      await withTimeout(fn(), timeoutMs, what);
      return 'ok';
    } catch (err) {
      rt.log.warn({ probe: what, reason: (err as Error).message }, 'readiness probe failed');
      return 'unavailable';
    }
  };

  app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { auth: 'public' } }, async (_req, reply) => {
    const [postgres, redis] = await Promise.all([
      probe('postgres', () => rt.pool.query('SELECT 1')),
      // The producer connection does not queue commands while disconnected: PING fails at once.
      // A reachable Redis that may evict BullMQ's keys is not ready either.
      probe('redis', async () => {
        await rt.redis.ping();
        const problem = rt.redisProblem();
        if (problem) throw new Error(problem);
      }),
    ]);
    const ok = postgres === 'ok' && redis === 'ok';
    const failed = [postgres !== 'ok' && 'postgres', redis !== 'ok' && 'redis'].filter(Boolean);
    return reply
      .code(ok ? 200 : 503)
      .send(
        ok ? { status: 'ok', postgres, redis } : { status: 'unavailable', postgres, redis, failed },
      );
  });

  app.get('/metrics', { config: { auth: 'metrics' } }, async (req, reply) => {
    // Open mismatches are counted from Postgres at scrape time, so every replica reports the truth.
    await refreshOpenMismatchGauge(rt.pool).catch((err: Error) =>
      req.log.warn({ err }, 'could not count open mismatches for /metrics'),
    );
    const text = await metrics.metrics();
    return reply.type(metrics.contentType).send(text);
  });
}
