import { stringify } from 'csv-stringify/sync';
import { decimalAmount } from '../domain/money.js';
import type { ReportBody, ReportMismatch } from './schema.js';

/**
 * Column order of the CSV: one row per mismatch (open first, then resolved since the last
 * report). Written for finance: decimal amounts with the ISO currency beside them (the minor
 * units stay, for systems that want integers), what the ledger expected and what Stripe shows,
 * the age in days from when the object was first seen (the age the message speaks of) and, apart,
 * when the mismatch opened ("open since", and how long it has been open), and "platform" where
 * the platform itself is the account. The fingerprint is an internal key and stays in the JSON.
 */
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
  'amount_at_risk_minor',
  'expected',
  'actual',
  'first_seen_at',
  'open_since',
  'last_seen_at',
  'resolved_at',
  'resolution_reason',
  'age_days',
  'open_days',
  'acknowledged',
  'message',
] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

/** Money-like keys of expected/actual are written as decimals in the row's currency. */
const AMOUNT_KEY = /(^|_)amount($|_)/;

/** `{amount: 1000, status: 'posted'}` → `amount=10.00; status=posted`: readable in one cell. */
function describeSide(side: Record<string, unknown> | null | undefined, currency: string | null) {
  if (!side) return '';
  return Object.entries(side)
    .map(([k, v]) => {
      const text =
        typeof v === 'number' && currency && AMOUNT_KEY.test(k) && Number.isSafeInteger(v)
          ? decimalAmount(v, currency)
          : v === null || typeof v !== 'object'
            ? String(v)
            : JSON.stringify(v);
      return `${k}=${text}`;
    })
    .join('; ');
}

/**
 * A spreadsheet runs a cell starting with = + - @ (or tab / CR, which some strip first) as a
 * formula (OWASP "CSV injection"). Such text cells get a leading apostrophe, which spreadsheets
 * show as text; numbers we wrote ourselves (a negative amount) are left alone.
 */
export function neutralise(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

function row(m: ReportMismatch): Record<CsvColumn, string> {
  const cur = m.currency;
  return {
    change: m.change,
    id: m.id,
    kind: m.kind,
    severity: m.severity,
    status: m.status,
    object_type: m.object_type,
    object_id: m.object_id ?? '',
    ledger_entry_id: m.ledger_entry_id ?? '',
    account: m.account ?? 'platform',
    currency: cur ? cur.toUpperCase() : '',
    amount_at_risk: m.amount_at_risk !== null && cur ? decimalAmount(m.amount_at_risk, cur) : '',
    amount_at_risk_minor: m.amount_at_risk === null ? '' : String(m.amount_at_risk),
    expected: describeSide(m.expected, cur),
    actual: describeSide(m.actual, cur),
    // First seen: the object's own time; open since: when the mismatch was raised (JSON's
    // object_first_seen_at and first_seen_at).
    first_seen_at: m.object_first_seen_at ?? m.first_seen_at,
    open_since: m.first_seen_at,
    last_seen_at: m.last_seen_at,
    resolved_at: m.resolved_at ?? '',
    resolution_reason: m.resolution_reason ?? '',
    age_days: (m.age_seconds / 86_400).toFixed(1),
    open_days: ((m.open_seconds ?? m.age_seconds) / 86_400).toFixed(1),
    acknowledged: m.acknowledged ? 'yes' : 'no',
    message: m.message,
  };
}

const NUMERIC: ReadonlySet<CsvColumn> = new Set([
  'amount_at_risk',
  'amount_at_risk_minor',
  'age_days',
  'open_days',
]);

/** The CSV cells of one mismatch, in column order, neutralised where a spreadsheet would bite. */
export function csvCells(m: ReportMismatch): string[] {
  const r = row(m);
  return CSV_COLUMNS.map((c) => (NUMERIC.has(c) ? r[c] : neutralise(r[c])));
}

/**
 * RFC 4180: CRLF line ends, a header row, fields quoted when they hold a comma, quote or line
 * break, quotes doubled. Null is an empty field.
 */
export function renderCsv(body: ReportBody): string {
  const rows = [...body.open, ...body.resolved].map(csvCells);
  return stringify([[...CSV_COLUMNS], ...rows], { record_delimiter: '\r\n' });
}
