import { PrismaPg } from '@prisma/adapter-pg';
import { Prisma, PrismaClient } from '../generated/prisma/client.ts';
import { sqlState } from '../errors.js';
import { inTransaction, setLocalStatement, type Pool } from './pool.js';

export { Prisma };
export type { PrismaClient };

/** What data-access functions take: the client, or an interactive transaction of it. */
export type Db = PrismaClient | Prisma.TransactionClient;

/**
 * A pg pool, or a pg client inside `inTransaction`: what the hot paths that still run on pg
 * (docs/architecture.md, "Data access") pass to the shared functions that also take a {@link Db}.
 */
export interface PgQueryable {
  query<R extends object = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** Either of the two, for the functions shared with the hot paths. */
export type AnyDb = Db | PgQueryable;

/** Prisma shares the raw-SQL pool, so one process holds one set of connections. */
export function createPrisma(pool: Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(pool) });
}

const isPrisma = (db: AnyDb): db is Db => '$queryRaw' in db;

/**
 * BIGINT comes back from Prisma as `bigint`; the code and the API use numbers, as pg is
 * configured to (src/db/pool.ts: minor-unit amounts and unix times are far below 2^53). Only the
 * columns of a row are converted: JSON is parsed into plain numbers already.
 */
export function bigintsToNumbers<T>(row: T): T {
  const r = row as Record<string, unknown>;
  for (const k of Object.keys(r)) if (typeof r[k] === 'bigint') r[k] = Number(r[k]);
  return row;
}

/**
 * Runs a tagged statement (`Prisma.sql`) and returns its rows, BIGINT as numbers: through Prisma
 * when given Prisma; given pg (a hot path still on pg, possibly inside its transaction), on that
 * pool or client with the same text and parameters, so the hot paths stay on pg until the bench
 * says otherwise.
 */
export async function rawRows<T>(db: AnyDb, sql: Prisma.Sql): Promise<T[]> {
  const rows = isPrisma(db)
    ? await db.$queryRaw<T[]>(sql)
    : (await db.query<T & object>(sql.text, sql.values)).rows;
  return rows.map(bigintsToNumbers);
}

/** {@link rawRows} for a statement without rows of interest: the number of rows it touched. */
export async function rawExecute(db: AnyDb, sql: Prisma.Sql): Promise<number> {
  if (isPrisma(db)) return db.$executeRaw(sql);
  return (await db.query(sql.text, sql.values)).rowCount ?? 0;
}

export { sqlState };

export interface PrismaTransactionOptions {
  isolationLevel?: Prisma.TransactionIsolationLevel;
  /** `SET TRANSACTION READ ONLY` first. */
  readOnly?: boolean;
  /**
   * Times a deadlock or serialization failure is retried (the whole of `fn`, on a fresh
   * transaction, after a short random pause). @defaultValue 0
   */
  retries?: number;
  /** Longest the transaction may run, ms. @defaultValue 60_000 */
  timeout?: number;
  /** Settings for this transaction only, e.g. `DERIVED_WRITES` (src/db/pool.ts). */
  settings?: Readonly<Record<string, string>>;
}

/** deadlock_detected, serialization_failure: the same transaction may well pass next time. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * An interactive Prisma transaction, as `inTransaction` (src/db/pool.ts) is for pg: rolled back
 * on a throw, retried on a deadlock or serialization failure when asked to.
 */
export async function transaction<T>(
  prisma: PrismaClient,
  fn: (tx: Prisma.TransactionClient) => Promise<T>,
  opts: PrismaTransactionOptions = {},
): Promise<T> {
  const settings = setLocalStatement(opts.settings ?? {});
  for (let attempt = 0; ; attempt++) {
    try {
      return await prisma.$transaction(
        async (tx) => {
          if (opts.readOnly) await tx.$executeRaw`SET TRANSACTION READ ONLY`;
          // Constant text, values bound: the one statement both transaction helpers share.
          if (settings) await tx.$executeRawUnsafe(settings.text, ...settings.values);
          return fn(tx);
        },
        {
          ...(opts.isolationLevel ? { isolationLevel: opts.isolationLevel } : {}),
          timeout: opts.timeout ?? 60_000,
          maxWait: 10_000,
        },
      );
    } catch (err) {
      const code = sqlState(err);
      if (attempt >= (opts.retries ?? 0) || !code || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    }
  }
}

/**
 * `transaction` on the Prisma client, or `inTransaction` on a bare pg pool: only the projection
 * write path takes either, so that `npm run bench` can run it both ways in one run and print what
 * Prisma costs there. It cost 18 %, so the projection worker passes the pool (the one path off
 * Prisma, docs/performance.md); the sweep and the lookups pass the Prisma client.
 */
export function transactionOn<T>(
  db: PrismaClient | Pool,
  fn: (tx: AnyDb) => Promise<T>,
  opts: Pick<PrismaTransactionOptions, 'retries' | 'settings'> = {},
): Promise<T> {
  return '$transaction' in db ? transaction(db, fn, opts) : inTransaction(db, fn, opts);
}
