/**
 * The long-running roles of `recon serve | worker | start` (the CLI, `src/cli/main.ts`, is the
 * entry point): startup checks, the HTTP server, the workers, and `run(role)`, which starts one
 * and drains it on SIGTERM/SIGINT. `recon demo` starts the same server and workers.
 */
import type { FastifyInstance } from 'fastify';
import { onMismatchChanges } from './alerts/queue.js';
import { startAlertWorker } from './alerts/worker.js';
import { startProbeServer } from './api/probe-server.js';
import { buildApp } from './app.js';
import type { Config } from './config/config.js';
import { migrate, pendingMigrations } from './db/migrate.js';
import { DependencyError, StartupCheckError, postgresUnavailable } from './errors.js';
import type { Logger } from './log/logger.js';
import { startEventWorker } from './projections/worker.js';
import { checkRedisEvictionPolicy, createRedis } from './queue/queues.js';
import { startInboxRelay } from './inbox/relay.js';
import { startStripeLookupWorker } from './reconciliation/stripe-lookup.js';
import { startReconcileWorker } from './reconciliation/worker.js';
import { createRuntime, type Runtime } from './runtime.js';
import { createStripeClient } from './stripe/client.js';
import { stripeKeyMonitor } from './stripe/key.js';
import { startSweepWorker } from './sweep/worker.js';

/** Something to stop on shutdown, in the order it was started (reversed). */
export interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

/**
 * Checks that must hold before serving: the schema is current (never run against a half-migrated
 * database) and Redis will not evict BullMQ's keys. Redis being down is not fatal for the
 * receiver (the inbox relay catches up), so only a reachable Redis with the wrong policy fails.
 */
export async function startupChecks(rt: Pick<Runtime, 'config' | 'log' | 'prisma'>): Promise<void> {
  const pending = await pendingMigrations(rt.prisma).catch((err: unknown) => {
    throw postgresUnavailable(rt.config.DATABASE_URL, err);
  });
  if (pending.length) {
    throw new StartupCheckError(
      `database schema is behind: ${pending.length} migration(s) not applied (${pending.join(', ')}); run \`recon migrate\``,
    );
  }
  // A short-lived connection of its own: the producer connection does not queue commands while
  // it is still connecting, which would turn this check into a silent skip.
  const probe = createRedis(rt.config.REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 1,
  });
  try {
    await probe.connect();
    await checkRedisEvictionPolicy(probe);
  } catch (err) {
    if (err instanceof StartupCheckError) throw err;
    rt.log.warn(
      { err: (err as Error).message },
      'Redis not reachable at start; events will be queued when it returns',
    );
  } finally {
    probe.disconnect();
  }
}

export async function startServer(
  rt: Runtime,
): Promise<{ app: FastifyInstance; stoppables: Stoppable[] }> {
  const app = await buildApp(rt);
  const relay = startInboxRelay(rt, {
    intervalMs: rt.config.RELAY_INTERVAL,
    stuckAfterMs: rt.config.RELAY_STUCK_AFTER,
  });
  try {
    await app.listen({ port: rt.config.PORT, host: rt.config.HOST });
  } catch (err) {
    await relay.stop().catch(() => {});
    await app.close().catch(() => {});
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new DependencyError(
        code === 'EADDRINUSE'
          ? `port ${rt.config.PORT} on ${rt.config.HOST} is already in use (set PORT or stop the other process)`
          : `cannot listen on ${rt.config.HOST}:${rt.config.PORT} (${code}; set PORT/HOST)`,
        { cause: err },
      );
    throw err;
  }
  rt.log.info({ port: rt.config.PORT }, 'receiver listening');
  return {
    app,
    stoppables: [
      { name: 'relay', stop: () => relay.stop() },
      { name: 'http', stop: () => closeServer(app) },
    ],
  };
}

/**
 * `app.close()` stops listening and lets in-flight requests finish, but Node's `server.close()`
 * closes only the keep-alive sockets idle at that instant: one whose request was still running
 * goes idle afterwards and holds the server open until `keepAliveTimeout` (72 s), so SIGTERM under
 * traffic from a keep-alive client (a load balancer, a webhook sender) would hang. Close sockets
 * as they go idle; a request arriving on one meanwhile is answered 503 with `Connection: close`.
 */
async function closeServer(app: FastifyInstance): Promise<void> {
  const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
  try {
    await app.close();
  } finally {
    clearInterval(sweep);
  }
}

