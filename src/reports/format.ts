import { describeDuration } from '../domain/duration.js';
import { formatMoney } from '../domain/money.js';
import type { ReportBody, ReportMismatch } from './schema.js';

/** Shared wording of the human formats (Markdown, HTML), so both say the same numbers. */

export const money = (amount: number | null, currency: string | null): string =>
  amount === null || !currency ? '' : formatMoney(amount, currency);

const minute = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/**
 * The age the message speaks of, from when the object was first seen (a reversal "processing for
 * 9 days" is 9 days old, even if the mismatch opened a minute ago). When the mismatch opened
 * later than that, both times are given: `9 days — first seen 2026-11-25 03:57 UTC, open since
 * 2026-12-04 03:57 UTC`.
 */
export function age(
  m: Pick<
    ReportMismatch,
    'age_seconds' | 'open_seconds' | 'object_first_seen_at' | 'first_seen_at'
  >,
): string {
  const aged = describeDuration(m.age_seconds * 1000);
  if (m.open_seconds === undefined || !m.object_first_seen_at) return aged;
  if (aged === describeDuration(m.open_seconds * 1000)) return aged;
  return `${aged} — first seen ${minute(m.object_first_seen_at)}, open since ${minute(m.first_seen_at)}`;
}

/** What the human formats say under their lists: how to read age and amount at risk. */
export const READING_NOTES = [
  'Age runs from when the object was first seen: its creation in Stripe, or the ledger entry’s time when Stripe has no such object. "Open since" is when the mismatch was raised, shown when it differs.',
  'Amount at risk is the money that moved differently from what the ledger expects: a missing or failed reversal’s amount, or the difference of an amount mismatch. It is zero when the ledger expects the reversal to be lost or canceled: no money was to move, so none is at risk even though the message names the entry’s amount.',
] as const;

/**
 * A mismatch's amount at risk as the lists show it. Zero for an entry that expects the reversal
 * to be lost or canceled says why, next to a message naming the entry's amount (the examples'
 * dispute-ach-0092: "$0.00" beside "of $150.00").
 */
export function riskText(
  m: Pick<ReportMismatch, 'amount_at_risk' | 'currency' | 'expected'>,
): string {
  const text = money(m.amount_at_risk, m.currency);
  const status = m.expected?.status;
  return m.amount_at_risk === 0 && (status === 'lost' || status === 'canceled')
    ? `${text} (the ledger expects it ${status}: no money was to move)`
    : text;
}

export const moneyList = (items: readonly { amount: number; currency: string }[]): string =>
  items.length ? items.map((a) => formatMoney(a.amount, a.currency)).join(', ') : 'none';

export function title(body: ReportBody): string {
  return `Reconciliation drift report — ${body.created_at.slice(0, 16).replace('T', ' ')} UTC`;
}

export function sinceText(body: ReportBody): string {
  return body.previous_report
    ? `since the previous report (${body.previous_report.created_at.slice(0, 16).replace('T', ' ')} UTC)`
    : 'first report';
}

/** The key numbers, in order, as label/value pairs. */
export function keyNumbers(body: ReportBody): [string, string][] {
  return [
    ['Open mismatches', String(body.totals.open)],
    ['New', String(body.totals.new)],
    ['Resolved', String(body.totals.resolved)],
    ['Acknowledged (still open)', String(body.totals.acknowledged)],
    ['Amount at risk', moneyList(body.amount_at_risk)],
    ['Objects fetched', String(body.totals.objects_fetched)],
    ['Events recovered', String(body.totals.events_recovered)],
  ];
}

/** Rows listed in full by the human formats; the rest are counted (the CSV has them all). */
export const LIST_LIMIT = 200;
