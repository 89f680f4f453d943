import { z } from 'zod';
import { MISMATCH_KINDS, SEVERITIES } from '../domain/types.js';

/**
 * The body of a drift report, as stored in `reports.body` and served as `?format=json`.
 * Money is integer minor units plus a lowercase currency; times are ISO-8601 UTC.
 */

const count = z.number().int().min(0);
const minor = z.number().int();
const iso = z.iso.datetime({ offset: true });

export const REPORT_CHANGES = ['new', 'open', 'resolved'] as const;

/** One mismatch as a report lists it (a CSV row). */
export const ReportMismatch = z.object({
  id: z.string(),
  fingerprint: z.string(),
  /** new: open and first seen since the previous report; open: still open; resolved: since then. */
  change: z.enum(REPORT_CHANGES),
  kind: z.enum(MISMATCH_KINDS),
  severity: z.enum(SEVERITIES),
  status: z.enum(['open', 'resolved']),
  object_type: z.string(),
  object_id: z.string().nullable(),
  ledger_entry_id: z.string().nullable(),
  account: z.string().nullable(),
  currency: z.string().nullable(),
  amount_at_risk: minor.nullable(),
  /**
   * What the ledger (expected) and Stripe (actual) say, as the mismatch recorded them; absent in
   * reports stored before they were added.
   */
  expected: z.record(z.string(), z.unknown()).nullable().optional(),
  actual: z.record(z.string(), z.unknown()).nullable().optional(),
  message: z.string(),
  /**
   * "First seen": when the object behind the mismatch first appeared — its `created` in Stripe,
   * or the ledger entry's `occurred_at` for an object Stripe does not have; never later than
   * `first_seen_at`. Absent in reports stored before it was added.
   */
  object_first_seen_at: iso.optional(),
  /** When the mismatch opened (shown as "open since"); the same as the mismatch API's. */
  first_seen_at: iso,
  last_seen_at: iso,
  resolved_at: iso.nullable(),
  resolution_reason: z.string().nullable(),
  /**
   * Seconds from first seen (`object_first_seen_at`) to the report (open) or to the resolution
   * (resolved): the age the message speaks of ("processing for 9 days").
   */
  age_seconds: count,
  /**
   * Seconds from `first_seen_at` (the mismatch opened) to the report or the resolution. Absent in
   * reports stored before it was added (their `age_seconds` ran from `first_seen_at`).
   */
  open_seconds: count.optional(),
  acknowledged: z.boolean(),
});
export type ReportMismatch = z.infer<typeof ReportMismatch>;

const Money = z.object({ currency: z.string(), amount: minor, count });

export const ReportBody = z.object({
  version: z.literal(1),
  id: z.string(),
  created_at: iso,
  sweep_run_id: z.string().nullable(),
  previous_report: z.object({ id: z.string(), created_at: iso }).nullable(),
  sweep: z
    .object({
      trigger: z.string(),
      account: z.string().nullable(),
      since: iso.nullable(),
      started_at: iso.nullable(),
      finished_at: iso.nullable(),
      objects_fetched: count,
      events_recovered: count,
      units_reconciled: count,
    })
    .nullable(),
  totals: z.object({
    open: count,
    new: count,
    resolved: count,
    /** Open, but an operator acknowledged them. */
    acknowledged: count,
    objects_fetched: count,
    events_recovered: count,
  }),
  open_by_kind: z.record(z.enum(MISMATCH_KINDS), count),
  open_by_severity: z.record(z.enum(SEVERITIES), count),
  open_by_account: z.array(
    z.object({ account: z.string().nullable(), count, amount_at_risk: z.array(Money) }),
  ),
  /** Σ amount at risk of open mismatches, per currency (by currency code). */
  amount_at_risk: z.array(Money),
  /** Every open mismatch, most severe first (change = new | open). */
  open: z.array(ReportMismatch),
  /** Resolved since the previous report (change = resolved). */
  resolved: z.array(ReportMismatch),
  /** Open mismatches at this and the previous reports, oldest first (for the chart). */
  history: z.array(z.object({ report_id: z.string(), created_at: iso, open: count })),
});
export type ReportBody = z.infer<typeof ReportBody>;

export const REPORT_FORMATS = ['json', 'csv', 'md', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const CONTENT_TYPES: Readonly<Record<ReportFormat, string>> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
};
