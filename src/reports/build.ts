import { randomBytes } from 'node:crypto';
import { Prisma, rawRows, transaction, type PrismaClient } from '../db/prisma.js';
import { MISMATCH_KINDS, SEVERITIES, type MismatchKind, type Severity } from '../domain/types.js';
import {
  MISMATCH_COLUMNS,
  toApiMismatch,
  type MismatchRow,
} from '../reconciliation/mismatch-record.js';
import { ReportBody, type ReportMismatch } from './schema.js';

/** The sweep numbers a report repeats (a row of `sweep_runs`). */
export interface ReportSweepInput {
  id: string;
  trigger: string;
  account: string | null;
  since: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  objects_fetched: number;
  events_recovered: number;
  units_done: number;
}

export interface BuildReportOptions {
  sweep?: ReportSweepInput | null;
  /** Reports shown in the chart, this one included. @defaultValue 30 */
  historyLimit?: number;
}

/** A mismatch as read here: with {@link MISMATCH_COLUMNS}, so `object_first_seen_at` is set. */
type Row = MismatchRow & { object_first_seen_at: Date };

const asRecord = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

export const newReportId = () => `rpt_${randomBytes(12).toString('hex')}`;

/**
 * Reads the mismatches and the previous report and returns the body of a new report (not yet
 * stored). "New" and "resolved" are relative to the previous report's `created_at`; the boundary
 * is the database clock, the same clock that stamps the mismatches.
 */
export async function buildReportBody(
  prisma: PrismaClient,
  opts: BuildReportOptions = {},
): Promise<ReportBody> {
  const historyLimit = opts.historyLimit ?? 30;
  // One snapshot for every read below, so the counts add up even while reconciliation runs.
  const { now, prev, open, resolved, history } = await transaction(
    prisma,
    async (tx) => {
      const now = (await tx.$queryRaw<Array<{ now: Date }>>`SELECT now() AS now`)[0]!.now;
      const prev = await tx.report.findFirst({
        select: { id: true, created_at: true },
        orderBy: [{ created_at: 'desc' }, { id: 'desc' }],
      });
      const cols = Prisma.raw(MISMATCH_COLUMNS);
      const open = await rawRows<Row>(
        tx,
        Prisma.sql`SELECT ${cols} FROM mismatches m WHERE m.status = 'open'
          ORDER BY array_position(${SEVERITIES}::text[], m.severity) DESC, m.first_seen_at, m.id`,
      );
      const resolved = await rawRows<Row>(
        tx,
        Prisma.sql`SELECT ${cols} FROM mismatches m
          WHERE m.status = 'resolved' AND m.resolved_at <= ${now}::timestamptz
            AND (${prev?.created_at ?? null}::timestamptz IS NULL OR m.resolved_at > ${prev?.created_at ?? null}::timestamptz)
          ORDER BY m.resolved_at, m.id`,
      );
      const history = (
        await tx.$queryRaw<Array<{ id: string; created_at: Date; open: number | null }>>`
          SELECT id, created_at, (body->'totals'->>'open')::int AS open
            FROM reports ORDER BY created_at DESC, id DESC LIMIT ${Math.max(0, historyLimit - 1)}`
      ).reverse();
      return { now, prev, open, resolved, history };
    },
    { isolationLevel: 'RepeatableRead', readOnly: true },
  );

  const id = newReportId();
  const isNew = (r: Row) => !prev || r.first_seen_at.getTime() > prev.created_at.getTime();
  // The mismatch as the API and the alerts show it (one mapping, reconciliation's), less what a
  // report does not carry; the acknowledgement becomes a flag, expected/actual objects or null.
  const item = (r: Row, change: ReportMismatch['change']): ReportMismatch => {
    const {
      object: _object,
      reopened_count: _reopened,
      acknowledged_at,
      acknowledged_note: _note,
      expected,
      actual,
      ...m
    } = toApiMismatch(r);
    const until = r.resolved_at ?? now;
    return {
      ...m,
      change,
      expected: asRecord(expected),
      actual: asRecord(actual),
      age_seconds: secondsUntil(r.object_first_seen_at, until),
      open_seconds: secondsUntil(r.first_seen_at, until),
      acknowledged: acknowledged_at !== null,
    };
  };
  const openItems = open.map((r) => item(r, isNew(r) ? 'new' : 'open'));
  const resolvedItems = resolved.map((r) => item(r, 'resolved'));

  const byKind = Object.fromEntries(MISMATCH_KINDS.map((k) => [k, 0])) as Record<
    MismatchKind,
    number
  >;
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const m of openItems) {
    byKind[m.kind] += 1;
    bySeverity[m.severity] += 1;
  }
  const sweep = opts.sweep ?? null;
  const body: ReportBody = {
    version: 1,
    id,
    created_at: now.toISOString(),
    sweep_run_id: sweep?.id ?? null,
    previous_report: prev ? { id: prev.id, created_at: prev.created_at.toISOString() } : null,
    sweep: sweep
      ? {
          trigger: sweep.trigger,
          account: sweep.account,
          since: sweep.since?.toISOString() ?? null,
          started_at: sweep.started_at?.toISOString() ?? null,
          finished_at: (sweep.finished_at ?? now).toISOString(),
          objects_fetched: sweep.objects_fetched,
          events_recovered: sweep.events_recovered,
          units_reconciled: sweep.units_done,
        }
      : null,
    totals: {
      open: openItems.length,
      new: openItems.filter((m) => m.change === 'new').length,
      resolved: resolvedItems.length,
      acknowledged: openItems.filter((m) => m.acknowledged).length,
      objects_fetched: sweep?.objects_fetched ?? 0,
      events_recovered: sweep?.events_recovered ?? 0,
    },
    open_by_kind: byKind,
    open_by_severity: bySeverity,
    open_by_account: byAccount(openItems),
    amount_at_risk: sumMoney(openItems),
    open: openItems,
    resolved: resolvedItems,
    history: [
      ...history.map((h) => ({
        report_id: h.id,
        created_at: h.created_at.toISOString(),
        open: h.open ?? 0,
      })),
      { report_id: id, created_at: now.toISOString(), open: openItems.length },
    ],
  };
  return ReportBody.parse(body);
}

const secondsUntil = (from: Date, to: Date) =>
  Math.max(0, Math.floor((to.getTime() - from.getTime()) / 1000));

export function sumMoney(items: readonly Pick<ReportMismatch, 'currency' | 'amount_at_risk'>[]) {
  const sums = new Map<string, { amount: number; count: number }>();
  for (const m of items) {
    if (!m.currency || m.amount_at_risk === null) continue;
    const s = sums.get(m.currency) ?? { amount: 0, count: 0 };
    s.amount += m.amount_at_risk;
    s.count += 1;
    sums.set(m.currency, s);
  }
  return (
    [...sums.entries()]
      .map(([currency, s]) => ({ currency, amount: s.amount, count: s.count }))
      // Amounts in different currencies do not compare: a stable order by currency code.
      .sort((a, b) => a.currency.localeCompare(b.currency))
  );
}

function byAccount(items: readonly ReportMismatch[]) {
  const groups = new Map<string | null, ReportMismatch[]>();
  for (const m of items) groups.set(m.account, [...(groups.get(m.account) ?? []), m]);
  return [...groups.entries()]
    .map(([account, ms]) => ({ account, count: ms.length, amount_at_risk: sumMoney(ms) }))
    .sort((a, b) => b.count - a.count || String(a.account).localeCompare(String(b.account)));
}
