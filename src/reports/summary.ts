import type { SweepSummary } from '../alerts/messages.js';
import type { ReportBody } from './schema.js';

/** The few numbers of a report that a `sweep.completed` alert carries. */
export function reportSummary(body: ReportBody): SweepSummary {
  return {
    sweep_run_id: body.sweep_run_id,
    report_id: body.id,
    open: body.totals.open,
    new: body.totals.new,
    resolved: body.totals.resolved,
    open_by_severity: { ...body.open_by_severity },
    open_by_kind: { ...body.open_by_kind },
    amount_at_risk: body.amount_at_risk.map((a) => ({ currency: a.currency, amount: a.amount })),
    objects_fetched: body.totals.objects_fetched,
    events_recovered: body.totals.events_recovered,
  };
}
