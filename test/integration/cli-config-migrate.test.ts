import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrate.js';
import {
  cliEnv,
  createEmptyDatabase,
  freePort,
  http,
  killAllChildren,
  runCli,
  sql,
  type CliResult,
} from '../support/cli.js';
import { createTestDatabase, randomQueuePrefix, redisUrl } from '../support/db.js';
import {
  TEST_OPERATOR_TOKEN,
  TEST_STRIPE_API_KEY,
  TEST_WEBHOOK_SECRET,
} from '../support/events.js';

/**
 * What a newcomer meets first: a bad environment stops the process with one line naming every bad
 * variable (and never echoing a value), `recon migrate` on an empty database and again, and a
 * receiver that refuses to serve a database whose schema is behind.
 */

afterEach(async () => {
  await killAllChildren();
});

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** Neither stdout nor stderr may contain any of these values. */
function expectNoEcho(r: CliResult, values: string[]) {
  const all = r.stdout + r.stderr;
  for (const v of values) {
    expect(all, `value ${JSON.stringify(v)} echoed`).not.toContain(v);
  }
}

describe('recon serve with a bad environment', () => {
  it('exits 78 with one stderr line naming each bad variable, echoing no value', async () => {
    const port = String(await freePort());
    const secrets = {
      db: 'mysql://dbuser:hunter2-db-password@db.internal:3306/recon',
      token: 'tooshort-tok',
      apiKey: 'sk_test_ThisKeyIsValidAndSecret42',
      // Every value below is wrong, and distinctive enough to spot if it leaked.
      webhook: 'not_a_whsec_secret_value_9f8e7d',
      redis: 'http://redis-user:redis-pass-xyz@cache.internal:6379',
      grace: 'fifteen-minutes-please',
      logLevel: 'chatty-loglevel-value',
      port: 'port-eighty-eighty',
    };
    const [missingAndBad, allBad, migrateNoDb] = await Promise.all([
      // DATABASE_URL not Postgres, STRIPE_WEBHOOK_SECRET missing, OPERATOR_TOKEN too short.
      runCli(
        ['serve'],
        cliEnv({
          DATABASE_URL: secrets.db,
          OPERATOR_TOKEN: secrets.token,
          STRIPE_API_KEY: secrets.apiKey,
          PORT: port,
        }),
      ),
      runCli(
        ['serve'],
        cliEnv({
          DATABASE_URL: secrets.db,
          OPERATOR_TOKEN: secrets.token,
          STRIPE_API_KEY: 'pk_live_publishable_not_secret_key',
          STRIPE_WEBHOOK_SECRET: secrets.webhook,
          REDIS_URL: secrets.redis,
          RECON_GRACE_PERIOD: secrets.grace,
          LOG_LEVEL: secrets.logLevel,
          PORT: secrets.port,
        }),
      ),
      // Commands that never talk to Stripe still need a database.
      runCli(['migrate'], cliEnv({})),
    ]);

    for (const r of [missingAndBad, allBad, migrateNoDb]) {
      expect(r.code, r.stderr).toBe(78);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/^recon: invalid configuration: /);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }

    const named = (r: CliResult) =>
      [...r.stderr.matchAll(/\b([A-Z][A-Z0-9_]+)(?:\.\d+)?: /g)].map((m) => m[1]).sort();
    expect(named(missingAndBad)).toEqual(
      ['DATABASE_URL', 'OPERATOR_TOKEN', 'STRIPE_WEBHOOK_SECRET'].sort(),
    );
    expect(missingAndBad.stderr).toMatch(/STRIPE_WEBHOOK_SECRET: is required/);
    expect(missingAndBad.stderr).toMatch(/OPERATOR_TOKEN: must be at least 16 characters/);
    expect(missingAndBad.stderr).toMatch(/DATABASE_URL: must be a postgresql:\/\/ URL/);
    expect(named(allBad)).toEqual(
      [
        'DATABASE_URL',
        'LOG_LEVEL',
        'OPERATOR_TOKEN',
        'PORT',
        'RECON_GRACE_PERIOD',
        'REDIS_URL',
        'STRIPE_API_KEY',
        'STRIPE_WEBHOOK_SECRET',
      ].sort(),
    );
    expect(named(migrateNoDb)).toEqual(['DATABASE_URL']);
    expect(migrateNoDb.stderr).toMatch(/DATABASE_URL: is required/);

    const values = Object.values(secrets).concat([
      'hunter2',
      'redis-pass-xyz',
      'pk_live_publishable_not_secret_key',
    ]);
    for (const r of [missingAndBad, allBad, migrateNoDb]) expectNoEcho(r, values);
    // Nothing was listening: the process stopped before binding its port.
    await expect(http(`http://127.0.0.1:${port}`, 'GET', '/healthz')).rejects.toThrow();
  });
});

