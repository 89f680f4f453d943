import type { FastifyInstance } from 'fastify';
import { metrics } from '../metrics.js';
import { withTimeout } from '../queue/producer.js';
import type { Runtime } from '../runtime.js';
import { refreshScrapeMetrics, type ScrapeOptions } from '../scrape-metrics.js';
import { createStripeClient } from '../stripe/client.js';
import { stripeKeyMonitor } from '../stripe/key.js';

export interface HealthOptions {
  /** Longest each readiness probe may take. @defaultValue 1000 */
  probeTimeoutMs?: number;
  /** Cache and timeout of the gauges read from Redis and Postgres at scrape time. */
  scrape?: ScrapeOptions;
  /** A Stripe key check older than this is redone in the background. @defaultValue 600_000 */
  stripeKeyMaxAgeMs?: number;
}

type Probe = 'ok' | 'unavailable';

/**
 * `GET /healthz` (the process answers), `GET /readyz` (Postgres and Redis answer, each probed
 * with a short timeout: 200 or 503 naming what failed), `GET /metrics` (Prometheus text).
 * None needs the operator token; none reveals configuration.
 *
 * `GET /readyz?role=receiver` is the readiness of a webhook receiver (`recon serve`): only Postgres
 * decides, since the receiver keeps acknowledging webhooks into the Postgres inbox while Redis is
 * down (the relay enqueues them later). Taking receivers out of a load balancer during a Redis
 * outage would turn that design into refused deliveries; Redis's state is still reported.
 *
 * `/readyz` (not `?role=receiver`, which never uses the key) also shows `stripe_key`: the last
 * check of STRIPE_API_KEY (`ok`, `invalid` = 401, `forbidden` = 403, `unreachable`, or
 * `unchecked` before the first one ends), redone in the background when older than 10 minutes.
 * It never decides readiness: a revoked key stops sweeps, not the webhooks flowing in.
 */
export async function registerHealthRoutes(
  app: FastifyInstance,
  rt: Runtime,
  opts: HealthOptions = {},
): Promise<void> {
  const timeoutMs = opts.probeTimeoutMs ?? 1_000;
  const keyMaxAgeMs = opts.stripeKeyMaxAgeMs ?? 600_000;
  const keyMonitor = () =>
    stripeKeyMonitor(rt, rt.config.STRIPE_API_KEY, () =>
      createStripeClient(rt.config, { maxNetworkRetries: 0, timeoutMs: 10_000 }),
    );
  /** The last result, at once: readiness never waits on Stripe. */
  const stripeKey = () => {
    const m = keyMonitor();
    m.refreshIfStale(keyMaxAgeMs);
    const c = m.latest();
    return c
      ? {
          status: c.status,
          kind: c.kind,
          mode: c.mode,
          checked_at: c.checked_at,
          message: c.message,
        }
      : { status: 'unchecked' as const };
  };

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

  app.get('/readyz', { config: { auth: 'public' } }, async (req, reply) => {
    const { role = 'all' } = req.query as { role?: unknown };
    if (role !== 'all' && role !== 'receiver') {
      // A typo in a probe's URL must show, not silently fall back to the stricter check.
      return reply.code(400).send({
        error: { type: 'invalid_request_error', message: "role must be 'receiver' or 'all'" },
      });
    }
    const [postgres, redis] = await Promise.all([
      probe('postgres', () => rt.prisma.$queryRaw`SELECT 1`),
      // The producer connection does not queue commands while disconnected: PING fails at once.
      // A reachable Redis that may evict BullMQ's keys is not ready either.
      probe('redis', async () => {
        await rt.redis.ping();
        const problem = rt.redisProblem();
        if (problem) throw new Error(problem);
      }),
    ]);
    if (role === 'receiver') {
      const ok = postgres === 'ok';
      return reply
        .code(ok ? 200 : 503)
        .send(
          ok
            ? { status: 'ok', role, postgres, redis }
            : { status: 'unavailable', role, postgres, redis, failed: ['postgres'] },
        );
    }
    const ok = postgres === 'ok' && redis === 'ok';
    const failed = [postgres !== 'ok' && 'postgres', redis !== 'ok' && 'redis'].filter(Boolean);
    const stripe_key = stripeKey();
    return reply
      .code(ok ? 200 : 503)
      .send(
        ok
          ? { status: 'ok', postgres, redis, stripe_key }
          : { status: 'unavailable', postgres, redis, failed, stripe_key },
      );
  });

  app.get('/metrics', { config: { auth: 'metrics' } }, async (_req, reply) => {
    // Queue depths, open mismatches, the amount at risk and the last sweep are read at scrape
    // time (bounded, cached), so every replica reports the truth; a source that is down is left out.
    await refreshScrapeMetrics(rt, opts.scrape);
    const text = await metrics.metrics();
    return reply.type(metrics.contentType).send(text);
  });
}
