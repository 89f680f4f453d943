import { describeDuration } from '../domain/duration.js';
import { formatMoney } from '../domain/money.js';
import type { ReportBody, ReportMismatch } from './schema.js';

/** Shared wording of the human formats (Markdown, HTML), so both say the same numbers. */

export const money = (amount: number | null, currency: string | null): string =>
  amount === null || !currency ? '' : formatMoney(amount, currency);

export const age = (m: Pick<ReportMismatch, 'age_seconds'>): string =>
  describeDuration(m.age_seconds * 1000);

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
