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
}

/** The API object (Stripe-like: `object`, snake_case, ISO times). */
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
