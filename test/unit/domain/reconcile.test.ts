import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../../src/domain/fingerprint.js';
import { matchUnit } from '../../../src/domain/match.js';
import { reconcile } from '../../../src/domain/reconcile.js';
import { summarizeMismatches } from '../../../src/domain/summary.js';
import type { MismatchKind, ReconRules, ReconUnit } from '../../../src/domain/types.js';
import {
  creditRev,
  DAY,
  debitRev,
  entry,
  HOUR,
  MIN,
  rev,
  rules,
  T0,
  transfer,
  unit,
} from './builders.js';

const kinds = (u: ReconUnit, now = T0, r: ReconRules = rules) =>
  reconcile(u, r, now).map((m) => m.kind);
const only = (u: ReconUnit, now = T0, r: ReconRules = rules) => {
  const ms = reconcile(u, r, now);
  expect(ms).toHaveLength(1);
  return ms[0]!;
};

describe('reconcile: table', () => {
  it.each<{ name: string; u: ReconUnit; now?: number; want: MismatchKind[] }>([
    // Agreement
    {
      name: 'transfer reversal agrees',
      u: unit({ reversals: [rev()], ledger: [entry()], transfer: transfer() }),
      want: [],
    },
    {
      name: 'partial reversals summing exactly to amount_reversed',
      u: unit({
        transfer: transfer({ amount: 10_000, amountReversed: 10_000 }),
        reversals: [
          rev({ id: 'trr_1', amount: 3000 }),
          rev({ id: 'trr_2', amount: 3000 }),
          rev({ id: 'trr_3', amount: 4000 }),
        ],
        ledger: [
          entry({ id: 'le_1', stripeId: 'trr_1', amount: 3000 }),
          entry({ id: 'le_2', stripeId: 'trr_2', amount: 3000 }),
          entry({ id: 'le_3', stripeId: 'trr_3', amount: 4000 }),
        ],
      }),
      want: [],
    },
    {
      name: 'credit reversal posted as expected',
      u: unit({
        reversals: [creditRev()],
        ledger: [entry({ kind: 'credit_reversal', expectedStatus: 'posted' })],
      }),
      want: [],
    },
    {
      name: 'currency case is not a mismatch',
      u: unit({ reversals: [rev({ currency: 'usd' })], ledger: [entry({ currency: 'USD' })] }),
      want: [],
    },

    // Amount / currency
    {
      name: 'amount_mismatch',
      u: unit({ reversals: [rev()], ledger: [entry({ amount: 900 })] }),
      want: ['amount_mismatch'],
    },
    {
      name: 'currency_mismatch, not also amount',
      u: unit({ reversals: [rev()], ledger: [entry({ currency: 'eur' })] }),
      want: ['currency_mismatch'],
    },
    {
      name: 'currency_mismatch with a different amount too',
      u: unit({ reversals: [rev()], ledger: [entry({ currency: 'eur', amount: 920 })] }),
      want: ['currency_mismatch'],
    },

    // Grace: Stripe first
    {
      name: 'Stripe first, inside grace',
      u: unit({ reversals: [rev({ createdMs: T0 - 5 * MIN })] }),
      want: [],
    },
    {
      name: 'Stripe first, past grace',
      u: unit({ reversals: [rev({ createdMs: T0 - 20 * MIN })] }),
      want: ['missing_in_ledger'],
    },
    {
      name: 'Stripe first, exactly at grace',
      u: unit({ reversals: [rev({ createdMs: T0 - 15 * MIN })] }),
      want: ['missing_in_ledger'],
    },
    // Grace: ledger first
    {
      name: 'ledger first, inside grace',
      u: unit({ ledger: [entry({ occurredAtMs: T0 - 5 * MIN, updatedAtMs: T0 - 5 * MIN })] }),
      want: [],
    },
    {
      name: 'ledger first, past grace',
      u: unit({ ledger: [entry()] }),
      want: ['missing_in_stripe'],
    },
    {
      // Grace runs from the entry's own time: an import (or a correction) of an old entry does
      // not restart it.
      name: 'old entry imported or rewritten just now: flagged at once',
      u: unit({ ledger: [entry({ occurredAtMs: T0 - DAY, updatedAtMs: T0 - MIN })] }),
      want: ['missing_in_stripe'],
    },
    {
      name: 'entry without occurred_at uses updated_at',
      u: unit({ ledger: [entry({ occurredAtMs: null, updatedAtMs: T0 - MIN })] }),
      want: [],
    },
    {
      name: 'entry without occurred_at, first written long ago, rewritten now: created_at counts',
      u: unit({
        ledger: [entry({ occurredAtMs: null, createdAtMs: T0 - DAY, updatedAtMs: T0 - MIN })],
      }),
      want: ['missing_in_stripe'],
    },

    // Stuck
    {
      name: 'credit reversal processing 4 days: fine',
      u: unit({
        reversals: [creditRev({ status: 'processing', createdMs: T0 - 4 * DAY })],
        ledger: [entry({ kind: 'credit_reversal' })],
      }),
      want: [],
    },
    {
      name: 'credit reversal processing 6 days: stuck',
      u: unit({
        reversals: [creditRev({ status: 'processing', createdMs: T0 - 6 * DAY })],
        ledger: [entry({ kind: 'credit_reversal', expectedStatus: 'posted' })],
      }),
      want: ['stuck_processing'],
    },
    {
      name: 'debit reversal processing 6 days: fine (14d)',
      u: unit({
        reversals: [debitRev({ status: 'processing', createdMs: T0 - 6 * DAY })],
        ledger: [entry({ kind: 'debit_reversal' })],
      }),
      want: [],
    },
    {
      name: 'stuck reversal that then posts: clean',
      u: unit({
        reversals: [creditRev({ status: 'posted', createdMs: T0 - 6 * DAY })],
        ledger: [entry({ kind: 'credit_reversal', expectedStatus: 'posted' })],
      }),
      want: [],
    },

    // Lost / canceled / status
    {
      name: 'lost debit reversal, ledger expected won',
      u: unit({
        reversals: [debitRev({ status: 'lost', statusRaw: 'failed', initialCreditGranted: true })],
        ledger: [entry({ kind: 'debit_reversal', expectedStatus: 'won' })],
      }),
      want: ['reversal_lost'],
    },
    {
      name: 'lost flags at once, even inside grace',
      u: unit({ reversals: [debitRev({ status: 'lost', createdMs: T0 - MIN })] }),
      want: ['reversal_lost'],
    },
    {
      name: 'ledger expects lost, Stripe lost',
      u: unit({
        reversals: [debitRev({ status: 'lost' })],
        ledger: [entry({ kind: 'debit_reversal', expectedStatus: 'lost' })],
      }),
      want: [],
    },
    {
      name: 'ledger expects posted, Stripe canceled: reversal_canceled once',
      u: unit({
        reversals: [creditRev({ status: 'canceled' })],
        ledger: [entry({ kind: 'credit_reversal', expectedStatus: 'posted' })],
      }),
      want: ['reversal_canceled'],
    },
    {
      name: 'ledger expects canceled, Stripe canceled',
      u: unit({
        reversals: [creditRev({ status: 'canceled' })],
        ledger: [entry({ kind: 'credit_reversal', expectedStatus: 'canceled' })],
      }),
      want: [],
    },
    {
      name: 'ledger expects lost, Stripe canceled: canceled only',
      u: unit({
        reversals: [debitRev({ status: 'canceled' })],
        ledger: [entry({ kind: 'debit_reversal', expectedStatus: 'lost' })],
      }),
      want: ['reversal_canceled'],
    },
    {
      name: 'no expected status still raises canceled',
      u: unit({
        reversals: [creditRev({ status: 'canceled' })],
        ledger: [entry({ kind: 'credit_reversal' })],
      }),
      want: ['reversal_canceled'],
    },
    {
      name: 'status_mismatch: expects canceled, Stripe posted',
      u: unit({
        reversals: [creditRev()],
        ledger: [entry({ kind: 'credit_reversal', expectedStatus: 'canceled' })],
      }),
      want: ['status_mismatch'],
    },
    {
      name: 'status_mismatch: expects lost, Stripe won',
      u: unit({
        reversals: [debitRev()],
        ledger: [entry({ kind: 'debit_reversal', expectedStatus: 'lost' })],
      }),
      want: ['status_mismatch'],
    },
    {
      name: 'expects processing, Stripe posted: ledger just behind',
      u: unit({
        reversals: [creditRev()],
        ledger: [entry({ kind: 'credit_reversal', expectedStatus: 'processing' })],
      }),
      want: [],
    },
    {
      name: 'expects posted, Stripe still processing: not yet',
      u: unit({
        reversals: [creditRev({ status: 'processing' })],
        ledger: [entry({ kind: 'credit_reversal', expectedStatus: 'posted' })],
      }),
      want: [],
    },
    {
      name: 'status and amount are separate causes',
      u: unit({
        reversals: [creditRev()],
        ledger: [entry({ kind: 'credit_reversal', expectedStatus: 'canceled', amount: 1 })],
      }),
      want: ['amount_mismatch', 'status_mismatch'],
    },

    // Matching
    {
      name: 'metadata-key match',
      u: unit({
        reversals: [rev({ metadata: { ledger_entry_id: 'le_1' } })],
        ledger: [entry({ stripeId: null, parentId: null, occurredAtMs: T0 - 30 * DAY })],
      }),
      want: [],
    },
    {
      name: 'metadata match then amount differs',
      u: unit({
        reversals: [rev({ metadata: { ledger_entry_id: 'le_1' } })],
        ledger: [entry({ stripeId: null, amount: 999 })],
      }),
      want: ['amount_mismatch'],
    },
    {
      name: 'fallback match within the window',
      u: unit({
        reversals: [rev()],
        ledger: [entry({ stripeId: null, occurredAtMs: T0 - 6 * DAY })],
      }),
      want: [],
    },
    {
      name: 'fallback outside the window',
      u: unit({
        reversals: [rev()],
        ledger: [entry({ stripeId: null, occurredAtMs: T0 - 8 * DAY - HOUR })],
      }),
      want: ['missing_in_ledger', 'missing_in_stripe'],
    },
    {
      name: 'fallback needs the same parent',
      u: unit({ reversals: [rev()], ledger: [entry({ stripeId: null, parentId: 'tr_2' })] }),
      want: ['missing_in_ledger', 'missing_in_stripe'],
    },
    {
      name: 'fallback needs the same currency',
      u: unit({ reversals: [rev()], ledger: [entry({ stripeId: null, currency: 'eur' })] }),
      want: ['missing_in_ledger', 'missing_in_stripe'],
    },
    {
      name: 'an entry matched by id is not re-used by the fallback',
      u: unit({
        reversals: [rev({ id: 'trr_1' }), rev({ id: 'trr_2' })],
        ledger: [entry({ stripeId: 'trr_1' })],
      }),
      want: ['missing_in_ledger'],
    },
    {
      name: 'accounts both set and different: no match',
      u: unit({ reversals: [rev({ account: 'acct_A' })], ledger: [entry({ account: 'acct_B' })] }),
      want: ['missing_in_ledger', 'missing_in_stripe'],
    },
    {
      name: 'account only on one side: match',
      u: unit({ reversals: [rev({ account: 'acct_A' })], ledger: [entry({ account: null })] }),
      want: [],
    },
    {
      name: 'duplicate_match: two entries name one reversal',
      u: unit({
        transfer: transfer(),
        reversals: [rev()],
        ledger: [entry({ id: 'le_1' }), entry({ id: 'le_2' })],
      }),
      want: ['duplicate_match'],
    },
    {
      name: 'duplicate_match: id match plus metadata match',
      u: unit({
        reversals: [rev({ metadata: { ledger_entry_id: 'le_2' } })],
        ledger: [entry({ id: 'le_1' }), entry({ id: 'le_2', stripeId: null })],
      }),
      want: ['duplicate_match'],
    },
    {
      name: 'duplicate inside grace (of the newest claim) waits',
      u: unit({
        reversals: [rev()],
        ledger: [
          entry({ id: 'le_1' }),
          entry({ id: 'le_2', occurredAtMs: T0 - MIN, updatedAtMs: T0 - MIN }),
        ],
      }),
      want: [],
    },
    {
      name: 'two old claims imported just now: duplicate at once',
      u: unit({
        reversals: [rev({ createdMs: T0 - 20 * DAY })],
        ledger: [
          entry({ id: 'le_1', occurredAtMs: T0 - 20 * DAY, updatedAtMs: T0 }),
          entry({ id: 'le_2', occurredAtMs: T0 - 20 * DAY, updatedAtMs: T0 }),
        ],
      }),
      want: ['duplicate_match'],
    },

    // Transfer totals
    {
      name: 'over_reversed, not also drift',
      u: unit({
        transfer: transfer({ amount: 1000, amountReversed: 1000 }),
        reversals: [rev({ id: 'trr_1', amount: 600 }), rev({ id: 'trr_2', amount: 600 })],
        ledger: [
          entry({ id: 'le_1', stripeId: 'trr_1', amount: 600 }),
          entry({ id: 'le_2', stripeId: 'trr_2', amount: 600 }),
        ],
      }),
      want: ['over_reversed'],
    },
    {
      name: 'drift: Stripe counts more than projected',
      u: unit({
        transfer: transfer({ amountReversed: 2000 }),
        reversals: [rev()],
        ledger: [entry()],
      }),
      want: ['transfer_total_drift'],
    },
    {
      name: 'drift: the ledger names the unsynced reversal — one row, not two',
      u: unit({
        transfer: transfer({ amountReversed: 2000 }),
        reversals: [rev()],
        ledger: [entry(), entry({ id: 'le_2', stripeId: 'trr_2' })],
      }),
      want: ['transfer_total_drift'],
    },
    {
      name: 'drift: projected more than Stripe counts',
      u: unit({
        transfer: transfer({ amountReversed: 1000 }),
        reversals: [rev({ id: 'trr_1' }), rev({ id: 'trr_2' })],
        ledger: [
          entry({ id: 'le_1', stripeId: 'trr_1' }),
          entry({ id: 'le_2', stripeId: 'trr_2' }),
        ],
      }),
      want: ['transfer_total_drift'],
    },
    {
      // Our write time is not evidence: a sweep re-fetching an old transfer must not hide drift.
      name: 'drift on an old transfer re-fetched just now: flagged at once',
      u: unit({
        transfer: transfer({ amountReversed: 2000, updatedMs: T0 - MIN }),
        reversals: [rev()],
        ledger: [entry()],
      }),
      want: ['transfer_total_drift'],
    },
    {
      name: 'drift waits while the newest reversal is fresh',
      u: unit({
        transfer: transfer({ amountReversed: 2000 }),
        reversals: [rev({ createdMs: T0 - MIN })],
        ledger: [entry()],
      }),
      want: [],
    },
    {
      name: 'drift waits while the transfer itself is fresh',
      u: unit({
        transfer: transfer({ amountReversed: 2000, createdMs: T0 - 2 * MIN }),
        reversals: [rev({ createdMs: T0 - 2 * MIN })],
        ledger: [entry()],
      }),
      want: [],
    },
    {
      name: 'ledger total off, explained by amount_mismatch: no drift',
      u: unit({ transfer: transfer(), reversals: [rev()], ledger: [entry({ amount: 1500 })] }),
      want: ['amount_mismatch'],
    },
    {
      name: 'ledger total off, explained by missing_in_stripe: no drift',
      u: unit({
        transfer: transfer(),
        reversals: [rev()],
        ledger: [entry(), entry({ id: 'le_2', stripeId: 'trr_9', amount: 700 })],
      }),
      want: ['missing_in_stripe'],
    },
    {
      name: 'ledger total short, explained by missing_in_ledger: no drift',
      u: unit({
        transfer: transfer({ amountReversed: 2000 }),
        reversals: [rev({ id: 'trr_1' }), rev({ id: 'trr_2' })],
        ledger: [entry()],
      }),
      want: ['missing_in_ledger'],
    },
    {
      name: 'ledger in another currency: currency_mismatch only',
      u: unit({
        transfer: transfer(),
        reversals: [rev()],
        ledger: [entry({ currency: 'eur', amount: 920 })],
      }),
      want: ['currency_mismatch'],
    },
    {
      name: 'drift plus an unrelated entry whose amount does not cover it',
      u: unit({
        transfer: transfer({ amountReversed: 2000 }),
        reversals: [rev()],
        ledger: [entry(), entry({ id: 'le_2', stripeId: 'trr_2', amount: 400 })],
      }),
      want: ['missing_in_stripe', 'transfer_total_drift'],
    },
  ])('$name', ({ u, now = T0, want }) => {
    expect(kinds(u, now)).toEqual([...want].sort((a, b) => (a < b ? -1 : 1)));
  });
});

