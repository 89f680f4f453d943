import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrate.js';
import { REPO_ROOT, createEmptyDatabase, freePort, http, sql } from '../support/cli.js';
import { randomQueuePrefix, redisUrl } from '../support/db.js';
import {
  TEST_OPERATOR_TOKEN,
  TEST_STRIPE_API_KEY,
  TEST_WEBHOOK_SECRET,
} from '../support/events.js';

/**
 * What ships: `npm run build` into a temp folder, then only what the Dockerfile's runtime stage
 * copies (package.json, package-lock.json, bin/, dist/, prisma/migrations/ and the postinstall
 * script) installed with the documented `npm ci --omit=dev --omit=optional` from the npm cache
 * (`npm ci` has filled it). No tsx, no prisma CLI, no TypeScript: the compiled CLI must answer
 * --version and --help, migrate a fresh database, load the compiled Prisma client and serve.
 *
 * Children get an environment built from scratch: under `npm test`, npm exports settings such as
 * npm_config_local_prefix that would make the inner `npm ci` act on this checkout instead.
 */

const PROD_INSTALL = [
  'ci',
  '--omit=dev',
  '--omit=optional',
  '--prefer-offline',
  '--no-audit',
  '--no-fund',
];

let dir: string;
let installedKb = 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function baseEnv(vars: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    // .env files are not part of the install; make sure none is read.
    DOTENV_CONFIG_PATH: '/nonexistent/.env',
    DOTENV_CONFIG_QUIET: 'true',
    // No probe server on 9464 (serve and worker run side by side here); a test may pass a port.
    METRICS_PORT: '0',
  };
  if (process.env.npm_config_cache) env.npm_config_cache = process.env.npm_config_cache;
  return { ...env, ...vars };
}

/** Runs a command to completion within `timeoutMs` (then SIGKILL and a failed result). */
function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: Record<string, string>; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? baseEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      stderr += `\n[test] ${cmd} ${args.join(' ')} killed after ${opts.timeoutMs} ms`;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r: Run) => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recon-prod-'));
  // Built into the temp folder, never into this checkout's dist/, and from the client `npm ci`
  // generated: regenerating src/generated here would race with test files importing it.
  const build = await run(
    process.execPath,
    ['scripts/build.mjs', '--skip-generate', '--out-dir', join(dir, 'dist')],
    { cwd: REPO_ROOT, env: baseEnv(), timeoutMs: 120_000 },
  );
  expect(build.code, show(build)).toBe(0);

  for (const f of ['package.json', 'package-lock.json', 'bin']) {
    await cp(join(REPO_ROOT, f), join(dir, f), { recursive: true });
  }
  await cp(join(REPO_ROOT, 'prisma/migrations'), join(dir, 'prisma/migrations'), {
    recursive: true,
  });
  await mkdir(join(dir, 'scripts'));
  await cp(
    join(REPO_ROOT, 'scripts/prisma-generate.mjs'),
    join(dir, 'scripts/prisma-generate.mjs'),
  );

  const install = await run('npm', PROD_INSTALL, { cwd: dir, timeoutMs: 150_000 });
  expect(install.code, show(install)).toBe(0);
  // The postinstall said why it generated nothing, in one line.
  expect(install.stdout + install.stderr).toContain('using the generated client in dist/');

  const du = await run('du', ['-sk', '.'], { cwd: dir, timeoutMs: 30_000 });
  installedKb = Number(du.stdout.split(/\s/)[0]);
  console.log(`production install: ${(installedKb / 1024).toFixed(0)} MiB in all (${dir})`);
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const recon = (args: string[], env: Record<string, string> = {}, timeoutMs = 30_000) =>
  run(process.execPath, ['bin/recon.js', ...args], { cwd: dir, env: baseEnv(env), timeoutMs });

