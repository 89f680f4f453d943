import { describe, expect, it } from 'vitest';
import { pendingLookups, stripeLookupFor } from '../../../src/domain/lookup.js';
import { reconcile } from '../../../src/domain/reconcile.js';
import type { LedgerEntry, ReconRules } from '../../../src/domain/types.js';
import { DAY, HOUR, MIN, T0, creditRev, entry, rev, rules, unit } from './builders.js';

/** Confirm before raising: the rules the service runs with. */
const confirm: ReconRules = { ...rules, confirmMissingInStripe: true };
const kinds = (u: ReturnType<typeof unit>, r: ReconRules = confirm, now = T0) =>
  reconcile(u, r, now).map((m) => m.kind);

/** An entry two days old naming a credit reversal we never projected. */
const old = (over: Partial<LedgerEntry> = {}) =>
  entry({
    kind: 'credit_reversal',
    stripeId: 'credrev_9',
    parentId: 'rc_1',
    occurredAtMs: T0 - 2 * DAY,
    updatedAtMs: T0 - MIN,
    ...over,
  });

describe('missing_in_stripe: confirm before raising', () => {
  it.each([
    { name: 'unknown id past grace, not looked up yet: held', ledger: [old()], want: [] },
    {
      name: 'unknown id past grace, 404 after its time: raised',
      ledger: [old({ absentConfirmedAtMs: T0 - MIN })],
      want: ['missing_in_stripe'],
    },
    {
      name: 'confirmation older than the entry: stale, held',
      ledger: [old({ absentConfirmedAtMs: T0 - 3 * DAY })],
      want: [],
    },
    {
      name: 'inside grace, even confirmed: not raised',
      ledger: [old({ occurredAtMs: T0 - 5 * MIN, absentConfirmedAtMs: T0 - MIN })],
      want: [],
    },
    {
      name: 'confirmation off: raised past grace without asking',
      ledger: [old()],
      rules: rules,
      want: ['missing_in_stripe'],
    },
    {
      name: 'transfer reversal id without a parent cannot be fetched: raised past grace',
      ledger: [entry({ stripeId: 'trr_9', parentId: null, occurredAtMs: T0 - DAY })],
      want: ['missing_in_stripe'],
    },
    {
      name: 'id of another kind (typo) cannot be fetched: raised past grace',
      ledger: [old({ stripeId: 'debrev_9' })],
      want: ['missing_in_stripe'],
    },
    {
      name: 'entry naming nothing to ask about: raised past grace',
      ledger: [old({ stripeId: null, parentId: null })],
      want: ['missing_in_stripe'],
    },
    {
      name: 'parent-only entry, parent has another reversal, not looked up: held',
      reversals: [creditRev({ id: 'credrev_1', amount: 500 })],
      ledger: [old({ stripeId: null })],
      want: ['missing_in_ledger'],
    },
    {
      name: 'parent-only entry, parent looked up after its time: raised',
      reversals: [creditRev({ id: 'credrev_1', amount: 500 })],
      ledger: [old({ stripeId: null, absentConfirmedAtMs: T0 - MIN })],
      want: ['missing_in_ledger', 'missing_in_stripe'],
    },
    {
      name: 'named reversal projected on another account: raised at once, nothing to ask',
      reversals: [creditRev({ id: 'credrev_9', account: 'acct_B' })],
      ledger: [old({ account: 'acct_A' })],
      want: ['missing_in_ledger', 'missing_in_stripe'],
    },
  ])('$name', ({ ledger, reversals = [], rules: r = confirm, want }) => {
    expect(kinds(unit({ kind: 'credit_reversal', reversals, ledger }), r)).toEqual(want);
  });

  it('says when Stripe confirmed the absence', () => {
    const [m] = reconcile(unit({ ledger: [old({ absentConfirmedAtMs: T0 - MIN })] }), confirm, T0);
    expect(m!.message).toContain(
      `confirmed absent in Stripe at ${new Date(T0 - MIN).toISOString()}`,
    );
    expect(m!.fingerprint).toBe('missing_in_stripe:credrev_9:le_1');
  });

  it('a corrected amount re-evaluates at once and keeps the confirmation', () => {
    const r = creditRev({ id: 'credrev_9', createdMs: T0 - 2 * DAY });
    const e = old({ amount: 700, updatedAtMs: T0 });
    expect(kinds(unit({ reversals: [r], ledger: [e] }))).toEqual(['amount_mismatch']);
    expect(kinds(unit({ reversals: [r], ledger: [{ ...e, amount: 1000 }] }))).toEqual([]);
  });
});

describe('pendingLookups', () => {
  it('asks for unmatched entries only, due when their grace ends', () => {
    const u = unit({
      kind: 'transfer_reversal',
      reversals: [rev({ id: 'trr_1' })],
      ledger: [
        entry({ id: 'le_matched' }),
        entry({ id: 'le_lost', stripeId: 'trr_2', occurredAtMs: T0 - HOUR }),
        entry({ id: 'le_parent', stripeId: null, amount: 77, occurredAtMs: T0 - 5 * MIN }),
        entry({ id: 'le_done', stripeId: 'trr_3', absentConfirmedAtMs: T0 }),
      ],
    });
    expect(pendingLookups(u, rules)).toEqual([
      {
        entryId: 'le_lost',
        target: {
          type: 'reversal',
          kind: 'transfer_reversal',
          id: 'trr_2',
          parentId: 'tr_1',
          account: null,
        },
        dueAtMs: T0 - HOUR + rules.graceMs,
        neededSinceMs: T0 - HOUR,
      },
      {
        entryId: 'le_parent',
        target: { type: 'parent', kind: 'transfer_reversal', id: 'tr_1', account: null },
        dueAtMs: T0 - 5 * MIN + rules.graceMs,
        neededSinceMs: T0 - 5 * MIN,
      },
    ]);
  });

  it('stripeLookupFor: nothing to ask when the named reversal is projected', () => {
    expect(stripeLookupFor(entry(), new Set(['trr_1']))).toBeNull();
    expect(stripeLookupFor(entry({ account: 'acct_1' }), new Set())).toEqual({
      type: 'reversal',
      kind: 'transfer_reversal',
      id: 'trr_1',
      parentId: 'tr_1',
      account: 'acct_1',
    });
  });
});
