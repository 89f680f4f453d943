import type { MismatchKind, ReconRules, Severity } from './types.js';
import { SEVERITIES } from './types.js';

/**
 * Default severity per mismatch kind; `rules.severity` overrides per kind. Money that is gone
 * (`reversal_lost`) or cannot exist (`over_reversed`) is critical; money that moved without the
 * two sides agreeing is high; bookkeeping that is late or doubled is medium.
 */
export const DEFAULT_SEVERITY: Readonly<Record<MismatchKind, Severity>> = Object.freeze({
  missing_in_ledger: 'high',
  missing_in_stripe: 'high',
  amount_mismatch: 'high',
  currency_mismatch: 'high',
  status_mismatch: 'medium',
  stuck_processing: 'medium',
  reversal_lost: 'critical',
  reversal_canceled: 'high',
  over_reversed: 'critical',
  transfer_total_drift: 'medium',
  duplicate_match: 'medium',
});

/** 0 = low … 3 = critical. Alerts re-notify when this rises for a fingerprint. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** One step up, capped at critical. */
export function raiseSeverity(s: Severity, steps = 1): Severity {
  const i = Math.min(SEVERITIES.length - 1, severityRank(s) + steps);
  return SEVERITIES[i] ?? 'critical';
}

/** The configured severity of a kind: the override if any, else the default. */
export function severityFor(kind: MismatchKind, rules: Pick<ReconRules, 'severity'>): Severity {
  return rules.severity?.[kind] ?? DEFAULT_SEVERITY[kind];
}
