import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { loadConfig, type Config } from '../../src/config/config.js';
import { migrate } from '../../src/db/migrate.js';

/** Shared plumbing of the benchmark: databases, config, child processes, machine facts. */

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCH_SECRET = 'whsec_bench_0123456789abcdef';
export const PG_ADMIN_URL =
  process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function dbUrl(name: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops and recreates `recon_bench_<part>`, migrated: every part starts from an empty schema. */
export async function freshDatabase(part: string): Promise<string> {
  const name = `recon_bench_${part}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = dbUrl(name);
  await migrate(url);
  return url;
}

/**
 * Lets Postgres settle before a part is timed: drops what earlier runs left (the sweep's two
 * million rows would otherwise be vacuumed and checkpointed under the next ingest run, whose
 * latency is the commit's `fsync`), then flushes dirty buffers with a CHECKPOINT.
 */
export async function settlePostgres(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, 'recon_bench_')`,
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE "${datname}" WITH (FORCE)`);
    await admin.query('CHECKPOINT');
  } finally {
    await admin.end();
  }
}

export function benchQueuePrefix(part: string): string {
  return `recon-bench-${part}-${randomBytes(3).toString('hex')}`;
}

export function benchConfig(databaseUrl: string, extra: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: extra.QUEUE_PREFIX ?? benchQueuePrefix('x'),
    STRIPE_WEBHOOK_SECRET: BENCH_SECRET,
    STRIPE_API_KEY: 'sk_test_bench_0123456789',
    OPERATOR_TOKEN: 'bench_operator_token_0123456789',
    LOG_LEVEL: 'warn',
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    ...extra,
  });
}

/** Removes every key of a queue prefix (BullMQ keys are `<prefix>:<queue>:…`). */
export async function dropQueuePrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export interface Child {
  proc: ChildProcess;
  /** Resolves with the first JSON line the child prints on stdout that has `key`. */
  message<T>(key: string): Promise<T>;
  exited: Promise<number | null>;
  peakRssMb(): number;
}

/**
 * Runs a TypeScript file under `node --import tsx` in its own process. Children talk back with
 * one JSON object per stdout line; stderr is passed through.
 */
/**
 * The Node flags the shipped worker runs with (NODE_OPTIONS in deploy/kubernetes/worker.yaml: the
 * heap ceiling), so the bench measures the worker's memory as deployed.
 */
export function deployedWorkerNodeArgs(): string[] {
  const manifest = parse(readFileSync(join(ROOT, 'deploy/kubernetes/worker.yaml'), 'utf8')) as {
    spec: {
      template: {
        spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> };
      };
    };
  };
  const env = manifest.spec.template.spec.containers[0]?.env ?? [];
  const value = env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
  return value.split(/\s+/).filter(Boolean);
}

export function spawnTs(
  file: string,
  args: string[] = [],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Child {
  const proc = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', join(ROOT, file), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<{ key: string; resolve: (v: unknown) => void }> = [];
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let peak = 0;
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      process.stderr.write(`[${file}] ${line}\n`);
      return;
    }
    if (typeof m.rssMb === 'number') peak = Math.max(peak, m.rssMb);
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.key in m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  return {
    proc,
    exited,
    peakRssMb: () => peak,
    message<T>(key: string) {
      const found = messages.find((m) => key in m);
      if (found) return Promise.resolve(found as T);
      return new Promise<T>((resolve, reject) => {
        waiters.push({ key, resolve: resolve as (v: unknown) => void });
        void exited.then((code) =>
          reject(new Error(`${file} exited (${code}) before sending "${key}"`)),
        );
      });
    },
  };
}

/** Prints one JSON line for the parent (children only). */
export function send(msg: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  postgres: string;
  redis: string;
  platform: string;
}

export async function machineInfo(): Promise<Machine> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  const { rows } = await c.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  await c.end();
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const info = await r.info('server');
  r.disconnect();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    postgres: rows[0]?.v ?? 'unknown',
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    platform: `${process.platform} ${process.arch}`,
  };
}

export function gitCommit(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` is truthy (or throws after `timeoutMs`). */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