export async function startWorkers(rt: Runtime): Promise<Stoppable[]> {
  const stripe = createStripeClient(rt.config);
  // Stopped in reverse if a later one fails to start: `run` only knows the list once this
  // returns, and a worker left running after a failed start keeps the process alive on a closed
  // pool, logging failures instead of exiting.
  const started: Stoppable[] = [];
  try {
    const events = startEventWorker(rt, { concurrency: rt.config.PROJECTION_CONCURRENCY, stripe });
    started.push({ name: 'event-worker', stop: () => events.close() });
    const reconcile = startReconcileWorker(rt, {
      concurrency: rt.config.RECONCILE_CONCURRENCY,
      onChanges: (changes) => onMismatchChanges(rt, changes),
    });
    started.push({ name: 'reconcile-worker', stop: () => reconcile.close() });
    const alerts = await startAlertWorker(rt);
    started.push({ name: 'alert-worker', stop: () => alerts.close() });
    const sweep = await startSweepWorker(rt);
    started.push({ name: 'sweep-worker', stop: () => sweep.close() });
    const lookups = startStripeLookupWorker(rt);
    started.push({ name: 'stripe-lookup-worker', stop: () => lookups.close() });
  } catch (err) {
    for (const s of [...started].reverse()) await s.stop().catch(() => {});
    throw err;
  }
  rt.log.info('workers started');
  // A bad key is worth a loud line, not a refusal to start: the receiver and the projections of
  // webhooks work without it, and the key may be fixed while this runs (/readyz shows it).
  void stripeKeyMonitor(rt, rt.config.STRIPE_API_KEY, () =>
    createStripeClient(rt.config, { maxNetworkRetries: 0, timeoutMs: 10_000 }),
  )
    .refresh()
    .then((c) => {
      if (c.status === 'ok') rt.log.info({ stripeKey: c.kind, mode: c.mode }, c.message);
      else rt.log.warn({ stripeKey: c.status }, `Stripe API key check: ${c.message}`);
    });
  return started.reverse();
}

export type Role = 'serve' | 'worker' | 'start';

/** Runs a role until SIGTERM/SIGINT, then drains in-flight work and exits cleanly. */
export async function run(role: Role, config: Config, log?: Logger): Promise<void> {
  if (role === 'start') {
    const r = await migrate(config.DATABASE_URL);
    for (const name of r.applied) (log ?? console).info?.(`applied migration ${name}`);
  }
  const rt = createRuntime(config, log);
  const stoppables: Stoppable[] = [];
  // Signals are caught from the first moment: a SIGTERM while the role is still starting (a
  // rollout that changes its mind) is held and honoured as soon as it has started, instead of
  // killing the process mid-start by the default action.
  let early: NodeJS.Signals | null = null;
  let handle = (signal: NodeJS.Signals) => {
    if (early) process.exit(1); // a second signal while starting: exit at once
    early = signal;
  };
  const listener = (signal: NodeJS.Signals) => handle(signal);
  // `on`, not `once`: the second signal must reach the handler to exit at once.
  process.on('SIGTERM', listener);
  process.on('SIGINT', listener);
  try {
    await startupChecks(rt);
    if (role === 'serve' || role === 'start')
      stoppables.push(...(await startServer(rt)).stoppables);
    if (role === 'worker' || role === 'start') stoppables.push(...(await startWorkers(rt)));
    const probe = await startProbe(rt, role);
    if (probe) stoppables.push(probe);
  } catch (err) {
    // A failed start must still exit: the open pool and Redis connections would keep it alive.
    process.off('SIGTERM', listener);
    process.off('SIGINT', listener);
    for (const s of [...stoppables].reverse()) await s.stop().catch(() => {});
    await rt.close().catch(() => {});
    throw err;
  }

  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        rt.log.warn({ signal }, 'second signal: exiting without draining');
        process.exit(1);
      }
      stopping = true;
      const deadlineMs = rt.config.SHUTDOWN_TIMEOUT;
      rt.log.info({ signal, deadlineMs }, 'shutting down: draining in-flight work');
      // A drain that waits on a dependency that is down (Redis away: BullMQ waits for it to
      // come back) must not hang the stop past the orchestrator's grace period: after the
      // deadline, exit non-zero and say what was abandoned. Locked jobs go back to the queue
      // through BullMQ's stalled checker; committed work is never lost.
      const pending = new Set(stoppables.map((s) => s.name));
      const deadline = setTimeout(() => {
        rt.log.error(
          { abandoned: [...pending], deadlineMs },
          'shutdown deadline passed: exiting without finishing these',
        );
        process.exit(1);
      }, deadlineMs);
      deadline.unref();
      void (async () => {
        // HTTP first (stop taking events), then workers drain, then connections close.
        for (const s of [...stoppables].reverse().sort((a, b) => order(a) - order(b))) {
          await s
            .stop()
            .catch((err: Error) => rt.log.error({ err, part: s.name }, 'error while stopping'));
          pending.delete(s.name);
        }
        await rt.close();
        clearTimeout(deadline);
        rt.log.info('stopped');
        resolve();
      })();
    };
    handle = onSignal;
    if (early) onSignal(early);
  });
}

/**
 * The probe server on METRICS_PORT, for every role; started once the role runs, so a port that
 * answers means a process that works. Not started when METRICS_PORT is 0, nor when it is the
 * receiver's own PORT (the same routes are already there).
 */
async function startProbe(rt: Runtime, role: Role): Promise<Stoppable | null> {
  const port = rt.config.METRICS_PORT;
  if (port === 0) return null;
  if (role !== 'worker' && port === rt.config.PORT) {
    rt.log.info({ port }, 'METRICS_PORT is PORT: /healthz, /readyz and /metrics served there once');
    return null;
  }
  const probe = await startProbeServer(rt, port);
  return { name: PROBE_HTTP, stop: () => probe.close() };
}

const PROBE_HTTP = 'probe-http';

/**
 * HTTP first (stop taking events), then the relay, then workers drain; the probe server last, so
 * liveness and the final scrapes answer while the drain runs.
 */
function order(s: Stoppable): number {
  return s.name === 'http' ? 0 : s.name === 'relay' ? 1 : s.name === PROBE_HTTP ? 3 : 2;
}
