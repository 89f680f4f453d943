import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, inTransaction, type Pool } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/**
 * A backend terminated under a checked-out client (pg_terminate_backend, a Postgres restart)
 * makes pg emit 'error' on that client; unhandled, it used to kill every process. Now the query
 * in flight fails (its transaction is retried by its caller) and the pool serves the next one.
 */

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url, 4);
});
afterAll(async () => {
  await pool?.end();
  await db?.close();
});

describe('a lost Postgres connection', () => {
  it('fails only the transaction that held it; the process and the pool carry on', async () => {
    const held = inTransaction(pool, async (c) => {
      const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // Killed from another connection while this transaction is open and mid-query.
      const kill = db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await c.query('SELECT pg_sleep(5)');
      await kill;
    });
    await expect(held).rejects.toThrow();
    // An idle pooled client killed too: the pool drops it and hands out a fresh one.
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]!.one).toBe(1);
    await new Promise((r) => setTimeout(r, 200)); // any late 'error' event would surface here
  });
});
