import { describe, expect, it } from 'vitest';
import { validateLedgerRequest } from '../../../src/api/ledger.js';
import { ValidationError } from '../../../src/errors.js';
import { parseOccurredAt, validateLedgerEntry } from '../../../src/ledger/schema.js';

const base = {
  id: 'le_1',
  kind: 'credit_reversal',
  stripe_id: 'credrev_1',
  parent_id: 'rc_1',
  amount: 1500,
  currency: 'USD',
  expected_status: 'posted',
  account: 'acct_123',
  occurred_at: '2026-11-20T10:00:00Z',
  metadata: { order: 'o_1' },
};

describe('validateLedgerEntry', () => {
  it('accepts a full entry and normalises it', () => {
    const r = validateLedgerEntry(base);
    expect(r).toEqual({
      ok: true,
      entry: {
        id: 'le_1',
        kind: 'credit_reversal',
        stripe_id: 'credrev_1',
        parent_id: 'rc_1',
        amount: 1500,
        currency: 'usd',
        expected_status: 'posted',
        expected_status_raw: 'posted',
        account: 'acct_123',
        occurred_at: Date.parse('2026-11-20T10:00:00Z'),
        metadata: { order: 'o_1' },
      },
    });
  });

  it.each([
    { name: 'only stripe_id', patch: { parent_id: undefined } },
    { name: 'only parent_id', patch: { stripe_id: undefined } },
    {
      name: 'nulls for optionals',
      patch: {
        stripe_id: null,
        expected_status: null,
        account: null,
        occurred_at: null,
        metadata: null,
      },
    },
    { name: 'unix seconds', patch: { occurred_at: 1_790_000_000 } },
    { name: 'unix seconds as text', patch: { occurred_at: '1790000000' } },
    { name: 'a bare date', patch: { occurred_at: '2026-11-20' } },
    { name: 'an offset', patch: { occurred_at: '2026-11-20T10:00:00.123+02:00' } },
    {
      name: 'transfer reversal',
      patch: {
        kind: 'transfer_reversal',
        stripe_id: 'trr_1',
        parent_id: 'tr_1',
        expected_status: 'succeeded',
      },
    },
    {
      name: 'debit reversal, Stripe word',
      patch: {
        kind: 'debit_reversal',
        stripe_id: 'debrev_1',
        parent_id: 'rd_1',
        expected_status: 'failed',
      },
    },
  ])('accepts $name', ({ patch }) => {
    const r = validateLedgerEntry({ ...base, ...patch });
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });

  it('maps Stripe status words and keeps the raw word', () => {
    const r = validateLedgerEntry({
      ...base,
      kind: 'debit_reversal',
      stripe_id: 'debrev_1',
      parent_id: 'rd_1',
      expected_status: 'Succeeded',
    });
    expect(r.ok && [r.entry.expected_status, r.entry.expected_status_raw]).toEqual([
      'won',
      'Succeeded',
    ]);
  });

  it.each([
    { name: 'missing id', patch: { id: undefined }, field: 'id' },
    { name: 'empty id', patch: { id: '' }, field: 'id' },
    { name: 'id with spaces', patch: { id: 'a b' }, field: 'id' },
    { name: 'id too long', patch: { id: 'x'.repeat(256) }, field: 'id' },
    { name: 'id not a string', patch: { id: 12 }, field: 'id' },
    { name: 'unknown kind', patch: { kind: 'refund' }, field: 'kind' },
    { name: 'missing kind', patch: { kind: undefined }, field: 'kind' },
    {
      name: 'no stripe_id nor parent_id',
      patch: { stripe_id: undefined, parent_id: null },
      field: 'stripe_id',
    },
    { name: 'stripe_id of another kind', patch: { stripe_id: 'trr_1' }, field: 'stripe_id' },
    { name: 'stripe_id not an id', patch: { stripe_id: 'hello world' }, field: 'stripe_id' },
    { name: 'parent_id of another kind', patch: { parent_id: 'tr_1' }, field: 'parent_id' },
    { name: 'zero amount', patch: { amount: 0 }, field: 'amount' },
    { name: 'negative amount', patch: { amount: -5 }, field: 'amount' },
    { name: 'fractional amount', patch: { amount: 10.5 }, field: 'amount' },
    { name: 'amount as text', patch: { amount: '10' }, field: 'amount' },
    { name: 'unsafe amount', patch: { amount: 2 ** 60 }, field: 'amount' },
    { name: 'missing amount', patch: { amount: undefined }, field: 'amount' },
    { name: 'currency too long', patch: { currency: 'usdx' }, field: 'currency' },
    { name: 'currency digits', patch: { currency: 'us1' }, field: 'currency' },
    { name: 'missing currency', patch: { currency: undefined }, field: 'currency' },
    { name: 'status of another kind', patch: { expected_status: 'won' }, field: 'expected_status' },
    { name: 'unknown status', patch: { expected_status: 'done' }, field: 'expected_status' },
    { name: 'status not a string', patch: { expected_status: 3 }, field: 'expected_status' },
    { name: 'account not acct_', patch: { account: 'cus_1' }, field: 'account' },
    { name: 'occurred_at not a date', patch: { occurred_at: 'yesterday' }, field: 'occurred_at' },
    {
      name: 'occurred_at impossible date',
      patch: { occurred_at: '2026-13-45' },
      field: 'occurred_at',
    },
    {
      name: 'occurred_at in milliseconds',
      patch: { occurred_at: 1_790_000_000_000_000 },
      field: 'occurred_at',
    },
    { name: 'occurred_at negative', patch: { occurred_at: -1 }, field: 'occurred_at' },
    { name: 'occurred_at object', patch: { occurred_at: {} }, field: 'occurred_at' },
    { name: 'metadata array', patch: { metadata: ['a'] }, field: 'metadata' },
    { name: 'metadata text', patch: { metadata: 'x' }, field: 'metadata' },
    { name: 'unknown field', patch: { expected_staus: 'posted' }, field: 'expected_staus' },
  ])('rejects $name (field $field)', ({ patch, field }) => {
    const input: Record<string, unknown> = { ...base, ...patch };
    for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
    const r = validateLedgerEntry(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues.map((i) => i.field)).toEqual([field]);
      expect(r.issues[0]!.message).toMatch(/\w/);
    }
  });

  it('reports every bad field of one entry, field and cross-field rules together', () => {
    const r = validateLedgerEntry({ ...base, amount: 0, currency: 'x', parent_id: 'rd_1' });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues.map((i) => i.field).sort()).toEqual(['amount', 'currency', 'parent_id']);
  });

  it('rejects what is not an object', () => {
    for (const v of [null, 1, 'x', []]) expect(validateLedgerEntry(v).ok).toBe(false);
  });
});

