/**
 * `npm run bench [-- ingest|projection|sweep ...]`: runs the parts (all by default), each against a
 * baseline measured in the same run, prints a Markdown table on stdout and writes
 * bench/results/<date>.json with the machine and the git commit. Progress goes to stderr.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchIngest, type IngestResult } from './ingest.js';
import { gitCommit, machineInfo, ROOT, round, settlePostgres } from './lib/common.js';
import { benchLookups, type LookupsResult } from './lookups.js';
import { benchProjection, type ProjectionResult } from './projection.js';
import { benchSweep, type SweepResult } from './sweep.js';

const PARTS = ['ingest', 'projection', 'sweep', 'lookups'] as const;
type Part = (typeof PARTS)[number];

const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const a of asked)
  if (!PARTS.includes(a as Part)) throw new Error(`unknown part "${a}" (use ${PARTS.join(', ')})`);
const parts: Part[] = asked.length ? (asked as Part[]) : [...PARTS];

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const started = Date.now();
const results: {
  ingest?: IngestResult;
  projection?: ProjectionResult;
  sweep?: SweepResult;
  lookups?: LookupsResult;
} = {};

for (const part of parts) {
  await settlePostgres();
  const t0 = Date.now();
  log(`${part}…`);
  if (part === 'ingest') results.ingest = await benchIngest();
  if (part === 'projection') results.projection = await benchProjection({ log });
  if (part === 'sweep') results.sweep = await benchSweep({ log });
  if (part === 'lookups') results.lookups = await benchLookups({ log });
  log(`${part} done in ${round((Date.now() - t0) / 1000, 1)} s`);
}

const machine = await machineInfo();
const git = gitCommit();
const rows: string[][] = [];
const ok = (b: boolean) => (b ? 'yes' : '**no**');

if (results.ingest) {
  const i = results.ingest;
  rows.push([
    `Ingest, ${i.connections} connections, ${i.seconds} s`,
    `${i.real.reqPerSec.toLocaleString('en-US')} req/s, p50 ${i.real.p50Ms} ms, p99 ${i.real.p99Ms} ms`,
    `${i.baseline.reqPerSec.toLocaleString('en-US')} req/s, p50 ${i.baseline.p50Ms} ms, p99 ${i.baseline.p99Ms} ms (node:http + INSERT + add)`,
    `${i.ratio}×`,
    `≥ 1.4×, p99 ≤ 15 ms: ${ok(i.ratio >= 1.4 && i.real.p99Ms <= 15 && i.real.ackAfterCommit)}`,
  ]);
}
if (results.projection) {
  const p = results.projection;
  rows.push([
    `Projection + reconcile, ${p.events.toLocaleString('en-US')} queued events`,
    `${p.eventsPerSec.toLocaleString('en-US')} events/s (${p.seconds} s); ${p.redisScriptsPerEvent} Redis scripts, ${p.pgCommitsPerEvent} commits, ${p.walBytesPerEvent} WAL bytes per event; worker peak RSS ${p.workerPeakRssMb} MB`,
    `${p.bare.eventsPerSec.toLocaleString('en-US')} events/s (same SQL from the inbox, one loop, no queue)`,
    `${p.bareRatio}×`,
    `≥ 5,000/s, ≥ 0.6×, ≤ 0.05 scripts/event, RSS ≤ 300 MB: ${ok(p.eventsPerSec >= 5_000 && p.bareRatio >= 0.6 && p.redisScriptsPerEvent <= 0.05 && p.workerPeakRssMb <= 300)}`,
  ]);
  rows.push([
    'Projection write path (applyEvents), through Prisma',
    `${p.bare.writeEventsPerSec.toLocaleString('en-US')} events/s`,
    `${p.barePg.writeEventsPerSec.toLocaleString('en-US')} events/s (same statements on the bare pg pool)`,
    `${p.prismaWriteRatio}×`,
    `Prisma costs ≤ 10 %: ${ok(p.prismaWriteRatio >= 1 / 1.1)}`,
  ]);
  for (const e of p.e2e)
    rows.push([
      `End to end at ${e.rate}/s (receipt → mismatch visible), ${e.topology === 'start' ? 'one process (recon start)' : 'receiver and worker processes (as deployed)'}`,
      `p50 ${e.p50Ms} ms, p99 ${e.p99Ms} ms (${e.seen}/${e.sent})`,
      '—',
      '—',
      e.topology === 'start'
        ? `(informative) p99 ≤ 1 s: ${ok(e.p99Ms <= 1_000 && e.seen === e.sent)}`
        : `p99 ≤ 1 s: ${ok(e.p99Ms <= 1_000 && e.seen === e.sent)}`,
    ]);
}
if (results.sweep) {
  const s = results.sweep;
  rows.push([
    `Sweep, ${(s.reversals / 1e6).toLocaleString('en-US')} M reversals × ${(s.ledgerEntries / 1e6).toLocaleString('en-US')} M entries, ${s.driftPct} % drift`,
    `${s.seconds} s (${s.candidates.toLocaleString('en-US')} units reconciled), peak RSS ${s.peakRssMb} MB`,
    `${s.baselineSeconds} s (one FULL OUTER JOIN, ${s.baselineRows.toLocaleString('en-US')} rows)`,
    `${s.ratio}×`,
    `≤ 5× (aim 2×), RSS ≤ 300 MB: ${ok(s.ratio <= 5 && s.peakRssMb <= 300)}`,
  ]);
  rows.push([
    `Sweep listing through the SDK (simulator), ${s.list.objects.toLocaleString('en-US')} objects`,
    `${s.list.objectsPerSec.toLocaleString('en-US')} objects/s (${s.list.seconds} s)`,
    '—',
    '—',
    '—',
  ]);
}

if (results.lookups) {
  const l = results.lookups;
  rows.push([
    `Bulk import of ${l.entries.toLocaleString('en-US')} old entries, confirm before raising`,
    `import ${l.importSeconds} s; all raised after ${l.raisedSeconds} s; ${l.requests.toLocaleString('en-US')} lookups at ${l.requestsPerSec}/s (peak ${l.peakPerSecond} in 1 s, limit ${l.rateLimit}/s)`,
    `import ${l.baselineImportSeconds} s; all raised after ${l.baselineRaisedSeconds} s (no lookups)`,
    `${l.ratio}×`,
    `import not slowed (≤ 1.2×), peak ≤ limit + burst: ${ok(l.ratio <= 1.2 && l.peakPerSecond <= 2 * l.rateLimit)}`,
  ]);
}

const table = [
  '| Benchmark | This build | Baseline (same run) | Ratio | Target met |',
  '| --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
const footer =
  `\n\n${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, ` +
  `Postgres ${machine.postgres}, Redis ${machine.redis}; commit ${git.commit.slice(0, 10)}${git.dirty ? ' (dirty)' : ''}; ` +
  `total ${round((Date.now() - started) / 1000, 0)} s.`;
process.stdout.write(`${table}${footer}\n`);

const date = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
const dir = join(ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `${date}${asked.length ? `-${parts.join('-')}` : ''}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ date: new Date().toISOString(), git, machine, parts, totalSeconds: round((Date.now() - started) / 1000, 1), results, table }, null, 2)}\n`,
);
log(`wrote ${file}`);
process.exit(0);
