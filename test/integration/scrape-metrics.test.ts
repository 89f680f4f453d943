import { Queue, Worker, UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics, stripeApiErrorsTotal } from '../../src/metrics.js';
import { QUEUE_NAMES, createRedis } from '../../src/queue/queues.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { readQueueSnapshots, refreshScrapeMetrics } from '../../src/scrape-metrics.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { createSweepStripeClient } from '../../src/stripe/client.js';
import { freePort } from '../support/cli.js';
import {
  createTestDatabase,
  randomQueuePrefix,
  redisUrl,
  type TestDatabase,
} from '../support/db.js';
import { captureLog, testConfig } from '../support/events.js';

/**
 * The gauges read at scrape time (src/scrape-metrics.ts) against a real Redis and Postgres, and
 * the Stripe error counter against the simulator: what each reports, that a source which is down
 * reports nothing quickly instead of hanging the scrape, and that scrapes share a short cache.
 */

let db: TestDatabase;
let rt: Runtime;
const prefix = randomQueuePrefix();
const connection = createRedis(redisUrl());

/** One series' value from the registry's text, or undefined when absent. */
async function sample(series: string): Promise<number | undefined> {
  const text = await metrics.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  db = await createTestDatabase();
  rt = createRuntime(
    testConfig({ DATABASE_URL: db.url, QUEUE_PREFIX: prefix }),
    captureLog('warn').log,
  );
  await rt.redis.ping().catch(() => undefined);
});

afterAll(async () => {
  await rt?.close();
  await db?.close();
  connection.disconnect();
});

describe('queue snapshots', () => {
  it('count every state of every queue and age the oldest waiting job', async () => {
    const q = new Queue(QUEUE_NAMES.alerts, { connection, prefix });
    const now = Date.now();
    try {
      // Oldest first: added a minute ago; then a newer one; one delayed; one dead-lettered.
      await q.add('old', {}, { timestamp: now - 60_000 });
      await q.add('new', {}, { timestamp: now - 1_000 });
      await q.add('later', {}, { delay: 3_600_000 });
      const dead = new Queue(QUEUE_NAMES.sweep, { connection, prefix });
      const workerConnection = createRedis(redisUrl());
      await dead.add('poison', {}, { attempts: 1 });
      const w = new Worker(
        QUEUE_NAMES.sweep,
        async () => {
          throw new UnrecoverableError('poison');
        },
        { connection: workerConnection, prefix },
      );
      await new Promise<void>((resolve) => w.once('failed', () => resolve()));
      await w.close();
      workerConnection.disconnect();
      await dead.close();

      const snaps = await readQueueSnapshots(rt.redis, prefix, now);
      const by = Object.fromEntries(snaps.map((s) => [s.queue, s]));
      expect(Object.keys(by).sort()).toEqual(Object.values(QUEUE_NAMES).sort());
      expect(by.alerts!.counts).toEqual({ waiting: 2, delayed: 1, active: 0, failed: 0 });
      expect(by.alerts!.oldestWaitingAgeSeconds).toBeCloseTo(60, 0);
      expect(by.sweep!.counts).toEqual({ waiting: 0, delayed: 0, active: 0, failed: 1 });
      expect(by.sweep!.oldestWaitingAgeSeconds).toBe(0);
      expect(by['stripe-events']!.counts).toEqual({
        waiting: 0,
        delayed: 0,
        active: 0,
        failed: 0,
      });

      await refreshScrapeMetrics(rt, { cacheMs: 0 });
      expect(await sample('recon_queue_jobs{queue="alerts",state="waiting"}')).toBe(2);
      expect(await sample('recon_queue_jobs{queue="alerts",state="delayed"}')).toBe(1);
      expect(await sample('recon_queue_dead_letter_jobs{queue="sweep"}')).toBe(1);
      expect(await sample('recon_queue_jobs{queue="sweep",state="failed"}')).toBe(1);
      expect(
        await sample('recon_queue_oldest_waiting_job_age_seconds{queue="alerts"}'),
      ).toBeGreaterThanOrEqual(60);
      expect(await sample('recon_scrape_collector_up{collector="queues"}')).toBe(1);
    } finally {
      await q.obliterate({ force: true }).catch(() => {});
      await q.close();
      const sweepQ = new Queue(QUEUE_NAMES.sweep, { connection, prefix });
      await sweepQ.obliterate({ force: true }).catch(() => {});
      await sweepQ.close();
    }
  });
});

