import pg from 'pg';

// BIGINT columns hold minor-unit amounts and unix times: all far below 2^53, so numbers are safe
// and much cheaper than BigInt in the hot paths.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    application_name: 'recon',
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
  for (let attempt = 0; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query(begin);
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
