import type { Fate, TreasuryRules } from './types.js';

/** `metadata[sim_outcome]` steers one object without custom rules: stuck|canceled|lost|won. */
export const OUTCOME_KEY = 'sim_outcome';

export const DEFAULT_RULES: TreasuryRules = {
  creditReversalPostAfterDays: 1,
  debitReversalCompleteAfterDays: 3,
  debitReversalOutcome: (dr) => (dr.metadata[OUTCOME_KEY] === 'lost' ? 'lost' : 'won'),
  fate: (obj): Fate => {
    const v = obj.metadata[OUTCOME_KEY];
    return v === 'stuck' || v === 'canceled' ? v : 'normal';
  },
};

export function resolveRules(partial: Partial<TreasuryRules> = {}): TreasuryRules {
  const rules = { ...DEFAULT_RULES, ...partial };
  for (const k of ['creditReversalPostAfterDays', 'debitReversalCompleteAfterDays'] as const) {
    if (!(rules[k] >= 0)) throw new RangeError(`rules.${k} must be a number >= 0`);
  }
  return rules;
}