describe('reconcile: details', () => {
  it('stuck escalates from medium to high past twice its threshold', () => {
    const u = (age: number) =>
      unit({
        reversals: [creditRev({ status: 'processing', createdMs: T0 - age })],
        ledger: [entry({ kind: 'credit_reversal' })],
      });
    expect(only(u(6 * DAY)).severity).toBe('medium');
    expect(only(u(11 * DAY)).severity).toBe('high');
    const m = only(u(6 * DAY));
    expect(m.fingerprint).toBe(only(u(11 * DAY)).fingerprint);
    expect(m).toMatchObject({ objectId: 'credrev_1', ledgerEntryId: 'le_1', amountAtRisk: 1000 });
    expect(m.message).toBe(
      'Credit reversal credrev_1 for $10.00 has been processing for 6 days, longer than the expected 5 days.',
    );
  });

  it('a stuck reversal that then posts: the mismatch disappears', () => {
    const ledger = [entry({ kind: 'credit_reversal', expectedStatus: 'posted' })];
    const created = T0 - 6 * DAY;
    const stuck = unit({
      reversals: [creditRev({ status: 'processing', createdMs: created })],
      ledger,
    });
    expect(kinds(stuck)).toEqual(['stuck_processing']);
    const posted = unit({
      reversals: [creditRev({ status: 'posted', createdMs: created })],
      ledger,
    });
    expect(kinds(posted, T0 + HOUR)).toEqual([]);
  });

  it('ledger first, then Stripe: nothing is flagged at any point', () => {
    const e = entry({ occurredAtMs: T0, updatedAtMs: T0 });
    expect(kinds(unit({ ledger: [e] }), T0 + 5 * MIN)).toEqual([]);
    const r = rev({ createdMs: T0 + 10 * MIN });
    expect(kinds(unit({ reversals: [r], ledger: [e] }), T0 + 11 * MIN)).toEqual([]);
    // Had Stripe never answered, the entry would be flagged once its grace ran out.
    expect(kinds(unit({ ledger: [e] }), T0 + 15 * MIN)).toEqual(['missing_in_stripe']);
  });

  it('a severity override sets the base and stuck still escalates from it', () => {
    const r: ReconRules = {
      ...rules,
      severity: { stuck_processing: 'high', amount_mismatch: 'low' },
    };
    const stuck = unit({
      reversals: [debitRev({ status: 'processing', createdMs: T0 - 30 * DAY })],
      ledger: [entry({ kind: 'debit_reversal' })],
    });
    expect(only(stuck, T0, r).severity).toBe('critical');
    expect(only(unit({ reversals: [rev()], ledger: [entry({ amount: 1 })] }), T0, r).severity).toBe(
      'low',
    );
  });

  it('a lost debit reversal with a provisional credit says the credit is taken back', () => {
    const m = only(
      unit({
        reversals: [
          debitRev({
            status: 'lost',
            statusRaw: 'failed',
            amount: 1234,
            initialCreditGranted: true,
          }),
        ],
        ledger: [entry({ kind: 'debit_reversal', amount: 1234, expectedStatus: 'won' })],
      }),
    );
    expect(m).toMatchObject({
      kind: 'reversal_lost',
      severity: 'critical',
      fingerprint: 'reversal_lost:debrev_1:-',
      objectType: 'debit_reversal',
      ledgerEntryId: 'le_1',
      amountAtRisk: 1234,
      expected: { status: 'won' },
      actual: { status: 'lost', status_raw: 'failed' },
    });
    expect(m.message).toContain('$12.34');
    expect(m.message).toContain('provisional credit');
    expect(m.message).toContain('expected it to be won');
  });

  it('an unmatched lost reversal: lost carries the money, missing_in_ledger says 0', () => {
    const ms = reconcile(unit({ reversals: [debitRev({ status: 'lost' })] }), rules, T0);
    expect(ms.map((m) => [m.kind, m.amountAtRisk, m.severity])).toEqual([
      ['missing_in_ledger', 0, 'low'],
      ['reversal_lost', 1000, 'critical'],
    ]);
  });

  it('a currency mismatch reports Stripe amount and both currencies', () => {
    const m = only(
      unit({
        reversals: [rev({ amount: 1234 })],
        ledger: [entry({ amount: 1234, currency: 'eur' })],
      }),
    );
    expect(m).toMatchObject({
      fingerprint: 'currency_mismatch:trr_1:le_1',
      currency: 'usd',
      amountAtRisk: 1234,
      expected: { amount: 1234, currency: 'eur' },
      actual: { amount: 1234, currency: 'usd' },
      message:
        'Transfer reversal trr_1 is $12.34 in Stripe, but ledger entry le_1 records it in EUR (€12.34).',
    });
  });

  it('the fingerprint does not change with the amount', () => {
    const a = only(unit({ reversals: [rev()], ledger: [entry({ amount: 900 })] }));
    const b = only(unit({ reversals: [rev()], ledger: [entry({ amount: 800 })] }));
    expect(a.fingerprint).toBe('amount_mismatch:trr_1:le_1');
    expect(b.fingerprint).toBe(a.fingerprint);
    expect([a.amountAtRisk, b.amountAtRisk]).toEqual([100, 200]);
    expect(a.message).toBe(
      'Transfer reversal trr_1 is $10.00 in Stripe, but ledger entry le_1 records $9.00 (a difference of $1.00).',
    );
  });

  it('missing_in_stripe without a Stripe id has a null object id', () => {
    const m = only(unit({ ledger: [entry({ stripeId: null, amount: 1234, currency: 'eur' })] }));
    expect(m).toMatchObject({
      fingerprint: 'missing_in_stripe:-:le_1',
      objectId: null,
      objectType: 'transfer_reversal',
      currency: 'eur',
      amountAtRisk: 1234,
      actual: null,
    });
    expect(m.message).toBe(
      'Ledger entry le_1 records a transfer reversal of €12.34 against tr_1, but Stripe has no such reversal.',
    );
  });

  it('missing_in_stripe for an entry expecting the loss: $0 at risk, and the message says why', () => {
    const m = only(
      unit({
        ledger: [
          entry({
            kind: 'debit_reversal',
            stripeId: 'debrev_1',
            amount: 15_000,
            expectedStatus: 'lost',
          }),
        ],
      }),
    );
    expect(m).toMatchObject({ kind: 'missing_in_stripe', amountAtRisk: 0 });
    expect(m.message).toContain('of $150.00');
    expect(m.message).toContain(
      'Nothing is at risk: the entry expects it to be lost, so no money was to move',
    );
  });

  it('names both accounts when only the account differs', () => {
    const ms = reconcile(
      unit({ reversals: [rev({ account: 'acct_A' })], ledger: [entry({ account: 'acct_B' })] }),
      rules,
      T0,
    );
    const mis = ms.find((m) => m.kind === 'missing_in_stripe');
    expect(mis?.message).toBe(
      'Ledger entry le_1 records transfer reversal trr_1 for $10.00 on acct_B, but Stripe has trr_1 on acct_A.',
    );
  });

  it('duplicate_match lists the entries and counts the extra as at risk', () => {
    const m = only(
      unit({
        transfer: transfer(),
        reversals: [rev()],
        ledger: [entry({ id: 'le_2' }), entry({ id: 'le_1' })],
      }),
    );
    expect(m).toMatchObject({
      fingerprint: 'duplicate_match:trr_1:-',
      ledgerEntryId: null,
      amountAtRisk: 1000,
      actual: { ledger_entries: 2, ledger_entry_ids: ['le_1', 'le_2'] },
    });
  });

  it('a second reversal claiming the same entry by metadata is flagged as a likely duplicate', () => {
    const ms = reconcile(
      unit({
        reversals: [
          rev({ id: 'trr_b', createdMs: T0 - HOUR, metadata: { ledger_entry_id: 'le_1' } }),
          rev({ id: 'trr_a', createdMs: T0 - 2 * HOUR, metadata: { ledger_entry_id: 'le_1' } }),
        ],
        ledger: [entry({ stripeId: null, parentId: null })],
      }),
      rules,
      T0,
    );
    expect(ms).toHaveLength(1);
    expect(ms[0]).toMatchObject({ kind: 'missing_in_ledger', objectId: 'trr_b' });
    expect(ms[0]?.message).toContain('already matches trr_a');
  });

  it('transfer-level rows point at the transfer', () => {
    const drift = only(
      unit({
        transfer: transfer({ amountReversed: 2000, account: 'acct_1' }),
        reversals: [rev()],
        ledger: [entry(), entry({ id: 'le_2', stripeId: 'trr_2' })],
      }),
    );
    expect(drift).toMatchObject({
      fingerprint: 'transfer_total_drift:tr_1:-',
      objectType: 'transfer',
      objectId: 'tr_1',
      account: 'acct_1',
      amountAtRisk: 1000,
      expected: { amount_reversed: 2000 },
      actual: { projected_total: 1000, ledger_total: 2000, ledger_entries_covering_gap: ['le_2'] },
    });
    expect(drift.message).toContain('$10.00 of reversals are missing from our records');
    const over = only(
      unit({
        transfer: transfer({ amount: 1000, amountReversed: 1000 }),
        reversals: [rev({ id: 'trr_1', amount: 600 }), rev({ id: 'trr_2', amount: 600 })],
        ledger: [
          entry({ id: 'le_1', stripeId: 'trr_1', amount: 600 }),
          entry({ id: 'le_2', stripeId: 'trr_2', amount: 600 }),
        ],
      }),
    );
    expect(over).toMatchObject({
      kind: 'over_reversed',
      severity: 'critical',
      amountAtRisk: 200,
      objectId: 'tr_1',
    });
    expect(over.message).toBe(
      'Transfer tr_1 was for $10.00, but $12.00 of reversals are recorded against it: $2.00 more than was transferred.',
    );
  });

  it('fallback is greedy, closest in time first', () => {
    const m = matchUnit(
      unit({
        reversals: [
          rev({ id: 'trr_1', createdMs: T0 - 3 * DAY }),
          rev({ id: 'trr_2', createdMs: T0 - DAY }),
        ],
        ledger: [
          entry({ id: 'le_a', stripeId: null, occurredAtMs: T0 - DAY - HOUR }),
          entry({ id: 'le_b', stripeId: null, occurredAtMs: T0 - 2 * DAY }),
        ],
      }),
      rules,
    );
    expect(m.matched.map((x) => [x.reversal.id, x.primary.entry.id, x.primary.method])).toEqual([
      ['trr_1', 'le_b', 'fallback'],
      ['trr_2', 'le_a', 'fallback'],
    ]);
  });

  it('fallback ties break by reversal id, then entry id', () => {
    const m = matchUnit(
      unit({
        reversals: [rev({ id: 'trr_2' }), rev({ id: 'trr_1' })],
        ledger: [entry({ id: 'le_b', stripeId: null }), entry({ id: 'le_a', stripeId: null })],
      }),
      rules,
    );
    expect(m.matched.map((x) => [x.reversal.id, x.primary.entry.id])).toEqual([
      ['trr_1', 'le_a'],
      ['trr_2', 'le_b'],
    ]);
  });

  it('a metadata match names its method; an entry with a Stripe id never matches by metadata', () => {
    const byMeta = matchUnit(
      unit({
        reversals: [rev({ metadata: { ledger_entry_id: 'le_1' } })],
        ledger: [entry({ stripeId: null })],
      }),
      rules,
    );
    expect(byMeta.matched[0]?.primary.method).toBe('metadata');
    const named = matchUnit(
      unit({
        reversals: [rev({ id: 'trr_1', metadata: { ledger_entry_id: 'le_1' } })],
        ledger: [entry({ stripeId: 'trr_9' })],
      }),
      rules,
    );
    expect(named.matched).toEqual([]);
  });

  it('summaries count by kind, severity and currency', () => {
    const ms = reconcile(
      unit({
        reversals: [rev({ id: 'trr_1' }), rev({ id: 'trr_2', amount: 500, currency: 'eur' })],
        ledger: [entry({ amount: 900 })],
      }),
      rules,
      T0,
    );
    const s = summarizeMismatches(ms);
    expect(s.total).toBe(2);
    expect(s.byKind.amount_mismatch).toBe(1);
    expect(s.byKind.missing_in_ledger).toBe(1);
    expect(s.bySeverity.high).toBe(2);
    expect(s.amountAtRiskByCurrency).toEqual({ usd: 100, eur: 500 });
  });

  it('fingerprint() leaves the entry out for object-level kinds', () => {
    expect(fingerprint('reversal_canceled', 'credrev_1', 'le_1')).toBe(
      'reversal_canceled:credrev_1:-',
    );
    expect(fingerprint('status_mismatch', 'credrev_1', 'le_1')).toBe(
      'status_mismatch:credrev_1:le_1',
    );
  });
});
