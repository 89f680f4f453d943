import pg from 'pg';
import { createSimulator } from '../src/simulator/index.js';
import { freshDatabase, round, spawnTs } from './lib/common.js';
import { seedSql } from './sweep/sql.js';

export interface SweepResult {
  reversals: number;
  ledgerEntries: number;
  driftPct: number;
  seedSeconds: number;
  seconds: number;
  candidates: number;
  mismatches: number;
  peakRssMb: number;
  baselineSeconds: number;
  baselineRows: number;
  baselinePeakRssMb: number;
  ratio: number;
  list: { objects: number; requests: number; objectsPerSec: number; seconds: number };
}

interface ChildResult {
  seconds: number;
  peakRssMb: number;
  rows?: number;
  units?: number;
  mismatches?: number;
}

async function timed(mode: 'narrowed' | 'baseline', url: string): Promise<ChildResult> {
  const child = spawnTs(
    'bench/sweep/child.ts',
    [mode, url],
    {},
    process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=/tmp/prof-sweep-${mode}`] : [],
  );
  const { result } = await child.message<{ result: ChildResult }>('result');
  await child.exited;
  return result;
}

/** Lists `objects` transfer reversals (and their transfers) from the simulator through the SDK, as the sweep does. */
async function sdkListing(objects: number, log: (m: string) => void) {
  const sim = await createSimulator({ logger: false, seed: 7 });
  try {
    const stripe = sim.stripe();
    const transfers = Math.ceil(objects / 10);
    log(`sweep: creating ${transfers} transfers with 9 reversals each in the simulator`);
    const ids: string[] = [];
    for (let i = 0; i < transfers; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, transfers - i) }, async () => {
          const t = await stripe.transfers.create({
            amount: 10_000,
            currency: 'usd',
            destination: 'acct_seller1',
          });
          ids.push(t.id);
          for (let k = 0; k < 9; k++) await stripe.transfers.createReversal(t.id, { amount: 100 });
        }),
      );
    }
    const t0 = performance.now();
    let seen = 0;
    let requests = 0;
    const listed: string[] = [];
    for await (const t of stripe.transfers.list({ limit: 100 })) {
      listed.push(t.id);
      seen++;
    }
    requests += Math.ceil(listed.length / 100);
    for (let i = 0; i < listed.length; i += 10) {
      await Promise.all(
        listed.slice(i, i + 10).map(async (id) => {
          for await (const _r of stripe.transfers.listReversals(id, { limit: 100 })) seen++;
          requests++;
        }),
      );
    }
    const seconds = (performance.now() - t0) / 1_000;
    return {
      objects: seen,
      requests,
      seconds: round(seconds, 2),
      objectsPerSec: round(seen / seconds, 0),
    };
  } finally {
    await sim.close();
  }
}

/** Part 3: a full reconciliation sweep over R reversals × R entries against one FULL OUTER JOIN. */
export async function benchSweep(opts: {
  log: (m: string) => void;
  reversals?: number;
}): Promise<SweepResult> {
  const reversals = opts.reversals ?? Number(process.env.BENCH_SWEEP_REVERSALS ?? 1_000_000);
  const url = await freshDatabase('sweep');
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const t0 = performance.now();
  opts.log(`sweep: seeding ${reversals} reversals and ledger entries`);
  for (const sql of seedSql(reversals)) await pool.query(sql);
  const seedSeconds = (performance.now() - t0) / 1_000;
  const { rows } = await pool.query<{ r: number; l: number }>(
    `SELECT (SELECT count(*) FROM transfer_reversals) + (SELECT count(*) FROM credit_reversals) + (SELECT count(*) FROM debit_reversals) AS r,
            (SELECT count(*) FROM ledger_entries) AS l`,
  );
  await pool.end();
  opts.log(`sweep: seeded in ${round(seedSeconds, 1)} s; baseline…`);
  const baseline = await timed('baseline', url);
  opts.log(`sweep: baseline ${round(baseline.seconds, 2)} s; narrowed sweep…`);
  const narrowed = await timed('narrowed', url);
  opts.log(`sweep: narrowed ${round(narrowed.seconds, 2)} s`);
  const list = await sdkListing(Number(process.env.BENCH_LIST_OBJECTS ?? 10_000), opts.log);
  return {
    reversals: Number(rows[0]!.r),
    ledgerEntries: Number(rows[0]!.l),
    driftPct: 0.5,
    seedSeconds: round(seedSeconds, 1),
    seconds: round(narrowed.seconds, 2),
    candidates: narrowed.units ?? 0,
    mismatches: narrowed.mismatches ?? 0,
    peakRssMb: narrowed.peakRssMb,
    baselineSeconds: round(baseline.seconds, 2),
    baselineRows: baseline.rows ?? 0,
    baselinePeakRssMb: baseline.peakRssMb,
    ratio: round(narrowed.seconds / baseline.seconds, 2),
    list,
  };
}
