import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importLedgerCsv, type CsvImportProgress } from '../../../src/ledger/csv-import.js';
import { createTestRuntime } from './support.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/ledger/${name}`, import.meta.url));
const example = fileURLToPath(new URL('../../../examples/ledger.csv', import.meta.url));

let t: Awaited<ReturnType<typeof createTestRuntime>>;
beforeAll(async () => {
  t = await createTestRuntime();
});
afterAll(async () => t?.close());
beforeEach(async () => {
  await t.rt.pool.query('TRUNCATE ledger_entries');
});

const count = async () =>
  Number((await t.rt.pool.query('SELECT count(*) AS n FROM ledger_entries')).rows[0].n);

describe('importLedgerCsv', () => {
  it('imports a clean file and is idempotent on re-import', async () => {
    const progress: CsvImportProgress[] = [];
    const first = await importLedgerCsv(t.rt, fixture('good.csv'), {
      onProgress: (p) => progress.push(p),
    });
    expect(first).toMatchObject({
      created: 5,
      updated: 0,
      unchanged: 0,
      invalid: 0,
      written: true,
      errors: [],
    });
    expect(progress.at(-1)).toEqual({ phase: 'write', rows: 5, totalRows: 5 });
    expect(progress.some((p) => p.phase === 'validate')).toBe(true);

    const again = await importLedgerCsv(t.rt, fixture('good.csv'));
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 5, invalid: 0 });

    const { rows } = await t.rt.pool.query(
      `SELECT id, currency, expected_status, expected_status_raw, occurred_at, metadata, source
       FROM ledger_entries ORDER BY id`,
    );
    expect(rows[0]).toMatchObject({
      id: 'le_g1',
      currency: 'usd',
      metadata: { order: 'o_1' },
      source: 'csv',
    });
    expect(rows[1]).toMatchObject({
      id: 'le_g2',
      currency: 'usd',
      occurred_at: new Date(1_790_000_000_000),
    });
    expect(rows[3]).toMatchObject({
      id: 'le_g4',
      expected_status: 'lost',
      expected_status_raw: 'failed',
    });
  });

  it('reports every bad row with its line number and writes nothing by default', async () => {
    const r = await importLedgerCsv(t.rt, fixture('mixed.csv'));
    expect(r.written).toBe(false);
    expect(r.invalid).toBe(5);
    expect(r.errors.map((e) => [e.line, e.field])).toEqual([
      [3, 'amount'],
      [6, 'amount'],
      [6, 'stripe_id'],
      [7, 'metadata'],
      [8, 'id'],
      [9, '(row)'],
    ]);
    expect(r.errors.find((e) => e.line === 8)?.reason).toMatch(/duplicate id \(first on line 2\)/);
    expect(await count()).toBe(0);
  });

  it('--skip-invalid writes the valid rows only', async () => {
    const r = await importLedgerCsv(t.rt, fixture('mixed.csv'), { skipInvalid: true });
    expect(r).toMatchObject({ created: 3, updated: 0, unchanged: 0, invalid: 5, written: true });
    const { rows } = await t.rt.pool.query('SELECT id FROM ledger_entries ORDER BY id');
    expect(rows.map((x) => x.id)).toEqual(['le_m1', 'le_m3', 'le_m8']);
    // Idempotent: the same file again changes nothing.
    expect(await importLedgerCsv(t.rt, fixture('mixed.csv'), { skipInvalid: true })).toMatchObject({
      created: 0,
      unchanged: 3,
    });
  });

  it('rejects a bad header outright, even with skipInvalid', async () => {
    const r = await importLedgerCsv(t.rt, fixture('bad-header.csv'), { skipInvalid: true });
    expect(r.written).toBe(false);
    expect(r.errors.every((e) => e.line === 1 && e.field === 'header')).toBe(true);
    expect(r.errors.map((e) => e.reason).join('\n')).toMatch(
      /unknown column "stripe"[\s\S]*missing required column "currency"/,
    );
    expect(await count()).toBe(0);
  });

  it('reports broken CSV (an unclosed quote) instead of throwing', async () => {
    const text =
      'id,kind,parent_id,amount,currency\nle_1,transfer_reversal,tr_1,100,usd\nle_2,"transfer_reversal,tr_1,100,usd\n';
    const r = await importLedgerCsv(t.rt, () => Readable.from([text]));
    expect(r.written).toBe(false);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ field: '(file)' });
    expect(await count()).toBe(0);
  });

  it('writes in chunks, all-or-nothing across them, and reports updates', async () => {
    const rows = Array.from(
      { length: 2_500 },
      (_, i) => `le_c${i},transfer_reversal,,tr_c${i % 7},${100 + i},usd`,
    );
    const header = 'id,kind,stripe_id,parent_id,amount,currency';
    const bad = [...rows];
    bad[2_400] = 'le_bad,transfer_reversal,,tr_1,0,usd';
    const none = await importLedgerCsv(t.rt, () => Readable.from([[header, ...bad].join('\n')]), {
      chunkSize: 1_000,
    });
    expect(none).toMatchObject({ written: false, invalid: 1 });
    expect(none.errors).toEqual([
      { line: 2_402, field: 'amount', reason: 'must be greater than 0' },
    ]);
    expect(await count()).toBe(0);

    const ok = await importLedgerCsv(t.rt, () => Readable.from([[header, ...rows].join('\n')]), {
      chunkSize: 1_000,
    });
    expect(ok).toMatchObject({ created: 2_500, invalid: 0 });
    rows[10] = 'le_c10,transfer_reversal,,tr_c3,999,usd';
    const upd = await importLedgerCsv(t.rt, () => Readable.from([[header, ...rows].join('\n')]), {
      chunkSize: 1_000,
    });
    expect(upd).toMatchObject({ created: 0, updated: 1, unchanged: 2_499 });
  });

  it('imports examples/ledger.csv cleanly', async () => {
    const r = await importLedgerCsv(t.rt, example, { dryRun: true });
    expect(r.errors).toEqual([]);
    expect(r.invalid).toBe(0);
  });

  it('a dry run says what the import would do, writes nothing, and counts rows', async () => {
    const progress: CsvImportProgress[] = [];
    const dry = await importLedgerCsv(t.rt, fixture('good.csv'), {
      dryRun: true,
      onProgress: (p) => progress.push(p),
    });
    expect(dry).toMatchObject({ created: 5, updated: 0, unchanged: 0, invalid: 0, written: false });
    expect(await count()).toBe(0);
    expect(progress.at(-1)).toEqual({ phase: 'write', rows: 5, totalRows: 5 });
    expect(progress.find((p) => p.phase === 'validate' && p.rows === 5)).toBeDefined();

    // Against a ledger that already holds the file, one row changed: would update 1.
    await importLedgerCsv(t.rt, fixture('good.csv'));
    await t.rt.pool.query(`UPDATE ledger_entries SET amount = amount + 1 WHERE id = 'le_g1'`);
    const before = await t.rt.pool.query('SELECT * FROM ledger_entries ORDER BY id');
    const again = await importLedgerCsv(t.rt, fixture('good.csv'), { dryRun: true });
    expect(again).toMatchObject({ created: 0, updated: 1, unchanged: 4, written: false });
    expect((await t.rt.pool.query('SELECT * FROM ledger_entries ORDER BY id')).rows).toEqual(
      before.rows,
    );
  });

  it('a dry run of a file with bad rows would write nothing, unless skipInvalid', async () => {
    const strict = await importLedgerCsv(t.rt, fixture('mixed.csv'), { dryRun: true });
    expect(strict).toMatchObject({ created: 0, updated: 0, unchanged: 0, invalid: 5 });
    const lenient = await importLedgerCsv(t.rt, fixture('mixed.csv'), {
      dryRun: true,
      skipInvalid: true,
    });
    expect(lenient).toMatchObject({ created: 3, invalid: 5, written: false });
    expect(await count()).toBe(0);
  });
});