describe('recon migrate', () => {
  it('migrates an empty database with a summary, then says it is up to date', async () => {
    const url = await createEmptyDatabase();
    const all = (await readMigrations()).map((m) => m.name);
    const env = cliEnv({ DATABASE_URL: url });

    const first = await runCli(['migrate'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(lines(first.stdout)).toEqual([
      ...all.map((name) => `applied ${name}`),
      `migrated: ${all.length} applied, 0 already applied`,
    ]);
    const rows = await sql<{ migration_name: string }>(
      url,
      `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL ORDER BY 1`,
    );
    expect(rows.map((r) => r.migration_name)).toEqual(all);

    const second = await runCli(['migrate'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(lines(second.stdout)).toEqual([`database is up to date (${all.length} migrations)`]);
  });

  it('fails with one line when the database does not exist', async () => {
    const u = new URL(await createEmptyDatabase());
    u.pathname = '/recon_t_does_not_exist_0000';
    const r = await runCli(['migrate'], cliEnv({ DATABASE_URL: u.toString() }));
    expect(r.code).toBe(69);
    expect(lines(r.stderr), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain(
      `recon: cannot reach Postgres at ${u.hostname}:${u.port || 5432}/recon_t_does_not_exist_0000`,
    );
    expect(r.stderr).toContain('the database does not exist');
  });
});

describe('recon serve refuses to start', () => {
  it('on a database that is behind, naming the pending migration and telling to run `recon migrate`', async () => {
    const db = await createTestDatabase();
    const all = (await readMigrations()).map((m) => m.name);
    const newest = all.at(-1)!;
    // As if this release shipped a migration the database has not had yet.
    await db.pool.query(`DELETE FROM "_prisma_migrations" WHERE migration_name = $1`, [newest]);
    await db.close();
    const port = String(await freePort());
    const r = await runCli(
      ['serve'],
      cliEnv({
        DATABASE_URL: db.url,
        REDIS_URL: redisUrl(),
        QUEUE_PREFIX: randomQueuePrefix(),
        STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
        STRIPE_API_KEY: TEST_STRIPE_API_KEY,
        OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
        PORT: port,
        HOST: '127.0.0.1',
      }),
    );
    expect(r.code, r.stdout + r.stderr).toBe(78);
    expect(lines(r.stderr), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain('database schema is behind: 1 migration(s) not applied');
    expect(r.stderr).toContain(newest);
    expect(r.stderr).toContain('run `recon migrate`');
    expect(r.stdout).not.toMatch(/listening/);
    await expect(http(`http://127.0.0.1:${port}`, 'GET', '/healthz')).rejects.toThrow();
  });

  it('on a port that is already taken, and exits instead of hanging', async () => {
    const db = await createTestDatabase();
    await db.close();
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as AddressInfo).port;
      const r = await runCli(
        ['serve'],
        cliEnv({
          DATABASE_URL: db.url,
          REDIS_URL: redisUrl(),
          QUEUE_PREFIX: randomQueuePrefix(),
          STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
          STRIPE_API_KEY: TEST_STRIPE_API_KEY,
          OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
          PORT: String(port),
          HOST: '127.0.0.1',
        }),
        { timeoutMs: 20_000 },
      );
      expect(r.code, r.stdout + r.stderr).toBe(69);
      expect(lines(r.stderr), r.stderr).toEqual([
        `recon: port ${port} on 127.0.0.1 is already in use (set PORT or stop the other process)`,
      ]);
    } finally {
      busy.close();
    }
  });

  it('when Postgres cannot be reached: says where (never the password), not "schema is behind"', async () => {
    const closed = await freePort();
    const r = await runCli(
      ['serve'],
      cliEnv({
        DATABASE_URL: `postgresql://recon:s3cret-db-pass@127.0.0.1:${closed}/recon`,
        REDIS_URL: redisUrl(),
        STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
        STRIPE_API_KEY: TEST_STRIPE_API_KEY,
        OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
        PORT: String(await freePort()),
        HOST: '127.0.0.1',
      }),
      { timeoutMs: 30_000 },
    );
    expect(r.code, r.stdout + r.stderr).toBe(69);
    expect(lines(r.stderr), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(
      new RegExp(`^recon: cannot reach Postgres at 127\\.0\\.0\\.1:${closed}/recon as recon: `),
    );
    expect(r.stderr).not.toContain('schema is behind');
    expectNoEcho(r, ['s3cret-db-pass']);
  });
});

describe('each command validates what it reads, and fails with its own exit code', () => {
  const base = async () => {
    const db = await createTestDatabase();
    await db.close();
    return { DATABASE_URL: db.url, REDIS_URL: redisUrl(), QUEUE_PREFIX: randomQueuePrefix() };
  };

  it('recon reconcile needs no webhook secret and no operator token', async () => {
    const r = await runCli(
      ['reconcile', '--queue'],
      cliEnv({ ...(await base()), STRIPE_API_KEY: TEST_STRIPE_API_KEY }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ object: 'sweep_run', status: 'queued' });
  });

  it('a config error is 78 (a bad cron, an example placeholder), a usage error 2, a missing file 66', async () => {
    const env = {
      ...(await base()),
      STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      STRIPE_API_KEY: TEST_STRIPE_API_KEY,
      OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
    };
    const [cron, placeholder, usage, badValue, noFile] = await Promise.all([
      runCli(['worker'], cliEnv({ ...env, RECON_SWEEP_CRON: '61 * * * *' })),
      runCli(['serve'], cliEnv({ ...env, OPERATOR_TOKEN: 'change-me-to-a-long-random-string' })),
      runCli(['frobnicate'], cliEnv(env)),
      runCli(['replay', '--inbox', '--since', 'last tuesday'], cliEnv(env)),
      runCli(['ledger', 'import', '/nonexistent/ledger.csv'], cliEnv(env)),
    ]);
    expect(cron.code, cron.stderr).toBe(78);
    expect(lines(cron.stderr)).toHaveLength(1);
    expect(cron.stderr).toMatch(/^recon: invalid configuration: RECON_SWEEP_CRON: not a cron/);
    expect(placeholder.code, placeholder.stderr).toBe(78);
    expect(lines(placeholder.stderr)).toEqual([
      'recon: invalid configuration: OPERATOR_TOKEN: is still the placeholder from .env.example; set a real value',
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown command 'frobnicate'");
    expect(badValue.code, badValue.stderr).toBe(2);
    expect(lines(badValue.stderr)).toHaveLength(1);
    expect(noFile.code, noFile.stderr).toBe(66);
    expect(lines(noFile.stderr)).toEqual([
      'recon: cannot read /nonexistent/ledger.csv: no such file',
    ]);
  });

  it('recon --help documents the exit codes', async () => {
    const r = await runCli(['--help'], cliEnv());
    expect(r.code).toBe(0);
    for (const code of ['2 ', '66', '69', '78']) expect(r.stdout).toContain(`  ${code}`);
  });
});
