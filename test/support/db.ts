import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createPrisma, type PrismaClient } from '../../src/db/prisma.js';

export interface TestDatabase {
  url: string;
  name: string;
  pool: Pool;
  prisma: PrismaClient;
  close(): Promise<void>;
}

/**
 * A fresh, migrated database for one test file, cloned from the template the global setup built.
 * It is not dropped on close, so a failing test's rows can be inspected; the next run drops it.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  // The creation time in the name lets a later run drop only databases that are hours old, so
  // several runs sharing one Postgres (worktrees, CI jobs) never drop each other's.
  const name = `recon_t_${Math.floor(Date.now() / 1000)}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Cloning needs the template to be idle; retry briefly if another file is cloning it.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${inject('pgTemplate')}"`);
        break;
      } catch (err) {
        if (attempt > 50 || (err as { code?: string }).code !== '55006') throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const pool = createPool(url, 10);
  const prisma = createPrisma(pool);
  return {
    url,
    name,
    pool,
    prisma,
    async close() {
      await prisma.$disconnect().catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}

export function redisUrl(): string {
  return inject('redisUrl');
}

/** A queue prefix unique to one test, so runs sharing a Redis never see each other's jobs. */
export function randomQueuePrefix(): string {
  return `recon-test-${randomBytes(5).toString('hex')}`;
}

/** Polls `check` until it returns a truthy value or the deadline passes (no bare sleeps). */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 20_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * True when no unit waits in the reconcile outbox and no drain is running: every change
 * committed so far has been reconciled. (The queue itself always holds the next safety tick.)
 */
export async function reconcileIdle(rt: {
  pool: Pick<Pool, 'query'>;
  queues: {
    reconcile: { getJobCounts(...s: Array<'active' | 'waiting'>): Promise<Record<string, number>> };
  };
}): Promise<boolean> {
  const { rows } = await rt.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM reconcile_outbox',
  );
  if (rows[0]!.n > 0) return false;
  const c = await rt.queues.reconcile.getJobCounts('active');
  return (c.active ?? 0) === 0;
}

/** Event ids carried by the events queue's jobs (a batch job carries several), in any live state. */
export async function queuedEventIds(rt: {
  queues: {
    events: {
      getJobs(
        states: Array<'waiting' | 'active' | 'delayed' | 'prioritized' | 'failed'>,
      ): Promise<Array<{ data: { ids?: string[]; id?: string } } | undefined>>;
    };
  };
}): Promise<string[]> {
  const jobs = await rt.queues.events.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
  return jobs.flatMap((j) => j?.data.ids ?? (j?.data.id ? [j.data.id] : []));
}