describe('production install (npm ci --omit=dev --omit=optional of the build)', () => {
  it('holds no development tooling, and stays small', async () => {
    for (const dev of [
      'tsx',
      'prisma',
      'typescript',
      'pino-pretty',
      'vitest',
      '@sparticuz/chromium',
    ]) {
      expect(await exists(join(dir, 'node_modules', dev)), dev).toBe(false);
    }
    expect(await exists(join(dir, 'dist/generated/prisma/client.js'))).toBe(true);
    expect(installedKb).toBeGreaterThan(0);
    expect(installedKb / 1024).toBeLessThan(250);
  });

  it('recon --version prints the package version; --help lists the roles', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const v = await recon(['--version']);
    expect(v.code, show(v)).toBe(0);
    expect(v.stdout.trim()).toBe(version);

    const help = await recon(['--help']);
    expect(help.code, show(help)).toBe(0);
    for (const cmd of ['start', 'serve', 'worker', 'migrate']) expect(help.stdout).toContain(cmd);
  });

  it('recon migrate applies every migration to a fresh database, then finds it up to date', async () => {
    const url = await createEmptyDatabase();
    const first = await recon(['migrate'], { DATABASE_URL: url });
    expect(first.code, show(first)).toBe(0);
    const count = (await readMigrations()).length;
    expect(first.stdout).toContain(`migrated: ${count} applied`);
    const again = await recon(['migrate'], { DATABASE_URL: url });
    expect(again.code, show(again)).toBe(0);
    expect(again.stdout).toContain(`up to date (${count} migrations)`);
    const [row] = await sql<{ n: number }>(
      url,
      'SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL',
    );
    expect(row!.n).toBe(count);

    // The compiled Prisma client (and its query compiler) loads and queries from the install.
    const query = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import pg from 'pg';
         import { createPrisma } from './dist/db/prisma.js';
         const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
         const prisma = createPrisma(pool);
         console.log('mismatches', await prisma.mismatch.count());
         await prisma.$disconnect(); await pool.end();`,
      ],
      { cwd: dir, env: baseEnv({ DATABASE_URL: url }), timeoutMs: 30_000 },
    );
    expect(query.code, show(query)).toBe(0);
    expect(query.stdout).toContain('mismatches 0');
  });

  it('recon serve answers /healthz, /readyz, /metrics and the console; LOG_PRETTY=1 without pino-pretty logs JSON', async () => {
    const url = await createEmptyDatabase();
    const migrated = await recon(['migrate'], { DATABASE_URL: url });
    expect(migrated.code, show(migrated)).toBe(0);
    const port = await freePort();
    const serve = startRole('serve', url, { PORT: String(port), LOG_PRETTY: '1' });
    try {
      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 20_000;
      let up = false;
      while (!up && Date.now() < deadline) {
        up = await http(base, 'GET', '/healthz', { timeoutMs: 1_000 }).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!up) await new Promise((r) => setTimeout(r, 200));
      }
      expect(up, serve.output()).toBe(true);
      expect((await http(base, 'GET', '/readyz')).status).toBe(200);
      expect((await http(base, 'GET', '/readyz?role=receiver')).status).toBe(200);
      const metrics = await http<string>(base, 'GET', '/metrics');
      expect(metrics.text).toContain('recon_webhook_requests_total');
      expect((await http(base, 'GET', '/console')).status).toBe(200);
      const list = await http(base, 'GET', '/api/mismatches', { token: TEST_OPERATOR_TOKEN });
      expect(list.status).toBe(200);
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exit(), serve.output()).toBe(0);
    const lines = serve.output().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  });

  it('recon worker starts its workers and stops cleanly on SIGTERM', async () => {
    const url = await createEmptyDatabase();
    const migrated = await recon(['migrate'], { DATABASE_URL: url });
    expect(migrated.code, show(migrated)).toBe(0);
    const worker = startRole('worker', url);
    try {
      const deadline = Date.now() + 20_000;
      while (!worker.output().includes('"msg":"workers started"') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(worker.output()).toContain('"msg":"workers started"');
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await worker.exit(), worker.output()).toBe(0);
  });
});

/** `recon <role>` from the production install, with its output collected; exit() is bounded. */
function startRole(
  role: 'serve' | 'worker',
  databaseUrl: string,
  vars: Record<string, string> = {},
) {
  const child = spawn(process.execPath, ['bin/recon.js', role], {
    cwd: dir,
    env: baseEnv({
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl(),
      QUEUE_PREFIX: randomQueuePrefix(),
      STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      STRIPE_API_KEY: TEST_STRIPE_API_KEY,
      OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
      HOST: '127.0.0.1',
      ...vars,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    child,
    output: () => out,
    async exit(): Promise<number | null | 'hung'> {
      const code = await Promise.race([
        exited,
        new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000).unref()),
      ]);
      if (code === 'hung') child.kill('SIGKILL');
      return code;
    },
  };
}
