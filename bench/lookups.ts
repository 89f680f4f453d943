import { upsertLedgerEntries } from '../src/ledger/store.js';
import { validateLedgerEntry, type LedgerEntryInput } from '../src/ledger/schema.js';
import { startStripeLookupWorker } from '../src/reconciliation/stripe-lookup.js';
import { startReconcileWorker } from '../src/reconciliation/worker.js';
import { createRuntime } from '../src/runtime.js';
import { createSimulator } from '../src/simulator/index.js';
import { TokenBucket } from '../src/stripe/rate-limit.js';
import { createSweepStripeClient } from '../src/stripe/client.js';
import {
  benchConfig,
  benchQueuePrefix,
  dropQueuePrefix,
  freshDatabase,
  round,
  until,
} from './lib/common.js';

/**
 * Confirm before raising, at bulk-import scale: 5,000 two-day-old entries naming credit reversals
 * Stripe never had, imported 1,000 per call (the API's maximum) with the reconcile worker running.
 * Baseline (same run): the same import with RECON_CONFIRM_MISSING=false — no lookups scheduled or
 * made. Measured: the import calls' time (must not grow: lookups are off its path), the time
 * until all 5,000 are raised, and the lookup worker's request rate against its token bucket.
 */
export interface LookupsResult {
  entries: number;
  rateLimit: number;
  importSeconds: number;
  baselineImportSeconds: number;
  ratio: number;
  raisedSeconds: number;
  baselineRaisedSeconds: number;
  requests: number;
  requestsPerSec: number;
  /** Most requests seen in any one-second window. */
  peakPerSecond: number;
}

const N = Number(process.env.BENCH_LOOKUP_ENTRIES ?? 5_000);
const RATE = Number(process.env.BENCH_LOOKUP_RATE ?? 500);

function entries(): LedgerEntryInput[] {
  const at = new Date(Date.now() - 2 * 86_400_000).toISOString();
  return Array.from({ length: N }, (_, i) => {
    const v = validateLedgerEntry({
      id: `le_bench_${i}`,
      kind: 'credit_reversal',
      stripe_id: `credrev_1Bench${String(i).padStart(10, '0')}`,
      parent_id: `rc_1Bench${String(i % 500).padStart(10, '0')}`,
      amount: 100 + i,
      currency: 'usd',
      occurred_at: at,
    });
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    return v.entry;
  });
}

async function run(confirm: boolean, simUrl: string, apiKey: string) {
  const url = await freshDatabase(confirm ? 'lookups' : 'lookups_off');
  const prefix = benchQueuePrefix('lookups');
  const rt = createRuntime(
    benchConfig(url, {
      QUEUE_PREFIX: prefix,
      STRIPE_API_BASE: simUrl,
      STRIPE_API_KEY: apiKey,
      RECON_CONFIRM_MISSING: String(confirm),
    }),
  );
  const stamps: number[] = [];
  const recon = startReconcileWorker(rt);
  const lookups = confirm
    ? startStripeLookupWorker(rt, {
        pollMs: 50,
        stripe: createSweepStripeClient(rt.config, {
          bucket: new TokenBucket(RATE),
          onRequest: () => stamps.push(performance.now()),
        }),
      })
    : null;
  try {
    const all = entries();
    const t0 = performance.now();
    for (let i = 0; i < all.length; i += 1_000)
      await upsertLedgerEntries(rt, all.slice(i, i + 1_000), 'api');
    const importSeconds = (performance.now() - t0) / 1_000;
    await until(
      async () =>
        (
          await rt.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM mismatches WHERE status = 'open' AND kind = 'missing_in_stripe'`,
          )
        ).rows[0]!.n === N,
      600_000,
      100,
      'every entry raised',
    );
    const raisedSeconds = (performance.now() - t0) / 1_000;
    let peak = 0;
    for (let i = 0, j = 0; i < stamps.length; i++) {
      while (stamps[i]! - stamps[j]! >= 1_000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    const span = stamps.length > 1 ? (stamps.at(-1)! - stamps[0]!) / 1_000 : 0;
    return {
      importSeconds,
      raisedSeconds,
      requests: stamps.length,
      requestsPerSec: span > 0 ? stamps.length / span : 0,
      peak,
    };
  } finally {
    await lookups?.close();
    await recon.close();
    await rt.close();
    await dropQueuePrefix(prefix);
  }
}

export async function benchLookups(opts: { log: (m: string) => void }): Promise<LookupsResult> {
  const sim = await createSimulator({ logger: false, seed: 12 });
  try {
    // Alternated twice, best import of each kept: the first import of a run pays for cold
    // caches and connections, whichever mode it is.
    let base: Awaited<ReturnType<typeof run>> | undefined;
    let real: Awaited<ReturnType<typeof run>> | undefined;
    const best = (a: typeof base, b: NonNullable<typeof base>) =>
      a && a.importSeconds <= b.importSeconds ? a : b;
    for (let pass = 1; pass <= 2; pass++) {
      opts.log(`lookups: baseline import of ${N} entries, confirmation off (${pass}/2)`);
      base = best(base, await run(false, sim.url, sim.apiKey));
      opts.log(`lookups: import of ${N} entries, confirmation on, ${RATE} lookups/s (${pass}/2)`);
      real = best(real, await run(true, sim.url, sim.apiKey));
    }
    if (!base || !real) throw new Error('no lookups run');
    return {
      entries: N,
      rateLimit: RATE,
      importSeconds: round(real.importSeconds, 2),
      baselineImportSeconds: round(base.importSeconds, 2),
      ratio: round(real.importSeconds / base.importSeconds, 2),
      raisedSeconds: round(real.raisedSeconds, 1),
      baselineRaisedSeconds: round(base.raisedSeconds, 1),
      requests: real.requests,
      requestsPerSec: Math.round(real.requestsPerSec),
      peakPerSecond: real.peak,
    };
  } finally {
    await sim.close();
  }
}
