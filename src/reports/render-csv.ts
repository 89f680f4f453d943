import { stringify } from 'csv-stringify/sync';
import type { ReportBody, ReportMismatch } from './schema.js';

/** Column order of the CSV: one row per mismatch (open first, then resolved since the last report). */
export const CSV_COLUMNS = [
  'change',
  'id',
  'kind',
  'severity',
  'status',
  'object_type',
  'object_id',
  'ledger_entry_id',
  'account',
  'currency',
  'amount_at_risk',
  'first_seen_at',
  'last_seen_at',
  'resolved_at',
  'resolution_reason',
  'age_seconds',
  'acknowledged',
  'message',
  'fingerprint',
] as const satisfies readonly (keyof ReportMismatch)[];

/**
 * Spreadsheets run a cell that starts with = + - @ (or tab / CR, which some strip first) as a
 * formula. Text we did not write (ledger ids, messages quoting them) is prefixed with an
 * apostrophe, the usual neutralisation (OWASP "CSV injection"); numbers are left alone.
 */
export function neutralise(v: string | number | boolean): string {
  if (typeof v !== 'string') return String(v);
  return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
}

/**
 * RFC 4180: CRLF line ends, a header row, fields quoted when they hold a comma, quote or line
 * break, quotes doubled. Null is an empty field; amounts stay integer minor units.
 */
export function renderCsv(body: ReportBody): string {
  const rows = [...body.open, ...body.resolved].map((m) =>
    CSV_COLUMNS.map((c) => {
      const v = m[c];
      return v === null ? '' : neutralise(v);
    }),
  );
  return stringify([[...CSV_COLUMNS], ...rows], { record_delimiter: '\r\n' });
}
