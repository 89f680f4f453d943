import pg from 'pg';

// BIGINT columns hold minor-unit amounts and unix times: all far below 2^53, so numbers are safe
// and much cheaper than BigInt in the hot paths.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Pool = pg.Pool;

export function createPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    application_name: 'recon',
    // Prisma sends a Date parameter as a timestamp without a zone, which Postgres reads in the
    // session's TimeZone: every connection of ours is UTC, so an instant stays that instant
    // whatever the server's default zone is.
    options: '-c TimeZone=UTC',
    // A Postgres that does not answer must not hang a request or a job forever.
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on('error', () => {});
  // Nor a CHECKED-OUT one: pg emits 'error' on the client itself when its backend is terminated
  // (pg_terminate_backend, a restart) while a query or transaction holds it, and an 'error'
  // event without a listener kills the process. The query in flight still rejects, so the
  // caller's transaction fails and is retried; this listener only keeps the process alive.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

export interface TransactionOptions {
  /** What follows BEGIN, e.g. `READ ONLY` or `ISOLATION LEVEL REPEATABLE READ READ ONLY`. */
  mode?: string;
  /**
   * Times a deadlock or serialization failure is retried (the whole of `fn`, on a fresh
   * transaction, after a short random pause). @defaultValue 0
   */
  retries?: number;
  /** Session settings for this transaction only (`SET LOCAL`). See `DERIVED_WRITES`. */
  settings?: Readonly<Record<string, string>>;
}

/**
 * Settings for the worker's transactions, whose every write is derived from the durable inbox
 * (projections, the outbox, verdicts) and can be recomputed from it:
 *
 * - `synchronous_commit = off`: the commit returns before its WAL reaches disk. A Postgres crash
 *   can lose the last few hundred milliseconds of these transactions, never a part of one, and
 *   what it loses is redone: the inbox rows fall back to `pending` and the relay enqueues them
 *   again, the outbox rows come back and are reconciled again. Nothing the receiver acknowledged
 *   is lost, since the receiver's inbox insert keeps the default (synchronous) commit.
 * - index lookups only, no parallel workers, no JIT: every statement here reads or writes rows
 *   by key, through an index. On a table whose statistics lag its growth (young, or just
 *   bulk-loaded) the planner guessed `parent = ANY(200 keys)` matched the whole table and scanned
 *   it, in parallel, for every batch: at 100 k events the reconcile's three lookups took 23, 12
 *   and 9 ms per batch instead of 2–5 ms (`enable_seqscan = off` only prices a scan out; a table
 *   with no usable index is still scanned).
 */
export const DERIVED_WRITES: Readonly<Record<string, string>> = {
  synchronous_commit: 'off',
  max_parallel_workers_per_gather: '0',
  jit: 'off',
  enable_seqscan: 'off',
};

/** `SET LOCAL` for each setting in one statement: set_config(…, true) takes bind parameters. */
export function setLocalStatement(
  settings: Readonly<Record<string, string>>,
): { text: string; values: string[] } | null {
  const pairs = Object.entries(settings);
  if (pairs.length === 0) return null;
  // Our own constants: a name that is not one is a bug, refused before anything is sent.
  for (const [k] of pairs) if (!/^[a-z_]+$/.test(k)) throw new Error(`bad setting ${k}`);
  return {
    text: `SELECT ${pairs.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`,
    values: pairs.flat(),
  };
}

/** deadlock_detected, serialization_failure: the same transaction may well pass next time. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Runs `fn` in one transaction on one pooled connection: the only transaction helper, so every
 * transaction rolls back on a throw and always returns its connection.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (c: pg.PoolClient) => Promise<T>,
  opts: TransactionOptions = {},
): Promise<T> {
  const begin = opts.mode ? `BEGIN ${opts.mode}` : 'BEGIN';
  const settings = setLocalStatement(opts.settings ?? {});
  for (let attempt = 0; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query(begin);
      if (settings) await client.query(settings.text, settings.values);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      const code = (err as { code?: string }).code;
      if (attempt >= (opts.retries ?? 0) || !code || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    } finally {
      client.release();
    }
  }
}