describe('parseOccurredAt', () => {
  it.each([
    ['2026-11-20T10:00:00Z', Date.UTC(2026, 10, 20, 10)],
    ['2026-11-20', Date.UTC(2026, 10, 20)],
    ['2026-11-20T12:00:00+02:00', Date.UTC(2026, 10, 20, 10)],
    [1_790_000_000, 1_790_000_000_000],
    ['nope', null],
  ] as const)('%s', (input, want) => expect(parseOccurredAt(input)).toBe(want));
});

describe('validateLedgerRequest', () => {
  const details = (body: unknown) => {
    try {
      validateLedgerRequest(body);
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      return (err as ValidationError).details as Array<{
        index: number;
        id: string;
        field: string;
      }>;
    }
    throw new Error('expected a ValidationError');
  };

  it('lists every invalid entry with index, id and field', () => {
    const d = details({
      entries: [
        base,
        { ...base, id: 'le_2', amount: -1 },
        { ...base, id: 'le_3' },
        { ...base, id: 'le_3', currency: 'eur' },
        { ...base, id: 'le_5', kind: 'x' },
      ],
    });
    expect(d.map((x) => [x.index, x.id, x.field])).toEqual([
      [1, 'le_2', 'amount'],
      [3, 'le_3', 'id'],
      [4, 'le_5', 'kind'],
    ]);
  });

  it.each([
    {},
    { entries: {} },
    { entries: [] },
    { entries: Array.from({ length: 1_001 }, (_, i) => ({ ...base, id: `le_${i}` })) },
    null,
  ])('rejects body %#', (body) => expect(details(body)[0]!.field).toBe('entries'));

  it('accepts 1000 entries', () => {
    const entries = Array.from({ length: 1_000 }, (_, i) => ({ ...base, id: `le_${i}` }));
    expect(validateLedgerRequest({ entries }).entries).toHaveLength(1_000);
  });
});
