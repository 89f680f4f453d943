import { MISMATCH_KINDS, SEVERITIES } from './types.js';
import type { Mismatch, MismatchKind, Severity } from './types.js';

/** Counts and money at risk over a set of mismatches, for reports and logs. */
export interface MismatchSummary {
  total: number;
  byKind: Record<MismatchKind, number>;
  bySeverity: Record<Severity, number>;
  /** Σ amountAtRisk per lowercase currency, integer minor units. */
  amountAtRiskByCurrency: Record<string, number>;
}

export function summarizeMismatches(ms: readonly Mismatch[]): MismatchSummary {
  const byKind = Object.fromEntries(MISMATCH_KINDS.map((k) => [k, 0])) as Record<
    MismatchKind,
    number
  >;
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const amountAtRiskByCurrency: Record<string, number> = {};
  for (const m of ms) {
    byKind[m.kind] += 1;
    bySeverity[m.severity] += 1;
    if (m.currency !== null && m.amountAtRisk !== null) {
      const c = m.currency.toLowerCase();
      amountAtRiskByCurrency[c] = (amountAtRiskByCurrency[c] ?? 0) + m.amountAtRisk;
    }
  }
  return { total: ms.length, byKind, bySeverity, amountAtRiskByCurrency };
}
