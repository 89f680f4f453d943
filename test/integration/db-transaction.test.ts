import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DERIVED_WRITES, createPool, inTransaction, type Pool } from '../../src/db/pool.js';
import { createPrisma, Prisma } from '../../src/db/prisma.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  // One connection: the transaction after a SET LOCAL one runs on the very same session.
  pool = createPool(db.url, 1);
});
afterAll(async () => {
  await pool?.end();
  await db?.close();
});

const show = async (c: { query: Pool['query'] }, name: string) =>
  (await c.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name];

describe('inTransaction settings', () => {
  it('apply inside the transaction only', async () => {
    const inside = await inTransaction(
      pool,
      async (c) => ({
        commit: await show(c, 'synchronous_commit'),
        seqscan: await show(c, 'enable_seqscan'),
        parallel: await show(c, 'max_parallel_workers_per_gather'),
      }),
      { settings: DERIVED_WRITES },
    );
    expect(inside).toEqual({ commit: 'off', seqscan: 'off', parallel: '0' });
    const after = await inTransaction(pool, (c) => show(c, 'synchronous_commit'));
    expect(after).toBe('on');
  });

  it('are gone after a rollback too', async () => {
    await expect(
      inTransaction(pool, () => Promise.reject(new Error('boom')), { settings: DERIVED_WRITES }),
    ).rejects.toThrow('boom');
    expect(await inTransaction(pool, (c) => show(c, 'enable_seqscan'))).toBe('on');
  });

  it('refuses a name or value that is not a plain word', async () => {
    await expect(
      inTransaction(pool, async () => 1, { settings: { 'jit; DROP TABLE x': 'off' } }),
    ).rejects.toThrow(/bad setting/);
  });

  it('look a batch of keys up through the index on a table never analyzed', async () => {
    // What a young or bulk-loaded table looks like to the planner: rows, no statistics.
    await db.pool.query(`CREATE TABLE young (id text PRIMARY KEY, parent text NOT NULL)`);
    await db.pool.query(`CREATE INDEX young_parent_idx ON young (parent)`);
    await db.pool.query(
      `INSERT INTO young SELECT 'c' || g, 'p' || (g / 3) FROM generate_series(1, 60000) g`,
    );
    const keys = Array.from({ length: 200 }, (_, i) => `p${i * 97}`);
    const plan = (settings?: Record<string, string>) =>
      inTransaction(
        pool,
        async (c) =>
          (
            await c.query<{ 'QUERY PLAN': string }>(
              'EXPLAIN SELECT id FROM young WHERE parent = ANY($1::text[])',
              [keys],
            )
          ).rows
            .map((r) => r['QUERY PLAN'])
            .join('\n'),
        { settings },
      );
    // The default planner guesses the 200 keys match everything and scans the table.
    expect(await plan()).toMatch(/Seq Scan on young/);
    expect(await plan(DERIVED_WRITES)).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
  });
});

describe('dates through Prisma', () => {
  it('stay the same instant when the database default zone is not UTC', async () => {
    // Prisma sends a Date without a zone; our connections are UTC, whatever the server says.
    await db.pool.query(`ALTER DATABASE "${db.name}" SET timezone = 'America/New_York'`);
    const p = createPool(db.url, 1);
    const prisma = createPrisma(p);
    try {
      const at = new Date('2026-01-02T03:04:05.678Z');
      const rows = await prisma.$queryRaw<Array<{ same: boolean }>>(
        Prisma.sql`SELECT ${at}::timestamptz = '2026-01-02T03:04:05.678Z'::timestamptz AS same`,
      );
      expect(rows[0]!.same).toBe(true);
    } finally {
      await prisma.$disconnect();
      await p.end();
    }
  });
});
