import { PARENT_ID_PREFIX, REVERSAL_ID_PREFIX } from '../domain/ids.js';
import { z } from 'zod';
import { unstorableJson } from '../domain/storable.js';
import { normalizeExpectedStatus } from '../domain/status.js';
import { REVERSAL_KINDS, type NormalizedStatus, type ReversalKind } from '../domain/types.js';

/**
 * The one validation of a ledger entry, shared by `POST /api/ledger/entries`, the CSV import and
 * (leniently) the SQL-view source. Input is the wire shape (snake_case, like the CSV header);
 * output is what `upsertLedgerEntries` writes.
 *
 * Decisions:
 * - `amount` is a positive integer in minor units: Stripe never creates a zero-amount reversal.
 * - `currency` is any three letters, stored lowercase (Stripe's spelling).
 * - `expected_status` takes our normalised words or Stripe's raw ones; both are stored.
 * - `occurred_at` is ISO-8601 (a date, or a date-time with an offset or `Z`) or unix seconds.
 * - `stripe_id` / `parent_id` must carry the prefix of the kind; at least one is required, so
 *   every entry has a reconciliation unit.
 * - Unknown fields are rejected: a typo like `expected_staus` would otherwise silently disable a
 *   check.
 */

/** Wire field names: the API's, the CSV header's and the SQL view's columns. */
export const LEDGER_COLUMNS = [
  'id',
  'kind',
  'stripe_id',
  'parent_id',
  'amount',
  'currency',
  'expected_status',
  'account',
  'occurred_at',
  'metadata',
] as const;

const STATUS_WORDS: Readonly<Record<ReversalKind, string>> = Object.freeze({
  transfer_reversal: 'succeeded',
  credit_reversal: 'processing, posted, canceled',
  debit_reversal: 'processing, won, lost, canceled (or Stripe’s succeeded, failed)',
});

/** Largest unix-seconds value accepted (9999-12-31T23:59:59Z); catches milliseconds sent by mistake. */
const MAX_UNIX_SECONDS = 253_402_300_799;
const ISO_8601 =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

/** The stored shape of a validated entry. */
export interface LedgerEntryInput {
  id: string;
  kind: ReversalKind;
  stripe_id: string | null;
  parent_id: string | null;
  amount: number;
  currency: string;
  expected_status: NormalizedStatus | null;
  expected_status_raw: string | null;
  account: string | null;
  /** Epoch milliseconds. */
  occurred_at: number | null;
  metadata: Record<string, unknown>;
}

const nullish = <T extends z.ZodType>(t: T) => t.nullish();
const id = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, 'is required')
  .max(255, 'must be at most 255 characters')
  .regex(/^[\x21-\x7e]+$/, 'may hold printable ASCII without spaces only');
const stripeLikeId = z
  .string({ error: 'must be a string' })
  .trim()
  .max(255, 'must be at most 255 characters')
  .regex(/^[A-Za-z]+_[A-Za-z0-9_]+$/, 'is not a Stripe id')
  .or(z.literal('').transform(() => undefined));

/** Field-by-field shape; the cross-field rules live in `crossFieldIssues` so that both kinds of
 * problem are reported together. */
export const LedgerEntryShape = z.strictObject(
  {
    id,
    kind: z.enum(REVERSAL_KINDS, {
      error: `must be one of ${REVERSAL_KINDS.join(', ')}`,
    }),
    stripe_id: nullish(stripeLikeId),
    parent_id: nullish(stripeLikeId),
    amount: z
      .number({ error: 'must be an integer amount in minor units' })
      .int('must be an integer amount in minor units')
      .positive('must be greater than 0')
      .max(Number.MAX_SAFE_INTEGER, 'is too large'),
    currency: z
      .string({ error: 'must be a three-letter ISO currency code' })
      .trim()
      .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO currency code')
      .transform((c) => c.toLowerCase()),
    expected_status: nullish(z.string({ error: 'must be a string' }).trim()),
    account: nullish(
      z
        .string({ error: 'must be a string' })
        .trim()
        .regex(/^acct_[A-Za-z0-9]+$/, 'must be a Connect account id (acct_…)')
        .or(z.literal('').transform(() => undefined)),
    ),
    occurred_at: nullish(
      z.union([z.number(), z.string()], { error: 'must be ISO-8601 or unix seconds' }),
    ),
    metadata: nullish(
      z
        .record(z.string(), z.unknown(), { error: 'must be a JSON object' })
        .superRefine((m, ctx) => {
          // What Postgres's jsonb would refuse (NUL, deep nesting) is refused here, as a 400.
          const why = unstorableJson(m);
          if (why) ctx.addIssue({ code: 'custom', message: why });
        }),
    ),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? 'unknown field' : undefined) },
);

interface CrossFields {
  kind?: unknown;
  stripe_id?: unknown;
  parent_id?: unknown;
  expected_status?: unknown;
  occurred_at?: unknown;
}

const str = (v: unknown): string | null =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : null;

