import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, inject } from 'vitest';
import { DemoDatabaseError, runDemo } from '../../src/demo/demo.js';
import {
  REPO_ROOT,
  cliEnv,
  freePort,
  killAllChildren,
  runCli,
  sql,
  startCli,
} from '../support/cli.js';
import { redisUrl, waitFor } from '../support/db.js';

/**
 * The demo on a shared server: it drops and recreates only a database it can prove it created,
 * removes its Redis keys when it exits, and a kept demo agrees on the time with the recon
 * commands pointed at it (the README's "demo --keep, then recon reconcile / recon report"
 * sequence, and a real fix made through `recon ledger import`).
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
    // From the command line: one line naming the database and the override, exit 1.
    const r = await runCli(
      ['demo'],
      cliEnv({ RECON_DEMO_DATABASE_URL: dbUrl(name), REDIS_URL: redisUrl() }),
      { timeoutMs: 60_000 },
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `recon: database "${name}" exists but was not created by recon demo, so it is not dropped; ` +
        'drop it yourself or point RECON_DEMO_DATABASE_URL at another database',
    ]);
    expect(await sql(dbUrl(name), `SELECT to_regclass('precious') AS t`)).toEqual([
      { t: 'precious' },
    ]);
  });

  it('documents its database override in recon demo --help and the README; README curl URLs are quoted', async () => {
    const help = await runCli(['demo', '--help'], cliEnv(), { timeoutMs: 60_000 });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('RECON_DEMO_DATABASE_URL');
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('RECON_DEMO_DATABASE_URL');
    // `?` is a glob in zsh: every URL on a curl line sits inside quotes.
    const curls = readme.split('\n').filter((l) => /^\s*curl\b/.test(l));
    expect(curls.length).toBeGreaterThan(0);
    for (const line of curls) {
      const unquoted = line.replace(/'[^']*'|"[^"]*"/g, '');
      expect(unquoted, line).not.toMatch(/[?]|localhost:|https?:\/\//);
    }
  });

  it('drops and recreates only its own idle database, removing the Redis keys a killed run left; refuses one in use', async () => {
    const name = demoName();
    const quiet = {
      databaseUrl: dbUrl(name),
      redisUrl: redisUrl(),
      transfers: 40,
      print: () => {},
    };
    await runDemo(quiet);
    const comment = async () =>
      (
        await admin((c) =>
          c.query<{ comment: string }>(
            `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
            [name],
          ),
        )
      ).rows[0]!.comment;
    const first = await comment();
    expect(first).toMatch(
      /^created by recon demo [0-9a-f]{12} on .*; queue prefix recon-demo-[0-9a-f]{8};/,
    );
    const prefix = /queue prefix (\S+);/.exec(first)![1]!;

    // Someone is connected (a kept demo, a psql session): refused, nothing dropped, still connected.
    const session = new pg.Client({ connectionString: dbUrl(name), application_name: 'psql' });
    await session.connect();
    try {
      const err = await runDemo(quiet).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DemoDatabaseError);
      expect((err as Error).message).toContain(`database "${name}" is in use (1 × psql`);
      expect((err as Error).message).toContain('RECON_DEMO_DATABASE_URL');
      expect((err as Error).message).not.toContain('\n');
      expect(
        (await session.query('SELECT count(*)::int AS n FROM mismatches')).rows[0].n,
      ).toBeGreaterThan(0);
    } finally {
      await session.end();
    }
    expect(await comment()).toBe(first);

    // Idle again, with keys left behind under its prefix (a run killed with SIGKILL): the next run
    // drops and recreates it and removes them; other prefixes are not touched.
    const redis = new Redis(redisUrl());
    const other = `recon-demo-keep-${randomBytes(4).toString('hex')}`;
    try {
      await redis.set(`${prefix}:events:leftover`, '1');
      await redis.set(`${other}:events:x`, '1');
      await runDemo(quiet);
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
      expect(await redis.get(`${other}:events:x`)).toBe('1');
    } finally {
      await redis.del(`${other}:events:x`);
      redis.disconnect();
    }
    const second = await comment();
    expect(second).not.toBe(first);
    expect(second).toMatch(/^created by recon demo /);
  }, 180_000);

  it('Ctrl-C in the middle of the run removes its Redis keys and exits 130', async () => {
    const name = demoName();
    const demo = startCli(
      ['demo', '--transfers', '300'],
      cliEnv({ RECON_DEMO_DATABASE_URL: dbUrl(name), REDIS_URL: redisUrl() }),
    );
    const redis = new Redis(redisUrl());
    try {
      const prefix = await waitFor(
        async () => {
          if (!demo.running) throw new Error(`demo exited\n${demo.transcript()}`);
          const [row] = await admin((c) =>
            c
              .query<{ comment: string | null }>(
                `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
                [name],
              )
              .then((r) => r.rows),
          );
          const p = /queue prefix (\S+);/.exec(row?.comment ?? '')?.[1];
          return p && (await redis.keys(`${p}:*`)).length > 0 ? p : null;
        },
        { timeoutMs: 60_000, intervalMs: 100, what: 'the demo to have queue keys' },
      );
      expect(demo.stdout).not.toContain('planted disagreements found'); // still playing
      demo.signal('SIGINT');
      const exit = await demo.waitForExit(30_000);
      expect(exit.code, demo.transcript()).toBe(130);
      expect(demo.stdout).toContain('interrupted');
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
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

    const planted = Number(/all (\d+) planted disagreements found/.exec(demo.stdout)![1]);
    const recon = async (...args: string[]) => {
      const r = await runCli(args, cliEnv(env), { timeoutMs: 120_000 });
      expect(r.code, `recon ${args.join(' ')}\n${r.stderr}`).toBe(0);
      return r.stdout;
    };
    type Report = {
      totals: { open: number; new: number; resolved: number };
      previous_report: { id: string } | null;
      resolved: Array<{ id: string; kind: string }>;
    };
    const report = async () => JSON.parse(await recon('report', '--format', 'json')) as Report;

    await recon('reconcile');
    // Every mismatch exactly as the demo left it: nothing resolved by a clock that ran backwards,
    // nothing reopened or opened again as new.
    expect(await state()).toEqual(before);
    const first = await report();
    expect(first.previous_report).not.toBeNull(); // the demo's own sweep wrote the one before
    expect(first.totals).toMatchObject({ open: planted, new: 0, resolved: 0 });

    // A real fix, made as an operator would: the ledger entry behind the planted amount_mismatch
    // re-imported with Stripe's amount. The next reconcile resolves it, and only it.
    const [wrong] = await sql<{
      id: string;
      ledger_entry_id: string;
      csv: string;
    }>(
      dbUrl(name),
      `SELECT m.id, m.ledger_entry_id,
              array_to_string(ARRAY[l.id, l.kind, l.stripe_id, l.parent_id, r.amount::text, l.currency,
                        l.expected_status, l.account,
                        to_char(l.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                        '"' || replace(l.metadata::text, '"', '""') || '"'], ',', '') AS csv
         FROM mismatches m
         JOIN ledger_entries l ON l.id = m.ledger_entry_id
         JOIN transfer_reversals r ON r.id = m.object_id
        WHERE m.kind = 'amount_mismatch' AND m.status = 'open'`,
    );
    expect(wrong).toBeDefined();
    const dir = await mkdtemp(join(tmpdir(), 'recon-demo-fix-'));
    const file = join(dir, 'fix.csv');
    await writeFile(
      file,
      `id,kind,stripe_id,parent_id,amount,currency,expected_status,account,occurred_at,metadata\n${wrong!.csv}\n`,
    );
    expect(await recon('ledger', 'import', file)).toContain('1 updated');
    await recon('reconcile');

    const after = await state();
    expect(after.find((m) => m.id === wrong!.id)).toMatchObject({ status: 'resolved' });
    expect(after.filter((m) => m.id !== wrong!.id)).toEqual(
      before.filter((m) => m.id !== wrong!.id),
    );
    const second = await report();
    expect(second.totals).toMatchObject({ open: planted - 1, new: 0, resolved: 1 });
    expect(second.resolved.map((m) => [m.id, m.kind])).toEqual([[wrong!.id, 'amount_mismatch']]);

    // A second demo on the same database while this one is kept: refused, this one unharmed.
    await expect(
      runDemo({ databaseUrl: dbUrl(name), redisUrl: redisUrl(), print: () => {} }),
    ).rejects.toThrow(/is in use \(.*recon demo [0-9a-f]{12}/);
    expect(demo.running).toBe(true);

    demo.signal('SIGINT');
    expect((await demo.waitForExit(30_000)).code, demo.transcript()).toBe(0);
    const redis = new Redis(redisUrl());
    try {
      expect(await redis.keys(`${env.QUEUE_PREFIX}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 300_000);
});
