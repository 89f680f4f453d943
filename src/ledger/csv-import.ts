import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { parse, type Info } from 'csv-parse';
import type { Runtime } from '../runtime.js';
import { LEDGER_COLUMNS, validateLedgerEntry, type LedgerEntryInput } from './schema.js';
import { writeLedgerEntries, type LedgerSourceName } from './store.js';
import { transaction } from '../db/prisma.js';
import { InputFileError, ReconError, oneLineMessage } from '../errors.js';
import { wakeReconcile } from '../reconciliation/enqueue.js';

/**
 * `recon ledger import FILE.csv`, minus the terminal: streams the file twice — first to validate
 * every row (so all-or-nothing holds across write chunks without holding the file in memory),
 * then to write valid rows in chunks through `writeLedgerEntries`, in one transaction (idempotent: re-importing a
 * file reports everything `unchanged`).
 *
 * Format: a header row naming columns (any order; unknown names are an error):
 *   id,kind,stripe_id,parent_id,amount,currency,expected_status,account,occurred_at,metadata
 * `id`, `kind`, `amount`, `currency` are required columns; empty cells mean "absent";
 * `amount` is integer minor units; `occurred_at` ISO-8601 or unix seconds; `metadata` a JSON object.
 */

export const CSV_COLUMNS = LEDGER_COLUMNS;
const REQUIRED_COLUMNS = ['id', 'kind', 'amount', 'currency'] as const;

/** One bad row (or header) of the file; `line` is 1-based, the header being line 1. */
export interface CsvRowError {
  line: number;
  field: string;
  reason: string;
}

export interface CsvImportProgress {
  phase: 'validate' | 'write';
  /** Rows processed in this phase. */
  rows: number;
  /** Validate phase: bytes read of `totalBytes`. Write phase: rows to write, in `totalRows`. */
  bytes?: number;
  totalBytes?: number;
  totalRows?: number;
}

export interface CsvImportOptions {
  /** Write the valid rows even when some are invalid. @defaultValue false (all-or-nothing) */
  skipInvalid?: boolean;
  /** Rows per transaction. @defaultValue 1000 */
  chunkSize?: number;
  onProgress?: (p: CsvImportProgress) => void;
  /** Stored in `ledger_entries.source`. @defaultValue 'csv' */
  source?: LedgerSourceName;
  /**
   * Do everything an import would (validate, then write in one transaction) and roll the
   * transaction back: the counts say what the import WOULD create, update or leave unchanged
   * against the ledger as it is now, and nothing is written. The rows it would touch are locked
   * until the rollback, like a real import's. @defaultValue false
   */
  dryRun?: boolean;
}

export interface CsvImportResult {
  created: number;
  updated: number;
  unchanged: number;
  invalid: number;
  /**
   * True when something was written (false when a bad row stopped an all-or-nothing import, and
   * always for a dry run, whose counts are then what an import would do).
   */
  written: boolean;
  errors: CsvRowError[];
}

/** A file path, or a factory that opens the same CSV afresh (it is read twice). */
export type CsvInput = string | (() => Readable);

interface Row {
  line: number;
  entry: LedgerEntryInput;
}

