import { cpSync, mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, it, inject } from 'vitest';
import {
  MIGRATIONS_DIR,
  migrate,
  pendingMigrations,
  readMigrations,
} from '../../src/db/migrate.js';
import { MigrationError } from '../../src/errors.js';

let url: string;
beforeAll(async () => {
  const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  const name = `recon_t_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(inject('pgAdminUrl'));
  u.pathname = `/${name}`;
  url = u.toString();
});

describe('recon migrate', () => {
  it('applies every migration once, with Prisma-compatible bookkeeping', async () => {
    const all = await readMigrations();
    const first = await migrate(url);
    expect(first.applied).toEqual(all.map((m) => m.name));
    const second = await migrate(url);
    expect(second).toEqual({ applied: [], alreadyApplied: all.length });

    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const { rows } = await c.query(
        'SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name',
      );
      expect(rows.map((r) => r.migration_name)).toEqual(all.map((m) => m.name));
      expect(rows.map((r) => r.checksum)).toEqual(all.map((m) => m.checksum));
      expect(rows.every((r) => r.finished_at && r.applied_steps_count === 1)).toBe(true);
      expect(await pendingMigrations(c)).toEqual([]);
    } finally {
      await c.end();
    }
  });

  it('runs safely when several processes migrate at once', async () => {
    const results = await Promise.all([migrate(url), migrate(url), migrate(url)]);
    expect(results.every((r) => r.applied.length === 0)).toBe(true);
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recon-mig-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const [first] = await readMigrations(dir);
    writeFileSync(join(dir, first!.name, 'migration.sql'), first!.sql + '\n-- edited\n');
    await expect(migrate(url, { dir })).rejects.toThrow(/changed after it was applied/);
  });

  it('rolls back a failing migration and says which one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recon-mig-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    mkdirSync(join(dir, '99999999999999_broken'));
    writeFileSync(
      join(dir, '99999999999999_broken', 'migration.sql'),
      'CREATE TABLE broken (id int);\nSELECT nope;',
    );
    const err = await migrate(url, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toContain('99999999999999_broken');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const { rowCount } = await c.query(
      `SELECT 1 FROM information_schema.tables WHERE table_name = 'broken'`,
    );
    await c.end();
    expect(rowCount).toBe(0);
  });
});
