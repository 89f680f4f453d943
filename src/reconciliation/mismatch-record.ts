import { randomBytes } from 'node:crypto';
import type { MismatchKind, ObjectType, Severity } from '../domain/types.js';

/** A `mismatches` row as pg returns it (BIGINT already a number, times as Date). */
export interface MismatchRow {
  id: string;
  fingerprint: string;
  kind: MismatchKind;
  severity: Severity;
  status: 'open' | 'resolved';
  unit_key: string;
  object_type: ObjectType;
  object_id: string | null;
  ledger_entry_id: string | null;
  account: string | null;
  currency: string | null;
  amount_at_risk: number | null;
  expected: unknown;
  actual: unknown;
  message: string;
  first_seen_at: Date;
  last_seen_at: Date;
  resolved_at: Date | null;
  resolution_reason: string | null;
  reopened_count: number;
  acknowledged_at: Date | null;
  acknowledged_note: string | null;
  notified_severity: Severity | null;
  updated_at: Date;
  /** Only when selected with {@link MISMATCH_COLUMNS}: see OBJECT_FIRST_SEEN_SQL. */
  object_first_seen_at?: Date;
}

/**
 * "First seen": when the mismatch's evidence first appeared — the Stripe object's own `created`,
 * or, for an object Stripe does not have (missing_in_stripe), the ledger entry's `occurred_at`
 * (else when it was recorded); never later than the mismatch itself. It differs from
 * `first_seen_at`, when the mismatch opened ("open since"): a credit reversal found stuck after 9
 * days of processing was first seen 9 days ago and has been open for seconds, and the message
 * ("processing for 9 days") speaks of the former. `m` is the `mismatches` row. Derived when read
 * (not stored), so rows written before it existed have it too.
 */
export const OBJECT_FIRST_SEEN_SQL = `LEAST(m.first_seen_at, CASE m.object_type
    WHEN 'transfer_reversal' THEN (SELECT to_timestamp(created) FROM transfer_reversals WHERE id = m.object_id)
    WHEN 'credit_reversal' THEN (SELECT to_timestamp(created) FROM credit_reversals WHERE id = m.object_id)
    WHEN 'debit_reversal' THEN (SELECT to_timestamp(created) FROM debit_reversals WHERE id = m.object_id)
    WHEN 'transfer' THEN (SELECT to_timestamp(created) FROM transfers WHERE id = m.object_id)
    WHEN 'received_credit' THEN (SELECT to_timestamp(created) FROM received_credits WHERE id = m.object_id)
    WHEN 'received_debit' THEN (SELECT to_timestamp(created) FROM received_debits WHERE id = m.object_id)
  END, (SELECT COALESCE(occurred_at, created_at) FROM ledger_entries WHERE id = m.ledger_entry_id))`;

/** `SELECT ${MISMATCH_COLUMNS} FROM mismatches m`: the row plus `object_first_seen_at`. */
export const MISMATCH_COLUMNS = `m.*, ${OBJECT_FIRST_SEEN_SQL} AS object_first_seen_at`;

/**
 * The API object (Stripe-like: `object`, snake_case, ISO times): the one JSON mapping of a
 * mismatch row, which alerts carry as is (`alerts/mismatch-json.ts`) and reports reshape
 * (`reports/build.ts`).
 */
export interface ApiMismatch {
  id: string;
  object: 'mismatch';
  fingerprint: string;
  kind: MismatchKind;
  severity: Severity;
  status: 'open' | 'resolved';
  object_type: ObjectType;
  object_id: string | null;
  ledger_entry_id: string | null;
  account: string | null;
  currency: string | null;
  amount_at_risk: number | null;
  expected: unknown;
  actual: unknown;
  message: string;
  first_seen_at: string;
  last_seen_at: string;
  resolved_at: string | null;
  resolution_reason: string | null;
  reopened_count: number;
  acknowledged_at: string | null;
  acknowledged_note: string | null;
  /**
   * "First seen": when the object behind the mismatch first appeared (see OBJECT_FIRST_SEEN_SQL);
   * `first_seen_at` is when the mismatch opened ("open since"). Absent where the row was read
   * without it (alert payloads).
   */
  object_first_seen_at?: string;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toApiMismatch(r: MismatchRow): ApiMismatch {
  return {
    id: r.id,
    object: 'mismatch',
    fingerprint: r.fingerprint,
    kind: r.kind,
    severity: r.severity,
    status: r.status,
    object_type: r.object_type,
    object_id: r.object_id,
    ledger_entry_id: r.ledger_entry_id,
    account: r.account,
    currency: r.currency,
    amount_at_risk: r.amount_at_risk === null ? null : Number(r.amount_at_risk),
    expected: r.expected ?? null,
    actual: r.actual ?? null,
    message: r.message,
    first_seen_at: r.first_seen_at.toISOString(),
    last_seen_at: r.last_seen_at.toISOString(),
    resolved_at: iso(r.resolved_at),
    resolution_reason: r.resolution_reason,
    reopened_count: r.reopened_count,
    acknowledged_at: iso(r.acknowledged_at),
    acknowledged_note: r.acknowledged_note,
    ...(r.object_first_seen_at
      ? { object_first_seen_at: r.object_first_seen_at.toISOString() }
      : {}),
  };
}

/**
 * `mm_` + 12 hex digits of the creation time in ms + 12 random hex digits: ids sort by creation
 * time (then randomly within one millisecond, but stably), which is what the list cursor needs.
 */
export function newMismatchId(nowMs: number): string {
  return `mm_${Math.floor(nowMs).toString(16).padStart(12, '0')}${randomBytes(6).toString('hex')}`;
}

export const MISMATCH_ID = /^mm_[0-9a-f]{24}$/;
