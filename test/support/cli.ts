import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { inject } from 'vitest';

/**
 * Process-level helpers for the CLI end-to-end tests: `node bin/recon.js …` exactly as a user runs
 * it, from the repository root, with an environment built from scratch (nothing inherited from the
 * test runner but PATH and HOME, so a DATABASE_URL in the parent can never leak into a child).
 * Every wait has a deadline; every child is tracked so `killAllChildren()` in afterEach can end it.
 */

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = 'bin/recon.js';

/**
 * The base environment of every child: PATH/HOME only, `.env` disabled (dotenv would otherwise
 * fill in variables a test deliberately leaves out), no colours, no probe server. Tests add what
 * they need.
 */
export function cliEnv(vars: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    DOTENV_CONFIG_PATH: join(REPO_ROOT, '.env.cli-test-does-not-exist'),
    DOTENV_CONFIG_QUIET: 'true',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    // The source under test, even when an earlier `npm run build` left a dist/ (bin/recon.js).
    RECON_FROM_SOURCE: '1',
    // Every role would otherwise open the probe server on 9464, and parallel children would
    // collide; a test that probes it passes a free port.
    METRICS_PORT: '0',
  };
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = v;
  return env;
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliResult extends CliExit {
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, ms. */
  ms: number;
}

const live = new Set<CliProcess>();

/** A running `recon …` child with its output captured as it arrives. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly args: readonly string[];
  private out = '';
  private err = '';
  private readonly started = Date.now();
  private exitInfo: (CliExit & { ms: number }) | null = null;
  private readonly exited: Promise<CliExit & { ms: number }>;

  constructor(args: string[], env: Record<string, string>) {
    this.args = args;
    this.child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.out += s));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.err += s));
    live.add(this);
    this.exited = new Promise((resolve) => {
      // 'close' (not 'exit'): both pipes are drained, so stdout/stderr are complete.
      this.child.once('close', (code, signal) => {
        live.delete(this);
        this.exitInfo = { code, signal, ms: Date.now() - this.started };
        resolve(this.exitInfo);
      });
      this.child.once('error', () => {
        live.delete(this);
        this.exitInfo = { code: null, signal: null, ms: Date.now() - this.started };
        resolve(this.exitInfo);
      });
    });
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** What was printed so far, for failure messages: pino lines condensed to level, component, msg. */
  transcript(maxLines = 80): string {
    const condense = (text: string) =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          if (!line.startsWith('{')) return line.slice(0, 300);
          try {
            const l = JSON.parse(line) as Record<string, unknown>;
            const err = l.err as { message?: string } | undefined;
            return `[${String(l.level)}] ${l.component ? `${String(l.component)}: ` : ''}${String(l.msg)}${err?.message ? ` (${err.message})` : ''}`;
          } catch {
            return line.slice(0, 300);
          }
        })
        .slice(-maxLines)
        .join('\n');
    return `$ recon ${this.args.join(' ')}\n--- stdout ---\n${condense(this.out)}\n--- stderr ---\n${condense(this.err)}`;
  }

  /** Pino JSON lines from stdout (non-JSON lines are skipped). */
  logLines(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.out.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a partial last line
      }
    }
    return out;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** Resolves with the exit; SIGKILLs the child and rejects if it has not exited by the deadline. */
  async waitForExit(timeoutMs: number): Promise<CliExit & { ms: number }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.signal('SIGKILL');
        reject(
          new Error(
            `recon ${this.args.join(' ')} did not exit within ${timeoutMs} ms\n${this.transcript()}`,
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Starts `recon …` and returns at once (a server role, or anything to signal). */
export function startCli(args: string[], env: Record<string, string>): CliProcess {
  return new CliProcess(args, env);
}

/** Runs `recon …` to completion (bounded), capturing its output. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  { timeoutMs = 30_000 } = {},
): Promise<CliResult> {
  const p = new CliProcess(args, env);
  const r = await p.waitForExit(timeoutMs);
  return { ...r, stdout: p.stdout, stderr: p.stderr };
}

/** SIGKILLs every child still running (afterEach), and waits (bounded) for them to go. */
export async function killAllChildren(): Promise<void> {
  const all = [...live];
  for (const p of all) p.signal('SIGKILL');
  await Promise.allSettled(all.map((p) => p.waitForExit(5_000)));
}

/** A TCP port nobody listens on right now (the kernel picks it; released before returning). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/**
 * An EMPTY database (no schema at all), named like the other test databases so the global setup
 * drops it on a later run. For exercising `recon migrate` / `recon start` from scratch.
 */
export async function createEmptyDatabase(): Promise<string> {
  const adminUrl = inject('pgAdminUrl');
  // The creation time in the name keeps another run's global setup from dropping it (it drops only
  // recon_t_<unix seconds>_… databases hours old, and any recon_t_ name without a time).
  const name = `recon_t_${Math.floor(Date.now() / 1000)}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** One query on a short-lived connection (the tests' own view of a child's database). */
export async function sql<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end();
  }
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  text: string;
}

/** A bounded HTTP request to a child's server. JSON in, JSON (or text) out. */
export async function http<T = unknown>(
  base: string,
  method: string,
  path: string,
  opts: {
    token?: string;
    json?: unknown;
    body?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  const res = await fetch(new URL(path, base), {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, text };
}
