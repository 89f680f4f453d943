import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { runSweep } from '../../src/sweep/start.js';
import { getSweepRun, type SweepRun } from '../../src/sweep/store.js';
import { startSweepWorker } from '../../src/sweep/worker.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/events.js';

/**
 * A sweep stopped halfway (after a few pages) and resumed — once in-process, once by a sweep
 * worker that finds the abandoned run at start — ends with exactly the rows of an uninterrupted
 * sweep over the same Stripe data.
 */

const CONNECTED = 'acct_1SweepResumeConn';
const DAY = 86_400_000;

let sim: Simulator;
const dbs: TestDatabase[] = [];
const rts: Runtime[] = [];

async function seed(s: Simulator): Promise<void> {
  const platform = s.stripe();
  for (let i = 0; i < 13; i++) {
    const tr = await platform.transfers.create({
      amount: 10_000 + i,
      currency: 'usd',
      destination: 'acct_1SweepDest',
    });
    const n = i === 0 ? 12 : (i % 3) + 1; // the first one has more than the 10 a transfer embeds
    for (let j = 0; j < n; j++) await platform.transfers.createReversal(tr.id, { amount: 100 + j });
  }
  const conn = s.stripe({ stripeAccount: CONNECTED });
  const fa = await conn.treasury.financialAccounts.create({
    supported_currencies: ['usd'],
    features: {},
  });
  for (let i = 0; i < 7; i++) {
    const rc = await conn.testHelpers.treasury.receivedCredits.create({
      amount: 2_000 + i,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    if (i < 4)
      await conn.treasury.creditReversals.create({
        received_credit: rc.id,
        metadata: i === 0 ? { sim_outcome: 'stuck' } : {},
      });
  }
  for (let i = 0; i < 6; i++) {
    const rd = await conn.testHelpers.treasury.receivedDebits.create({
      amount: 3_000 + i,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    if (i < 3)
      await conn.treasury.debitReversals.create({
        received_debit: rd.id,
        metadata: i === 0 ? { sim_outcome: 'lost' } : {},
      });
  }
  await s.advanceDays(4);
}

async function runtime(): Promise<Runtime> {
  const db = await createTestDatabase();
  dbs.push(db);
  const rt = createRuntime(
    testConfig({
      DATABASE_URL: db.url,
      STRIPE_API_KEY: sim.apiKey,
      STRIPE_API_BASE: sim.url,
      RECON_SWEEP_ACCOUNTS: CONNECTED,
      RECON_SWEEP_RATE_LIMIT: '1000',
      RECON_GRACE_PERIOD: '0s',
      ALERT_LOG: 'false',
    }),
  );
  rts.push(rt);
  return rt;
}

/** Projection rows without the columns that say *when* or *by which snapshot* they were written. */
async function projections(rt: Runtime): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of [
    'transfers',
    'transfer_reversals',
    'credit_reversals',
    'debit_reversals',
    'received_credits',
    'received_debits',
  ]) {
    const { rows } = await rt.pool.query(`SELECT * FROM ${table} ORDER BY id`);
    out[table] = rows.map((r: Record<string, unknown>) => {
      const {
        snapshot_at: _a,
        snapshot_id: _b,
        updated_at: _c,
        status_snapshot_at: _d,
        status_snapshot_id: _e,
        raw: _f,
        ...rest
      } = r;
      return rest;
    });
  }
  return out;
}

async function mismatchSummary(rt: Runtime) {
  const { rows } = await rt.pool.query<{ fingerprint: string; status: string; severity: string }>(
    'SELECT fingerprint, status, severity FROM mismatches ORDER BY fingerprint',
  );
  return rows;
}

let reference: { run: SweepRun; projections: Record<string, unknown[]>; mismatches: unknown[] };

beforeAll(async () => {
  sim = await createSimulator({ seed: 7, startTime: Date.now() - 10 * DAY });
  await seed(sim);
  const rt = await runtime();
  const run = await runSweep(rt, { trigger: 'cli', pageSize: 5 });
  reference = { run, projections: await projections(rt), mismatches: await mismatchSummary(rt) };
});

afterAll(async () => {
  for (const rt of rts) await rt.close();
  for (const db of dbs) await db.close();
  await sim?.close();
});

describe('uninterrupted sweep (the reference)', () => {
  it('projects every object and recovers every event', async () => {
    expect(reference.run).toMatchObject({ status: 'completed', trigger: 'cli' });
    const p = reference.projections;
    expect(p.transfers).toHaveLength(13);
    expect(p.transfer_reversals).toHaveLength(
      12 + [...Array(12).keys()].reduce((s, i) => s + ((i + 1) % 3) + 1, 0),
    );
    expect(p.received_credits).toHaveLength(7);
    expect(p.credit_reversals).toHaveLength(4);
    expect(p.received_debits).toHaveLength(6);
    expect(p.debit_reversals).toHaveLength(3);
    expect(reference.run.events_recovered).toBeGreaterThan(0);
    expect(reference.run.report_id).toMatch(/^rpt_/);
    expect(reference.mismatches.length).toBeGreaterThan(0);
  });
});

describe('interrupted sweep', () => {
  it('resumes in-process from its cursor and ends with the same rows', async () => {
    const rt = await runtime();
    const stop = new AbortController();
    let seen: SweepRun | undefined;
    await expect(
      runSweep(rt, {
        trigger: 'cli',
        pageSize: 5,
        signal: stop.signal,
        onProgress: (r) => {
          seen = r;
          if (r.pages_fetched >= 3) stop.abort();
        },
      }),
    ).rejects.toThrow(/interrupted/);
    const halfway = (await getSweepRun(rt.prisma, seen!.id))!;
    expect(halfway).toMatchObject({ status: 'running', pages_fetched: 3 });
    expect(halfway.cursor).toMatchObject({ phase: 'objects', step: 'transfers' });
    expect(halfway.cursor.after).toMatch(/^tr_/);

    const pages: number[] = [];
    const done = await runSweep(rt, {
      trigger: 'cli',
      pageSize: 5,
      onProgress: (r) => pages.push(r.pages_fetched),
    });
    expect(done.id).toBe(halfway.id); // joined the active run rather than starting another
    expect(done.status).toBe('completed');
    expect(pages[0]).toBeGreaterThanOrEqual(3); // continued from the saved page, not from zero
    expect(done.objects_fetched).toBe(reference.run.objects_fetched);
    expect(done.events_recovered).toBe(reference.run.events_recovered);
    expect(await projections(rt)).toEqual(reference.projections);
    expect(await mismatchSummary(rt)).toEqual(reference.mismatches);
  });

  it('is resumed by a sweep worker that finds the abandoned run at start', async () => {
    const rt = await runtime();
    const stop = new AbortController();
    await expect(
      runSweep(rt, {
        trigger: 'cli',
        pageSize: 5,
        signal: stop.signal,
        onProgress: (r) => {
          // Stop inside the Treasury lists this time.
          if (r.cursor.step === 'treasury' && r.cursor.fa_list_index === 2 && r.cursor.after)
            stop.abort();
        },
      }),
    ).rejects.toThrow(/interrupted/);
    const { rows } = await rt.pool.query<{ id: string }>(
      `SELECT id FROM sweep_runs WHERE status = 'running'`,
    );
    expect(rows).toHaveLength(1);

    const worker = await startSweepWorker(rt, { cron: null });
    try {
      const done = await waitFor(
        async () => {
          const r = await getSweepRun(rt.prisma, rows[0]!.id);
          return r?.status === 'completed' ? r : null;
        },
        { timeoutMs: 30_000, what: 'the worker to finish the abandoned sweep' },
      );
      expect(done.objects_fetched).toBe(reference.run.objects_fetched);
      expect(done.events_recovered).toBe(reference.run.events_recovered);
      expect(await projections(rt)).toEqual(reference.projections);
      expect(await mismatchSummary(rt)).toEqual(reference.mismatches);
    } finally {
      await worker.close();
    }
  });
});
