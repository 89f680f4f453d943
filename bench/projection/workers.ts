/**
 * The processes under test, wired as src/roles.ts does: `work` runs the event (projection) worker
 * and the reconcile worker with the alerting hook (`recon worker` minus the sweep, alert and lookup
 * workers); `receive` runs the receiver alone (buildApp + listen, `recon serve`); `serve` runs both
 * in one process (`recon start` minus the sweep scheduler).
 * Usage: node --import tsx bench/projection/workers.ts work|receive|serve <DATABASE_URL> <QUEUE_PREFIX>
 * Prints {"started": …, "port"?: n}; on stdin "stop" drains and prints {"stopped": {rssMb}}.
 */
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import { onMismatchChanges } from '../../src/alerts/queue.js';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/log/logger.js';
import { startEventWorker } from '../../src/projections/worker.js';
import { startReconcileWorker } from '../../src/reconciliation/worker.js';
import { createRuntime } from '../../src/runtime.js';
import { benchConfig, send } from '../lib/common.js';

const [mode, databaseUrl, prefix] = process.argv.slice(2);
if (!['work', 'receive', 'serve'].includes(mode ?? '') || !databaseUrl || !prefix) {
  throw new Error('usage: workers.ts work|receive|serve DATABASE_URL QUEUE_PREFIX');
}
// Tuning knobs can be tried from the environment: BENCH_PG_POOL_SIZE, BENCH_PROJECTION_CONCURRENCY, …
const tuning = Object.fromEntries(
  ['PG_POOL_SIZE', 'PROJECTION_CONCURRENCY', 'RECONCILE_CONCURRENCY']
    .filter((k) => process.env[`BENCH_${k}`])
    .map((k) => [k, process.env[`BENCH_${k}`]!]),
);
const config = benchConfig(databaseUrl, { QUEUE_PREFIX: prefix, ...tuning });
const rt = createRuntime(config, createLogger({ level: 'warn' }));

let peak = 0;
let peakAt: NodeJS.MemoryUsage | undefined;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > peak) [peak, peakAt] = [m.rss, m];
}, 100);

let app: Awaited<ReturnType<typeof buildApp>> | undefined;
let port: number | undefined;
if (mode === 'serve' || mode === 'receive') {
  app = await buildApp(rt);
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
}
// No `has_more` transfers in the bench data, so no Stripe client is needed.
const events =
  mode === 'receive'
    ? undefined
    : startEventWorker(rt, {
        concurrency: config.PROJECTION_CONCURRENCY,
        stripe: null,
        ...(process.env.BENCH_RECONCILE_DELAY_MS
          ? { reconcileDelayMs: Number(process.env.BENCH_RECONCILE_DELAY_MS) }
          : {}),
      });
const reconcile =
  mode === 'receive'
    ? undefined
    : startReconcileWorker(rt, {
        concurrency: config.RECONCILE_CONCURRENCY,
        onChanges: (changes) => onMismatchChanges(rt, changes),
      });
await Promise.all([events?.worker.waitUntilReady(), reconcile?.worker.waitUntilReady()]);
send({ started: Date.now(), ...(port ? { port } : {}) });

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stop') return;
  void (async () => {
    await app?.close();
    await events?.close();
    await reconcile?.close();
    clearInterval(sampler);
    const mb = (n = 0) => Math.round(n / 2 ** 20);
    // Where the peak RSS was: the V8 heap (used / reserved), buffers and other native memory.
    send({
      stopped: {
        peakRssMb: mb(peak),
        atPeak: {
          heapUsedMb: mb(peakAt?.heapUsed),
          heapTotalMb: mb(peakAt?.heapTotal),
          externalMb: mb(peakAt?.external),
          arrayBuffersMb: mb(peakAt?.arrayBuffers),
        },
      },
    });
    await rt.close();
    process.exit(0);
  })();
});
