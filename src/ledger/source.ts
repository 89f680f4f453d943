import type { LedgerEntry, NormalizedStatus, ReversalKind } from '../domain/types.js';
import type { Logger } from '../log/logger.js';
import type { Runtime } from '../runtime.js';
import { LEDGER_COLUMNS, validateLedgerEntry } from './schema.js';
import { Prisma, rawRows, type AnyDb } from '../db/prisma.js';

/**
 * Where the reconciler reads the platform's ledger from. It does not care which:
 *
 * - `table` (default): our own `ledger_entries`, fed by the API and the CSV import;
 * - `view`: the platform's own table, through the read-only SQL view named by `LEDGER_SQL_VIEW`.
 *   Columns are mapped by name, the same names as the CSV (`id, kind, stripe_id, parent_id,
 *   amount, currency, expected_status, account, occurred_at, metadata`), plus an optional
 *   `updated_at` (the grace period runs from it; without it, from `occurred_at`). Rows that fail
 *   the same validation as the API are skipped with a warning, never guessed at.
 */
export interface LedgerSource {
  readonly kind: 'table' | 'view';
  // `db` is Prisma, or a pg pool/client from the hot paths still on pg (load.ts reads inside its
  // pg transaction): one tagged statement runs on either.
  /**
   * Candidate entries of some units: `parent_id` ∈ keys, or `stripe_id` ∈ keys ∪ `reversalIds`.
   * The caller assigns each to its unit (a projected reversal's parent wins over `parent_id`).
   */
  entriesForUnits(
    db: AnyDb,
    keys: readonly string[],
    reversalIds: readonly string[],
  ): Promise<LedgerEntry[]>;
  /** Every (stripe_id, parent_id) pair, for the full sweep's list of units. */
  unitCandidates(
    db: AnyDb,
  ): Promise<Array<{ kind: string; stripe_id: string | null; parent_id: string | null }>>;
}

export function ledgerSourceFor(rt: Pick<Runtime, 'config' | 'log'>): LedgerSource {
  const view = rt.config.LEDGER_SQL_VIEW;
  return view ? new ViewLedgerSource(view, rt.log) : new TableLedgerSource();
}

interface TableRow {
  id: string;
  kind: ReversalKind;
  stripe_id: string | null;
  parent_id: string | null;
  amount: number;
  currency: string;
  expected_status: NormalizedStatus | null;
  account: string | null;
  occurred_at: Date | null;
  metadata: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

export class TableLedgerSource implements LedgerSource {
  readonly kind = 'table' as const;

  async entriesForUnits(db: AnyDb, keys: readonly string[], reversalIds: readonly string[]) {
    if (keys.length === 0 && reversalIds.length === 0) return [];
    const rows = await rawRows<TableRow>(
      db,
      Prisma.sql`SELECT id, kind, stripe_id, parent_id, amount, currency, expected_status, account,
              occurred_at, metadata, created_at, updated_at
       FROM ledger_entries
       WHERE parent_id = ANY(${keys}::text[]) OR stripe_id = ANY(${keys}::text[])
          OR stripe_id = ANY(${reversalIds}::text[])`,
    );
    return rows.map((r): LedgerEntry => ({
      id: r.id,
      kind: r.kind,
      stripeId: r.stripe_id,
      parentId: r.parent_id,
      amount: Number(r.amount),
      currency: r.currency,
      expectedStatus: r.expected_status,
      account: r.account,
      occurredAtMs: r.occurred_at ? r.occurred_at.getTime() : null,
      metadata: r.metadata ?? {},
      updatedAtMs: r.updated_at.getTime(),
      createdAtMs: r.created_at.getTime(),
    }));
  }

  async unitCandidates(db: AnyDb) {
    return rawRows<{ kind: string; stripe_id: string | null; parent_id: string | null }>(
      db,
      Prisma.sql`SELECT DISTINCT kind, stripe_id, parent_id FROM ledger_entries`,
    );
  }
}

export class ViewLedgerSource implements LedgerSource {
  readonly kind = 'view' as const;
  private readonly relation: Prisma.Sql;

  /** `name` is `[schema.]identifier`, already checked by the config schema; quoted here anyway. */
  constructor(
    name: string,
    private readonly log: Logger,
  ) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(name)) {
      throw new Error(`LEDGER_SQL_VIEW "${name}" is not a [schema.]name identifier`);
    }
    // Checked just above to be [schema.]identifier: the one piece of SQL that is not a parameter.
    this.relation = Prisma.raw(
      name
        .split('.')
        .map((p) => `"${p}"`)
        .join('.'),
    );
  }

  async entriesForUnits(db: AnyDb, keys: readonly string[], reversalIds: readonly string[]) {
    if (keys.length === 0 && reversalIds.length === 0) return [];
    // SELECT * so that optional columns (account, metadata, updated_at, …) may be absent.
    const rows = await rawRows<Record<string, unknown>>(
      db,
      Prisma.sql`SELECT * FROM ${this.relation}
       WHERE parent_id = ANY(${keys}::text[]) OR stripe_id = ANY(${keys}::text[])
          OR stripe_id = ANY(${reversalIds}::text[])`,
    );
    const out: LedgerEntry[] = [];
    for (const row of rows) {
      const e = this.toEntry(row);
      if (e) out.push(e);
    }
    return out;
  }

  async unitCandidates(db: AnyDb) {
    return rawRows<{ kind: string; stripe_id: string | null; parent_id: string | null }>(
      db,
      Prisma.sql`SELECT DISTINCT kind::text AS kind, stripe_id::text AS stripe_id, parent_id::text AS parent_id
        FROM ${this.relation}`,
    );
  }

  private toEntry(row: Record<string, unknown>): LedgerEntry | null {
    const wire: Record<string, unknown> = {};
    for (const c of LEDGER_COLUMNS) {
      const v = row[c];
      if (v === null || v === undefined) continue;
      if (c === 'amount') wire.amount = typeof v === 'number' ? v : Number(v);
      else if (c === 'occurred_at') wire.occurred_at = v instanceof Date ? v.toISOString() : v;
      else if (c === 'metadata') wire.metadata = typeof v === 'string' ? safeJson(v) : v;
      else wire[c] = typeof v === 'string' ? v : String(v);
    }
    const r = validateLedgerEntry(wire);
    if (!r.ok) {
      this.log.warn(
        { ledgerEntryId: r.id, issues: r.issues },
        'skipping invalid ledger row from LEDGER_SQL_VIEW',
      );
      return null;
    }
    const e = r.entry;
    const updated = row.updated_at instanceof Date ? row.updated_at.getTime() : null;
    return {
      id: e.id,
      kind: e.kind,
      stripeId: e.stripe_id,
      parentId: e.parent_id,
      amount: e.amount,
      currency: e.currency,
      expectedStatus: e.expected_status,
      account: e.account,
      occurredAtMs: e.occurred_at,
      metadata: e.metadata,
      updatedAtMs: updated ?? e.occurred_at ?? 0,
    };
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return s;
  }
}
