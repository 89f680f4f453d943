import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/**
 * `prisma migrate diff` needs the schema engine, which cannot be downloaded on offline machines,
 * so this test does its job: the database built by our hand-written migrations must have exactly
 * the tables, columns, types, nullability and indexes that prisma/schema.prisma declares.
 */

const PG_TYPE: Record<string, string> = {
  String: 'text',
  BigInt: 'bigint',
  Int: 'integer',
  Boolean: 'boolean',
  Json: 'jsonb',
  DateTime: 'timestamp without time zone',
  Float: 'double precision',
};

interface Column {
  type: string;
  nullable: boolean;
}
interface Table {
  columns: Map<string, Column>;
  indexes: Set<string>; // "unique:a,b" or "index:a" or "pk:a"
}

function parseSchema(text: string): Map<string, Table> {
  const tables = new Map<string, Table>();
  for (const m of text.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
    const body = m[2]!;
    const name = /@@map\("([^"]+)"\)/.exec(body)?.[1] ?? m[1]!;
    const t: Table = { columns: new Map(), indexes: new Set() };
    for (const raw of body.split('\n')) {
      const line = raw.replace(/\/\/.*$/, '').trim();
      if (!line) continue;
      const idx = /^@@(index|unique|id)\(\[([^\]]+)\]/.exec(line);
      if (idx) {
        const cols = idx[2]!
          .split(',')
          .map((c) => c.trim())
          .join(',');
        t.indexes.add(`${idx[1] === 'id' ? 'pk' : idx[1]}:${cols}`);
        continue;
      }
      if (line.startsWith('@@')) continue;
      const f = /^(\w+)\s+(\w+)(\?)?(.*)$/.exec(line);
      if (!f) continue;
      const col = f[1]!;
      const type = f[2]!;
      const optional = f[3];
      const attrs = f[4] ?? '';
      let pgType = PG_TYPE[type];
      if (!pgType) throw new Error(`schema-drift: unsupported type ${type}`);
      if (/@db\.Timestamptz/.test(attrs)) pgType = 'timestamp with time zone';
      t.columns.set(col, { type: pgType, nullable: optional === '?' });
      if (/@id\b/.test(attrs)) t.indexes.add(`pk:${col}`);
      if (/@unique\b/.test(attrs)) t.indexes.add(`unique:${col}`);
    }
    tables.set(name, t);
  }
  return tables;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

describe('migrations match prisma/schema.prisma', () => {
  const expected = parseSchema(
    readFileSync(new URL('../../prisma/schema.prisma', import.meta.url), 'utf8'),
  );

  it('has exactly the declared tables', async () => {
    const { rows } = await db.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations'`,
    );
    expect(rows.map((r) => r.table_name).sort()).toEqual([...expected.keys()].sort());
  });

  it.each([...expected.keys()])('table %s has the declared columns and indexes', async (table) => {
    const want = expected.get(table)!;
    const { rows } = await db.pool.query<{
      column_name: string;
      data_type: string;
      is_nullable: string;
    }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = $1`,
      [table],
    );
    const got = Object.fromEntries(
      rows.map((r) => [r.column_name, { type: r.data_type, nullable: r.is_nullable === 'YES' }]),
    );
    expect(got).toEqual(Object.fromEntries(want.columns));

    const idx = await db.pool.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1`,
      [table],
    );
    const gotIdx = new Set(
      idx.rows
        .filter((r) => !/ WHERE /.test(r.indexdef)) // partial indexes cannot be declared in Prisma
        .map((r) => {
          const cols = /\(([^)]+)\)/
            .exec(r.indexdef)![1]!
            .replace(/"/g, '')
            .split(',')
            .map((c) => c.trim())
            .join(',');
          const kind = /_pkey /.test(r.indexdef)
            ? 'pk'
            : /UNIQUE/.test(r.indexdef)
              ? 'unique'
              : 'index';
          return `${kind}:${cols}`;
        }),
    );
    expect([...gotIdx].sort()).toEqual([...want.indexes].sort());
  });
});