export async function importLedgerCsv(
  rt: Pick<Runtime, 'prisma' | 'queues' | 'log'>,
  input: CsvInput,
  opts: CsvImportOptions = {},
): Promise<CsvImportResult> {
  const chunkSize = opts.chunkSize ?? 1_000;
  const open = typeof input === 'string' ? () => createReadStream(input) : input;
  const totalBytes =
    typeof input === 'string'
      ? (
          await stat(input).catch((err: NodeJS.ErrnoException) => {
            throw new InputFileError(
              `cannot read ${input}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`,
            );
          })
        ).size
      : undefined;

  // Pass 1: validate everything, remember which lines are bad and which ids were seen.
  const errors: CsvRowError[] = [];
  const badLines = new Set<number>();
  let validRows = 0;
  let rows = 0;
  const firstLineOfId = new Map<string, number>();
  await readRows(open, {
    onError: (e) => {
      errors.push(e);
      badLines.add(e.line);
    },
    onRow: (line, result, info) => {
      rows++;
      if (result.ok) {
        const first = firstLineOfId.get(result.entry.id);
        if (first !== undefined) {
          errors.push({ line, field: 'id', reason: `duplicate id (first on line ${first})` });
          badLines.add(line);
        } else {
          firstLineOfId.set(result.entry.id, line);
          validRows++;
        }
      } else {
        for (const i of result.issues) errors.push({ line, field: i.field, reason: i.message });
        badLines.add(line);
        if (result.id && !firstLineOfId.has(result.id)) firstLineOfId.set(result.id, line);
      }
      if (rows % 500 === 0)
        opts.onProgress?.({ phase: 'validate', rows, bytes: info.bytes, totalBytes });
    },
  });
  opts.onProgress?.({ phase: 'validate', rows, bytes: totalBytes, totalBytes });
  const invalid = badLines.size;
  const fatal = errors.some((e) => e.field === 'header' || e.field === '(file)');
  const result: CsvImportResult = {
    created: 0,
    updated: 0,
    unchanged: 0,
    invalid,
    written: false,
    errors,
  };
  if (fatal || (invalid > 0 && !opts.skipInvalid) || validRows === 0) return result;

  // Pass 2: write the valid rows in chunks, all in ONE transaction: a row Postgres refuses
  // despite passing validation rolls the whole file back, so an import is all-or-nothing. A dry
  // run takes the same path and rolls back at the end: whether a row would be created, updated
  // or left unchanged is decided by the same upsert, so the two can never disagree.
  const units = new Set<string>();
  await transaction(
    rt.prisma,
    async (c) => {
      let chunk: Row[] = [];
      let done = 0;
      const flush = async () => {
        if (chunk.length === 0) return;
        const sorted = chunk
          .map((r) => r.entry)
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const { written, refs } = await writeLedgerEntries(c, sorted, opts.source ?? 'csv');
        for (const e of sorted) {
          const w = written.get(e.id);
          result[w === undefined ? 'unchanged' : w ? 'created' : 'updated']++;
        }
        for (const u of refs) units.add(u.key);
        done += chunk.length;
        chunk = [];
        opts.onProgress?.({ phase: 'write', rows: done, totalRows: validRows });
      };
      await readRows(open, {
        onError: () => {},
        onRow: async (line, r) => {
          if (!r.ok || badLines.has(line)) return;
          chunk.push({ line, entry: r.entry });
          if (chunk.length >= chunkSize) await flush();
        },
      });
      await flush();
      if (opts.dryRun) throw new DryRunRollback();
      // A bulk import is one transaction by design (all or nothing): it may take minutes.
    },
    { timeout: 3_600_000 },
  ).catch((err: Error) => {
    if (err instanceof DryRunRollback) return;
    throw new ReconError(
      `${opts.dryRun ? 'dry run' : 'import'} failed, nothing was written: ${oneLineMessage(err)}`,
      { cause: err },
    );
  });
  if (opts.dryRun) return result;
  result.written = true;
  if (units.size > 0) wakeReconcile(rt);
  return result;
}

/** Thrown at the end of a dry run's transaction so that inTransaction rolls it back. */
class DryRunRollback extends Error {}

type RowResult = ReturnType<typeof validateLedgerEntry>;

/** Streams records, validating each; header problems and broken CSV are reported as errors. */
async function readRows(
  open: () => Readable,
  h: {
    onError: (e: CsvRowError) => void;
    onRow: (line: number, r: RowResult, info: Info) => void | Promise<void>;
  },
): Promise<void> {
  const parser = open().pipe(
    parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true }),
  );
  let header: string[] | null = null;
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      const line = rec.info.lines;
      if (!header) {
        header = rec.record.map((c) => c.trim().toLowerCase());
        const problems = checkHeader(header);
        if (problems.length) {
          for (const reason of problems) h.onError({ line, field: 'header', reason });
          return;
        }
        continue;
      }
      if (rec.record.length !== header.length) {
        h.onError({
          line,
          field: '(row)',
          reason: `has ${rec.record.length} cells, the header has ${header.length}`,
        });
        continue;
      }
      await h.onRow(line, validateLedgerEntry(rowToWire(header, rec.record)), rec.info);
    }
    if (!header)
      h.onError({
        line: 1,
        field: 'header',
        reason: 'the file is empty: a header row is required',
      });
  } catch (err) {
    const e = err as Error & { lines?: number };
    h.onError({
      line: e.lines ?? parser.info.lines,
      field: '(file)',
      reason: `not valid CSV: ${e.message}`,
    });
  }
}

function checkHeader(header: string[]): string[] {
  const problems: string[] = [];
  const known = new Set<string>(CSV_COLUMNS);
  const seen = new Set<string>();
  for (const c of header) {
    if (!known.has(c)) problems.push(`unknown column "${c}" (expected ${CSV_COLUMNS.join(',')})`);
    if (seen.has(c)) problems.push(`column "${c}" appears twice`);
    seen.add(c);
  }
  for (const c of REQUIRED_COLUMNS)
    if (!seen.has(c)) problems.push(`missing required column "${c}"`);
  return problems;
}

/**
 * Cells are text; the schema is the API's. Empty cells are absent; an all-digit amount becomes a
 * number (anything else stays text so the schema names the problem); metadata is JSON.
 */
function rowToWire(header: readonly string[], cells: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  header.forEach((name, i) => {
    const cell = (cells[i] ?? '').trim();
    if (cell === '') return;
    switch (name) {
      case 'amount':
        out.amount = /^-?\d+$/.test(cell) ? Number(cell) : cell;
        return;
      case 'metadata':
        try {
          out.metadata = JSON.parse(cell) as unknown;
        } catch {
          out.metadata = cell; // the schema reports "must be a JSON object"
        }
        return;
      default:
        out[name] = cell;
    }
  });
  return out;
}
