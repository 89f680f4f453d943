import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { sqlState } from '../errors.js';
import { Prisma, rawRows, type AnyDb } from './prisma.js';
import { MigrationError, postgresUnavailable } from '../errors.js';

/**
 * Applies prisma/migrations/<name>/migration.sql in name order, keeping Prisma's own
 * `_prisma_migrations` bookkeeping (same columns, sha256 checksums), so this and
 * `prisma migrate deploy` can be used interchangeably. An advisory lock lets several processes
 * start at once; each migration runs in its own transaction.
 */

export const MIGRATIONS_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../prisma/migrations',
);
const LOCK_KEY = 72_707_369; // Prisma's own advisory lock id, so the two tools exclude each other.

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

export async function migrate(
  databaseUrl: string,
  opts: { dir?: string; log?: (msg: string) => void } = {},
): Promise<MigrateResult> {
  const migrations = await readMigrations(opts.dir);
  const client = new pg.Client({
    connectionString: databaseUrl,
    application_name: 'recon-migrate',
  });
  try {
    await client.connect();
  } catch (err) {
    throw postgresUnavailable(databaseUrl, err);
  }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const { rows } = await client.query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
    }>('SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"');
    const done = new Map(
      rows.filter((r) => r.rolled_back_at === null).map((r) => [r.migration_name, r]),
    );
    for (const row of done.values()) {
      if (row.finished_at === null) {
        throw new MigrationError(
          `migration ${row.migration_name} failed earlier and was not rolled back; fix the database by hand, then mark it rolled back (prisma migrate resolve --rolled-back ${row.migration_name})`,
        );
      }
    }
    const applied: string[] = [];
    for (const m of migrations) {
      const prior = done.get(m.name);
      if (prior) {
        if (prior.checksum !== m.checksum) {
          throw new MigrationError(
            `migration ${m.name} was changed after it was applied (checksum differs); migrations are append-only: add a new one instead`,
          );
        }
        continue;
      }
      const id = randomUUID();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())`,
          [id, m.checksum, m.name],
        );
        await client.query(m.sql);
        await client.query(
          `UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`,
          [id],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      opts.log?.(`applied ${m.name}`);
      applied.push(m.name);
    }
    return { applied, alreadyApplied: migrations.length - applied.length };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
    await client.end().catch(() => {});
  }
}

/** Creates the database named in the URL if it does not exist (used by `recon demo` and tests). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_-]+$/.test(name))
    throw new MigrationError(`unsupported database name "${name}"`);
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect().catch((err: unknown) => {
    throw postgresUnavailable(url.toString(), err);
  });
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await admin.query(`CREATE DATABASE "${name}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently: fine
      });
    }
  } finally {
    await admin.end();
  }
}

/** The migrations not applied yet, for the startup schema-version check (through Prisma). */
export async function pendingMigrations(db: AnyDb, dir?: string): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const rows = await rawRows<{ migration_name: string }>(
    db,
    Prisma.sql`SELECT migration_name FROM "_prisma_migrations"
                WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  ).catch((err: unknown) => {
    // No bookkeeping table yet: nothing applied. Anything else (Postgres unreachable, no such
    // database, no permission) is not "behind on migrations" and must say what it is.
    if (sqlState(err) === '42P01') return [] as { migration_name: string }[];
    throw err;
  });
  const done = new Set(rows.map((r) => r.migration_name));
  return migrations.map((m) => m.name).filter((n) => !done.has(n));
}
