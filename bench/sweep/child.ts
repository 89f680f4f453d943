/**
 * One timed sweep in its own process, so its peak RSS is its own.
 * Usage: node --import tsx bench/sweep/child.ts narrowed|baseline <DATABASE_URL>
 * Prints {"result": {seconds, peakRssMb, ...}}.
 */
import { createLogger } from '../../src/log/logger.js';
import { SCAN_SETTINGS, reconcileAllNarrowed } from '../../src/reconciliation/sweep-reconcile.js';
import { createRuntime } from '../../src/runtime.js';
import { benchConfig, send } from '../lib/common.js';
import { BASELINE_SQL } from './sql.js';

const [mode, databaseUrl] = process.argv.slice(2);
if ((mode !== 'narrowed' && mode !== 'baseline') || !databaseUrl)
  throw new Error('usage: child.ts narrowed|baseline DATABASE_URL');
const rt = createRuntime(benchConfig(databaseUrl), createLogger({ level: 'warn' }));
await rt.pool.query('SELECT 1');
let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const t0 = performance.now();
let extra: Record<string, unknown>;
if (mode === 'baseline') {
  // The same session settings the narrowing scans get, so the comparison is of queries only.
  const c = await rt.pool.connect();
  await c.query('BEGIN READ ONLY');
  for (const [k, v] of Object.entries(SCAN_SETTINGS))
    await c.query('SELECT set_config($1, $2, true)', [k, v]);
  const { rows } = await c.query(BASELINE_SQL);
  await c.query('COMMIT');
  c.release();
  extra = { rows: rows.length };
} else {
  const r = await reconcileAllNarrowed(rt, {
    batchSize: Number(process.env.BENCH_SWEEP_BATCH ?? rt.config.RECON_SWEEP_BATCH_SIZE),
  });
  extra = {
    units: r.units,
    mismatches: r.mismatches,
    opened: r.changes.opened.length,
    resolved: r.changes.resolved.length,
    failed: r.failed.length,
  };
}
const seconds = (performance.now() - t0) / 1_000;
peak = Math.max(peak, process.memoryUsage().rss);
clearInterval(sampler);
send({ result: { seconds, peakRssMb: Math.round(peak / 2 ** 20), ...extra } });
await rt.close();
process.exit(0);
