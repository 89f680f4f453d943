import { dropQueuePrefix, benchQueuePrefix, freshDatabase, round, spawnTs } from './lib/common.js';

export interface IngestRun {
  reqPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  total: number;
  non2xx: number;
  errors: number;
  /** Every 2xx (warm-up included) has its row in the inbox: ack-after-commit held. */
  ackAfterCommit: boolean;
  inboxRows: number;
  acked: number;
  jobs: number;
  serverRssMb: number;
  avgBodyBytes: number;
}

export interface IngestResult {
  connections: number;
  seconds: number;
  real: IngestRun;
  baseline: IngestRun;
  ratio: number;
}

interface LoadResult {
  reqPerSec: number;
  total: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  latencyMs: { p50: number; p90: number; p99: number };
  avgBodyBytes: number;
  warmup2xx: number;
}

async function one(
  mode: 'real' | 'baseline',
  connections: number,
  seconds: number,
  warmup: number,
): Promise<IngestRun> {
  const url = await freshDatabase(`ingest_${mode}`);
  const prefix = benchQueuePrefix(`ingest-${mode}`);
  const server = spawnTs(
    'bench/ingest/server.ts',
    [mode, url, prefix],
    {},
    process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=/tmp/prof-ingest-${mode}`] : [],
  );
  try {
    const { port } = await server.message<{ port: number }>('port');
    const load = spawnTs('bench/ingest/load.ts', [
      String(port),
      String(connections),
      String(seconds),
      String(warmup),
    ]);
    const { result } = await load.message<{ result: LoadResult }>('result');
    await load.exited;
    server.proc.stdin!.write('stop\n');
    const { stopped } = await server.message<{
      stopped: { inboxRows: number; jobs: number; rssMb: number };
    }>('stopped');
    await Promise.race([server.exited, new Promise((r) => setTimeout(r, 5_000))]);
    const acked = result.ok2xx + result.warmup2xx;
    return {
      reqPerSec: round(result.reqPerSec, 0),
      p50Ms: result.latencyMs.p50,
      p90Ms: result.latencyMs.p90,
      p99Ms: result.latencyMs.p99,
      total: result.total,
      non2xx: result.non2xx,
      errors: result.errors,
      ackAfterCommit: stopped.inboxRows >= acked,
      inboxRows: stopped.inboxRows,
      acked,
      jobs: stopped.jobs,
      serverRssMb: stopped.rssMb,
      avgBodyBytes: result.avgBodyBytes,
    };
  } finally {
    server.proc.kill('SIGKILL');
    await dropQueuePrefix(prefix);
  }
}

/** Part 1: the real receiver against a bare node:http + INSERT + add baseline, same run. */
export async function benchIngest(
  opts: { connections?: number; seconds?: number; warmup?: number } = {},
): Promise<IngestResult> {
  const connections = opts.connections ?? 50;
  const seconds = opts.seconds ?? 10;
  const warmup = opts.warmup ?? 3;
  const baseline = await one('baseline', connections, seconds, warmup);
  const real = await one('real', connections, seconds, warmup);
  return {
    connections,
    seconds,
    real,
    baseline,
    ratio: round(real.reqPerSec / baseline.reqPerSec, 2),
  };
}
