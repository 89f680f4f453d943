import { describe, expect, it } from 'vitest';
import {
  isFinalStatus,
  normalizeCreditReversalStatus,
  normalizeDebitReversalStatus,
  normalizeExpectedStatus,
  statusRank,
} from '../../../src/domain/status.js';
import type { DebitReversalFields } from '../../../src/domain/status.js';
import type { NormalizedStatus, ReversalKind } from '../../../src/domain/types.js';

describe('normalizeCreditReversalStatus', () => {
  it.each([
    { raw: 'processing', want: 'processing' },
    { raw: 'posted', want: 'posted' },
    { raw: 'canceled', want: 'canceled' },
    { raw: 'failed', want: null },
    { raw: 'Posted', want: null },
    { raw: 'some_new_word', want: null },
    { raw: '', want: null },
    { raw: null, want: null },
    { raw: undefined, want: null },
  ])('$raw → $want', ({ raw, want }) => {
    expect(normalizeCreditReversalStatus(raw)).toBe(want);
  });
});

describe('normalizeDebitReversalStatus', () => {
  it.each<{ name: string; d: DebitReversalFields; want: NormalizedStatus | null }>([
    { name: 'processing', d: { status: 'processing' }, want: 'processing' },
    { name: 'canceled', d: { status: 'canceled' }, want: 'canceled' },
    { name: 'succeeded is won', d: { status: 'succeeded' }, want: 'won' },
    { name: 'failed is lost', d: { status: 'failed' }, want: 'lost' },
    {
      name: 'completed + transaction is won',
      d: { status: 'completed', transaction: 'trxn_1' },
      want: 'won',
    },
    {
      name: 'completed + expanded transaction is won',
      d: { status: 'completed', transaction: { id: 'trxn_1' } },
      want: 'won',
    },
    {
      name: 'completed without transaction is lost',
      d: { status: 'completed', transaction: null },
      want: 'lost',
    },
    { name: 'resolution won decides', d: { status: 'completed', resolution: 'won' }, want: 'won' },
    {
      name: 'resolution lost decides',
      d: { status: 'completed', resolution: 'lost', transaction: 'trxn_1' },
      want: 'lost',
    },
    {
      name: 'resolution beats succeeded',
      d: { status: 'succeeded', resolution: 'lost' },
      want: 'lost',
    },
    {
      name: 'canceled beats resolution',
      d: { status: 'canceled', resolution: 'won' },
      want: 'canceled',
    },
    {
      name: 'unknown resolution ignored',
      d: { status: 'succeeded', resolution: 'maybe' },
      want: 'won',
    },
    { name: 'unknown status', d: { status: 'some_new_word' }, want: null },
    { name: 'null status', d: { status: null }, want: null },
  ])('$name', ({ d, want }) => {
    expect(normalizeDebitReversalStatus(d)).toBe(want);
  });
});

describe('normalizeExpectedStatus (ours and Stripe raw words)', () => {
  it.each<{ kind: ReversalKind; word: string; want: NormalizedStatus | null }>([
    { kind: 'transfer_reversal', word: 'succeeded', want: 'succeeded' },
    { kind: 'transfer_reversal', word: 'reversed', want: 'succeeded' },
    { kind: 'transfer_reversal', word: ' Succeeded ', want: 'succeeded' },
    { kind: 'transfer_reversal', word: 'posted', want: null },
    { kind: 'transfer_reversal', word: 'processing', want: null },
    { kind: 'credit_reversal', word: 'processing', want: 'processing' },
    { kind: 'credit_reversal', word: 'posted', want: 'posted' },
    { kind: 'credit_reversal', word: 'POSTED', want: 'posted' },
    { kind: 'credit_reversal', word: 'canceled', want: 'canceled' },
    { kind: 'credit_reversal', word: 'won', want: null },
    { kind: 'credit_reversal', word: 'failed', want: null },
    { kind: 'debit_reversal', word: 'processing', want: 'processing' },
    { kind: 'debit_reversal', word: 'canceled', want: 'canceled' },
    { kind: 'debit_reversal', word: 'won', want: 'won' },
    { kind: 'debit_reversal', word: 'lost', want: 'lost' },
    { kind: 'debit_reversal', word: 'succeeded', want: 'won' },
    { kind: 'debit_reversal', word: 'failed', want: 'lost' },
    // Ambiguous: the list filter's `completed` is either outcome, so it cannot be an expectation.
    { kind: 'debit_reversal', word: 'completed', want: null },
    { kind: 'debit_reversal', word: 'posted', want: null },
  ])('$kind "$word" → $want', ({ kind, word, want }) => {
    expect(normalizeExpectedStatus(kind, word)).toBe(want);
  });
});

describe('statusRank / isFinalStatus', () => {
  it.each<{ kind: ReversalKind; status: NormalizedStatus | null; rank: number }>([
    { kind: 'transfer_reversal', status: 'succeeded', rank: 3 },
    { kind: 'transfer_reversal', status: 'processing', rank: 0 },
    { kind: 'credit_reversal', status: 'processing', rank: 1 },
    { kind: 'credit_reversal', status: 'posted', rank: 3 },
    { kind: 'credit_reversal', status: 'canceled', rank: 3 },
    { kind: 'credit_reversal', status: 'won', rank: 0 },
    { kind: 'debit_reversal', status: 'processing', rank: 1 },
    { kind: 'debit_reversal', status: 'won', rank: 3 },
    { kind: 'debit_reversal', status: 'lost', rank: 3 },
    { kind: 'debit_reversal', status: 'canceled', rank: 3 },
    { kind: 'debit_reversal', status: 'posted', rank: 0 },
    { kind: 'debit_reversal', status: null, rank: 0 },
  ])('$kind $status → rank $rank', ({ kind, status, rank }) => {
    expect(statusRank(kind, status)).toBe(rank);
    expect(isFinalStatus(kind, status)).toBe(rank === 3);
  });
});
