import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { QUEUE_NAMES } from '../../src/queue/queues.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { StripeKeyError } from '../../src/stripe/key.js';
import { sweepQueue } from '../../src/sweep/queue.js';
import { backfill, startSweep } from '../../src/sweep/start.js';
import { startSweepWorker } from '../../src/sweep/worker.js';
import { createSweepStripeClient } from '../../src/stripe/client.js';
import { getSweepRun } from '../../src/sweep/store.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/events.js';

/**
 * A fresh backfill finds every connected account through GET /v1/accounts (auto-paginated,
 * through the sweep's rate-limited client), not only those already seen in events;
 * RECON_SWEEP_ACCOUNTS narrows it to those alone. A revoked key fails the run at once.
 */

const DAY = 86_400_000;
/** More than one page of GET /v1/accounts at limit 100 would take too long to seed; 3 do. */
const WITH_TREASURY = ['acct_1DiscoverA', 'acct_1DiscoverB'];
const DESTINATION_ONLY = 'acct_1DiscoverDest';

let sim: Simulator;
const dbs: TestDatabase[] = [];
const rts: Runtime[] = [];

async function seed(s: Simulator): Promise<void> {
  await s
    .stripe()
    .transfers.create({ amount: 5_000, currency: 'usd', destination: DESTINATION_ONLY });
  for (const acct of WITH_TREASURY) {
    const conn = s.stripe({ stripeAccount: acct });
    const fa = await conn.treasury.financialAccounts.create({ supported_currencies: ['usd'] });
    const rc = await conn.testHelpers.treasury.receivedCredits.create({
      amount: 1_234,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    await conn.treasury.creditReversals.create({ received_credit: rc.id });
  }
  await s.advanceDays(2);
}

async function runtime(env: Record<string, string> = {}): Promise<Runtime> {
  const db = await createTestDatabase();
  dbs.push(db);
  const rt = createRuntime(
    testConfig({
      DATABASE_URL: db.url,
      STRIPE_API_KEY: sim.apiKey,
      STRIPE_API_BASE: sim.url,
      RECON_SWEEP_RATE_LIMIT: '1000',
      ALERT_LOG: 'true',
      ...env,
    }),
  );
  rts.push(rt);
  return rt;
}

beforeAll(async () => {
  sim = await createSimulator({ seed: 1414, startTime: Date.now() - 5 * DAY });
  await seed(sim);
});
afterEach(() => sim.setApiKeyState({ state: 'active' }));
afterAll(async () => {
  for (const rt of rts) await rt.close();
  for (const db of dbs) await db.close();
  await sim.close();
});

describe('connected-account discovery', () => {
  it('a fresh backfill visits every account GET /v1/accounts lists, through the rate-limited client', async () => {
    const rt = await runtime();
    const paths: string[] = [];
    const stripe = createSweepStripeClient(rt.config, { onRequest: (_m, p) => paths.push(p) });
    const run = await backfill(rt, { stripe });
    expect(run.status).toBe('completed');
    expect(run.cursor.accounts).toEqual([null, ...[...WITH_TREASURY, DESTINATION_ONLY].sort()]);
    expect(paths.some((p) => p.startsWith('/v1/accounts'))).toBe(true);
    const { rows } = await rt.pool.query<{ account: string }>(
      'SELECT DISTINCT account FROM credit_reversals ORDER BY account',
    );
    expect(rows.map((r) => r.account)).toEqual(WITH_TREASURY);
  });

  it('RECON_SWEEP_ACCOUNTS narrows the sweep to those accounts (and the platform)', async () => {
    const rt = await runtime({ RECON_SWEEP_ACCOUNTS: WITH_TREASURY[1]! });
    const paths: string[] = [];
    const stripe = createSweepStripeClient(rt.config, { onRequest: (_m, p) => paths.push(p) });
    const run = await backfill(rt, { stripe });
    expect(run.status).toBe('completed');
    expect(run.cursor.accounts).toEqual([null, WITH_TREASURY[1]]);
    expect(paths.some((p) => p.startsWith('/v1/accounts'))).toBe(false);
    const { rows } = await rt.pool.query<{ account: string }>(
      'SELECT DISTINCT account FROM credit_reversals',
    );
    expect(rows.map((r) => r.account)).toEqual([WITH_TREASURY[1]]);
  });
});

describe('a revoked key', () => {
  it('fails the run at once with one clear line and queues a sweep.failed alert', async () => {
    const rt = await runtime();
    sim.setApiKeyState({ state: 'revoked' });
    const paths: string[] = [];
    const stripe = createSweepStripeClient(rt.config, { onRequest: (_m, p) => paths.push(p) });
    const err = await backfill(rt, { stripe }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StripeKeyError);
    const message = (err as Error).message;
    expect(message).toMatch(
      /^sweep \S+ failed: Stripe rejects STRIPE_API_KEY \(401: wrong, rolled or revoked; not retried\)/,
    );
    expect(message).not.toContain('\n');
    expect(paths).toHaveLength(1); // no retry
    const runId = message.split(' ')[1]!;
    const run = await getSweepRun(rt.prisma, runId);
    expect(run?.status).toBe('failed');
    expect(run?.error).toContain('Stripe rejects STRIPE_API_KEY');
    const q = new Queue(QUEUE_NAMES.alerts, {
      connection: rt.redis,
      prefix: rt.config.QUEUE_PREFIX,
    });
    try {
      const job = await q.getJob(`sweep-failed-${runId}`);
      expect(job?.data).toEqual({
        job: 'sweep_failed',
        sweep_run_id: runId,
        error: expect.stringContaining('Stripe rejects STRIPE_API_KEY') as unknown,
      });
    } finally {
      await q.close();
    }
  });

  it('fails a queued sweep on its first attempt: the sweep worker does not retry it', async () => {
    const rt = await runtime({ JOB_ATTEMPTS: '5' });
    sim.setApiKeyState({ state: 'revoked' });
    const paths: string[] = [];
    const stripe = createSweepStripeClient(rt.config, { onRequest: (_m, p) => paths.push(p) });
    const worker = await startSweepWorker(rt, { cron: null, stripe });
    try {
      const run = await startSweep(rt, { trigger: 'cli' });
      const failed = await waitFor(
        async () => {
          const r = await getSweepRun(rt.prisma, run.id);
          return r?.status === 'failed' ? r : null;
        },
        { what: 'the sweep to fail' },
      );
      expect(failed.error).toMatch(/^Stripe rejects STRIPE_API_KEY \(401/);
      // The run row says failed a moment before BullMQ moves the job to its failed set (the
      // alert is enqueued and the lock released in between): wait for the job too.
      const jobs = await waitFor(
        async () => {
          const j = await sweepQueue(rt).getJobs(['failed']);
          return j.length > 0 ? j : null;
        },
        { what: 'the sweep job to be failed' },
      );
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.attemptsMade).toBe(1);
      expect(jobs[0]!.failedReason).toContain('Stripe rejects STRIPE_API_KEY');
      expect(paths).toHaveLength(1);
    } finally {
      await worker.close();
    }
  });
});