describe('database snapshot', () => {
  it('sums open amounts at risk per currency and reads the last full sweep', async () => {
    await db.pool.query(
      `INSERT INTO mismatches (id, fingerprint, kind, severity, status, unit_key, object_type,
                               currency, amount_at_risk, message)
       VALUES ('m1', 'f1', 'reversal_lost', 'critical', 'open', 'u', 'debit_reversal', 'usd', 1000, 'x'),
              ('m2', 'f2', 'amount_mismatch', 'high', 'open', 'u', 'transfer_reversal', 'usd', 250, 'x'),
              ('m3', 'f3', 'amount_mismatch', 'high', 'open', 'u', 'transfer_reversal', 'eur', 7, 'x'),
              ('m4', 'f4', 'amount_mismatch', 'high', 'resolved', 'u', 'transfer_reversal', 'usd', 99, 'x'),
              ('m5', 'f5', 'duplicate_match', 'low', 'open', 'u', 'transfer_reversal', NULL, NULL, 'x')`,
    );
    await db.pool.query(
      `INSERT INTO sweep_runs (id, status, trigger, account, started_at, finished_at)
       VALUES ('s_full', 'completed', 'cron', NULL, '2026-01-01T03:00:00Z', '2026-01-01T03:02:30Z'),
              ('s_acct', 'completed', 'cli', 'acct_1', '2026-01-02T03:00:00Z', '2026-01-02T03:00:10Z'),
              ('s_fail', 'failed', 'cron', NULL, '2026-01-03T03:00:00Z', '2026-01-03T03:00:05Z')`,
    );
    await refreshScrapeMetrics(rt, { cacheMs: 0 });
    expect(await sample('recon_mismatches_open_amount_at_risk{currency="usd"}')).toBe(1250);
    expect(await sample('recon_mismatches_open_amount_at_risk{currency="eur"}')).toBe(7);
    expect(await sample('recon_mismatches_open{kind="amount_mismatch",severity="high"}')).toBe(2);
    expect(await sample('recon_sweep_last_success_timestamp_seconds')).toBe(
      Date.parse('2026-01-01T03:02:30Z') / 1000,
    );
    expect(await sample('recon_sweep_last_duration_seconds')).toBe(150);
    expect(await sample('recon_scrape_collector_up{collector="database"}')).toBe(1);
  });

  it('is cached: a scrape within cacheMs reuses the last refresh', async () => {
    await refreshScrapeMetrics(rt, { cacheMs: 0 });
    await db.pool.query(
      `INSERT INTO mismatches (id, fingerprint, kind, severity, status, unit_key, object_type,
                               currency, amount_at_risk, message)
       VALUES ('m6', 'f6', 'reversal_lost', 'critical', 'open', 'u', 'debit_reversal', 'gbp', 5, 'x')`,
    );
    await refreshScrapeMetrics(rt, { cacheMs: 60_000 });
    expect(await sample('recon_mismatches_open_amount_at_risk{currency="gbp"}')).toBeUndefined();
    await refreshScrapeMetrics(rt, { cacheMs: 0 });
    expect(await sample('recon_mismatches_open_amount_at_risk{currency="gbp"}')).toBe(5);
  });
});

describe('when Redis is down', () => {
  it('reports no queue series, quickly, and keeps the database ones', async () => {
    const down = createRuntime(
      testConfig({
        DATABASE_URL: db.url,
        REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
        QUEUE_PREFIX: prefix,
      }),
      captureLog('warn').log,
    );
    try {
      const t0 = Date.now();
      await refreshScrapeMetrics(down, { cacheMs: 0, timeoutMs: 1_000 });
      expect(Date.now() - t0).toBeLessThan(1_500);
      const text = await metrics.metrics();
      expect(text).not.toMatch(/^recon_queue_jobs\{/m);
      expect(text).not.toMatch(/^recon_queue_oldest_waiting_job_age_seconds\{/m);
      expect(await sample('recon_scrape_collector_up{collector="queues"}')).toBe(0);
      expect(await sample('recon_scrape_collector_up{collector="database"}')).toBe(1);
      expect(await sample('recon_mismatches_open_amount_at_risk{currency="usd"}')).toBe(1250);
    } finally {
      await down.close();
    }
  });
});

describe('recon_stripe_api_errors_total', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await createSimulator({ seed: 13 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  const errors = async (status: string) =>
    (await stripeApiErrorsTotal.get()).values.find((v) => v.labels.status === status)?.value ?? 0;

  it('counts failed requests by HTTP status, from both SDK clients', async () => {
    const config = { STRIPE_API_KEY: sim.apiKey, STRIPE_API_BASE: sim.url };
    const before = await errors('404');
    const plain = createStripeClient(config, { maxNetworkRetries: 0 });
    await expect(plain.transfers.retrieve('tr_doesnotexist')).rejects.toMatchObject({
      statusCode: 404,
    });
    const sweep = createSweepStripeClient({ ...config, RECON_SWEEP_RATE_LIMIT: 100 });
    await expect(sweep.transfers.retrieve('tr_doesnotexist')).rejects.toMatchObject({
      statusCode: 404,
    });
    expect(await errors('404')).toBe(before + 2);
    // A success is not an error.
    const ok = await errors('200');
    await plain.transfers.list({ limit: 1 });
    expect(await errors('200')).toBe(ok);
  });

  it('counts a request that got no answer as "connection"', async () => {
    const before = await errors('connection');
    const closed = createStripeClient(
      { STRIPE_API_KEY: sim.apiKey, STRIPE_API_BASE: `http://127.0.0.1:${await freePort()}` },
      { maxNetworkRetries: 0 },
    );
    await expect(closed.transfers.retrieve('tr_x')).rejects.toThrow();
    expect(await errors('connection')).toBe(before + 1);
  });
});