/** Rules that need several fields (or the kind); they run on whatever fields are usable. */
function crossFieldIssues(v: CrossFields): {
  issues: EntryIssue[];
  expected: NormalizedStatus | null;
  occurredAt: number | null;
} {
  const issues: EntryIssue[] = [];
  const kind = (REVERSAL_KINDS as readonly unknown[]).includes(v.kind)
    ? (v.kind as ReversalKind)
    : null;
  const stripeId = str(v.stripe_id);
  const parentId = str(v.parent_id);
  const absent = (x: unknown) => x === undefined || x === null || x === '';
  if (absent(v.stripe_id) && absent(v.parent_id)) {
    issues.push({ field: 'stripe_id', message: 'stripe_id or parent_id is required' });
  }
  if (kind && stripeId && !stripeId.startsWith(REVERSAL_ID_PREFIX[kind])) {
    issues.push({
      field: 'stripe_id',
      message: `must start with ${REVERSAL_ID_PREFIX[kind]} for a ${kind}`,
    });
  }
  if (kind && parentId && !parentId.startsWith(PARENT_ID_PREFIX[kind])) {
    issues.push({
      field: 'parent_id',
      message: `must start with ${PARENT_ID_PREFIX[kind]} for a ${kind}`,
    });
  }
  let expected: NormalizedStatus | null = null;
  const raw = str(v.expected_status);
  if (kind && raw) {
    expected = normalizeExpectedStatus(kind, raw);
    if (!expected) {
      issues.push({
        field: 'expected_status',
        message: `is not a ${kind} status: use ${STATUS_WORDS[kind]}`,
      });
    }
  }
  let occurredAt: number | null = null;
  if (
    typeof v.occurred_at === 'number' ||
    (typeof v.occurred_at === 'string' && v.occurred_at !== '')
  ) {
    occurredAt = parseOccurredAt(v.occurred_at);
    if (occurredAt === null) {
      issues.push({
        field: 'occurred_at',
        message: 'must be ISO-8601 (e.g. 2026-11-20T10:00:00Z) or unix seconds',
      });
    }
  }
  return { issues, expected, occurredAt };
}

/** Epoch ms from ISO-8601 or unix seconds (a number or a string of digits); null when invalid. */
export function parseOccurredAt(value: number | string): number | null {
  if (typeof value === 'number' || /^\d+$/.test(value.trim())) {
    const s = typeof value === 'number' ? value : Number(value.trim());
    if (!Number.isInteger(s) || s < 0 || s > MAX_UNIX_SECONDS) return null;
    return s * 1_000;
  }
  const text = value.trim();
  if (!ISO_8601.test(text)) return null;
  // A bare date is midnight UTC (Date.parse already reads it so).
  const ms = Date.parse(text.replace(' ', 'T'));
  if (!Number.isFinite(ms)) return null;
  // Date.parse rolls impossible dates over (2026-02-30 → March 2): refuse them instead.
  const [y, m, d] = text.slice(0, 10).split('-').map(Number);
  const day = new Date(Date.UTC(y!, m! - 1, d!));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m! - 1 || day.getUTCDate() !== d)
    return null;
  return ms;
}

export interface EntryIssue {
  field: string;
  message: string;
}

export type EntryValidation =
  { ok: true; entry: LedgerEntryInput } | { ok: false; id: string | null; issues: EntryIssue[] };

/** Validates one wire-shape entry; every problem is reported, one issue per field. */
export function validateLedgerEntry(input: unknown): EntryValidation {
  const r = LedgerEntryShape.safeParse(input);
  const issues: EntryIssue[] = [];
  if (!r.success) {
    for (const i of r.error.issues) {
      if (i.code === 'unrecognized_keys') {
        for (const k of i.keys) issues.push({ field: k, message: 'unknown field' });
        continue;
      }
      issues.push({ field: i.path.length ? i.path.join('.') : '(entry)', message: i.message });
    }
  }
  // One issue per field: the first (most basic) problem is the useful one.
  for (let i = issues.length - 1; i >= 0; i--) {
    if (issues.findIndex((x) => x.field === issues[i]!.field) !== i) issues.splice(i, 1);
  }
  const loose: CrossFields =
    input && typeof input === 'object' && !Array.isArray(input) ? (input as CrossFields) : {};
  const cross = crossFieldIssues(r.success ? r.data : loose);
  const seen = new Set(issues.map((i) => i.field));
  for (const i of cross.issues) if (!seen.has(i.field)) issues.push(i);
  if (r.success && issues.length === 0) {
    const v = r.data;
    return {
      ok: true,
      entry: {
        id: v.id,
        kind: v.kind,
        stripe_id: v.stripe_id || null,
        parent_id: v.parent_id || null,
        amount: v.amount,
        currency: v.currency,
        expected_status: cross.expected,
        expected_status_raw: v.expected_status || null,
        account: v.account || null,
        occurred_at: cross.occurredAt,
        metadata: v.metadata ?? {},
      },
    };
  }
  const rawId =
    input && typeof input === 'object' && typeof (input as { id?: unknown }).id === 'string'
      ? (input as { id: string }).id
      : null;
  return { ok: false, id: rawId, issues };
}
