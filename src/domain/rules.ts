import { parseDuration } from './duration.js';
import type { ReconRules } from './types.js';

/** DESIGN.md defaults: grace 15m, credit reversals stuck after 5d, debit after 14d, window 7d. */
export const DEFAULT_RECON_RULES: Readonly<ReconRules> = Object.freeze({
  graceMs: parseDuration('15m'),
  stuckAfterMs: Object.freeze({
    credit_reversal: parseDuration('5d'),
    debit_reversal: parseDuration('14d'),
  }),
  matchWindowMs: parseDuration('7d'),
  metadataKey: 'ledger_entry_id',
});
