import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, inject } from 'vitest';
import { DemoDatabaseError, runDemo } from '../../src/demo/demo.js';
import { cliEnv, freePort, killAllChildren, runCli, sql, startCli } from '../support/cli.js';
import { redisUrl, waitFor } from '../support/db.js';

/**
 * The demo on a shared server: it drops and recreates only a database it can prove it created,
 * removes its Redis keys when it exits, and a kept demo agrees on the time with the recon
 * commands pointed at it (the README's "demo --keep, then recon reconcile" sequence).
 */

const created: string[] = [];
const dbUrl = (name: string) => {
  const u = new URL(inject('pgAdminUrl'));
  u.pathname = `/${name}`;
  return u.toString();
};
const demoName = () => {
  const name = `recon_demo_t_${randomBytes(4).toString('hex')}`;
  created.push(name);
  return name;
};
const admin = async <T>(fn: (c: pg.Client) => Promise<T>) => {
  const c = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
};

afterEach(() => killAllChildren());
afterAll(async () => {
  await admin(async (c) => {
    for (const name of created) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
});

describe('recon demo on a shared server', () => {
  it('refuses to drop a recon_demo database it did not create, and leaves it as it was', async () => {
    const name = demoName();
    await admin((c) => c.query(`CREATE DATABASE "${name}"`));
    await sql(dbUrl(name), 'CREATE TABLE precious (id int)');
    await expect(
      runDemo({ databaseUrl: dbUrl(name), redisUrl: redisUrl(), transfers: 20, print: () => {} }),
    ).rejects.toThrow(DemoDatabaseError);
    expect(await sql(dbUrl(name), `SELECT to_regclass('precious') AS t`)).toEqual([
      { t: 'precious' },
    ]);
  });

  it('kept: recon reconcile against it keeps the planted mismatches open; its Redis keys go at exit', async () => {
    const name = demoName();
    const port = await freePort();
    const demo = startCli(
      ['demo', '--keep', '--port', String(port), '--transfers', '120'],
      cliEnv({ RECON_DEMO_DATABASE_URL: dbUrl(name), REDIS_URL: redisUrl() }),
    );
    await waitFor(
      async () => {
        if (!demo.running) throw new Error(`demo exited\n${demo.transcript()}`);
        return demo.stdout.includes('still running (--keep)');
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'the kept demo' },
    );
    expect(demo.stdout).toContain('all 9 planted disagreements found');
    // The README's next step: the export line the demo printed, then `recon reconcile`.
    const exportLine = demo.stdout.split('\n').find((l) => l.trim().startsWith('export '))!;
    const env: Record<string, string> = {};
    for (const m of exportLine.matchAll(/([A-Z_]+)='([^']*)'/g)) env[m[1]!] = m[2]!;
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'STRIPE_API_BASE', 'STRIPE_API_KEY', 'QUEUE_PREFIX']),
    );
    const state = () =>
      sql(
        dbUrl(name),
        `SELECT id, kind, status, reopened_count, resolved_at FROM mismatches ORDER BY id`,
      );
    const before = await state();
    expect(before.filter((m) => m.status === 'open').length).toBeGreaterThan(0);

    const r = await runCli(['reconcile'], cliEnv(env), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    // Every mismatch exactly as the demo left it: nothing resolved by a clock that ran backwards,
    // nothing reopened or opened again as new.
    expect(await state()).toEqual(before);

    demo.signal('SIGINT');
    expect((await demo.waitForExit(30_000)).code, demo.transcript()).toBe(0);
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl());
    try {
      expect(await redis.keys(`${env.QUEUE_PREFIX}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
