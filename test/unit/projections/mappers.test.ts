import { describe, expect, it } from 'vitest';
import {
  InvalidObjectError,
  historyOf,
  mapCreditReversal,
  mapDebitReversal,
  mapReceivedCredit,
  mapReceivedDebit,
  mapTransfer,
  mapTransferReversal,
} from '../../../src/projections/mappers.js';
import {
  creditReversal,
  debitReversal,
  receivedCredit,
  receivedDebit,
  transfer,
  transferReversal,
} from '../../support/projection-objects.js';

const ctx = { account: 'acct_1Conn', snapshotAt: 1_700_000_123_000, snapshotId: 'evt_1' };

describe('mapTransfer', () => {
  it('maps every column from the snapshot', () => {
    const rev = transferReversal({ id: 'trr_1', transfer: 'tr_1', amount: 300 });
    const o = transfer({ id: 'tr_1', metadata: { a: 'b' }, transfer_group: 'g1' }, [rev]);
    expect(mapTransfer(o, ctx)).toEqual({
      id: 'tr_1',
      account: 'acct_1Conn',
      livemode: false,
      amount: 1100,
      amount_reversed: 300,
      currency: 'usd',
      destination: 'acct_1PgafTB7WZ01zgkW',
      destination_payment: 'py_QXhWZR8SdWquhf',
      source_transaction: null,
      source_type: 'card',
      transfer_group: 'g1',
      balance_transaction: 'txn_1PgaxNB7WZ01zgkWEV3TLf40',
      description: null,
      reversed: false,
      metadata: { a: 'b' },
      created: 1_700_000_000,
      snapshot_at: 1_700_000_123_000,
      snapshot_id: 'evt_1',
      raw: o,
    });
  });

  it('takes ids out of expanded objects and null accounts for the platform', () => {
    const o = transfer({ id: 'tr_2', destination: { id: 'acct_X', object: 'account' } });
    const row = mapTransfer(o, { ...ctx, account: null });
    expect(row.destination).toBe('acct_X');
    expect(row.account).toBeNull();
  });

  it.each([
    ['a float amount', { amount: 10.5 }],
    ['a string amount', { amount: '100' }],
    ['a wrong object', { object: 'charge' }],
    ['a wrong prefix', { id: 'ch_1' }],
    ['no currency', { currency: undefined }],
  ])('rejects %s', (_name, over) => {
    expect(() => mapTransfer({ ...transfer({ id: 'tr_3' }), ...over }, ctx)).toThrow(
      InvalidObjectError,
    );
  });
});

describe('mapTransferReversal', () => {
  it('takes livemode from its transfer and is always succeeded', () => {
    const o = transferReversal({
      id: 'trr_1',
      transfer: 'tr_1',
      metadata: { ledger_entry_id: 'le_9' },
    });
    const row = mapTransferReversal(o, { ...ctx, livemode: true });
    expect(row).toMatchObject({
      id: 'trr_1',
      transfer: 'tr_1',
      account: 'acct_1Conn',
      livemode: true,
      amount: 100,
      currency: 'usd',
      status: 'succeeded',
      metadata: { ledger_entry_id: 'le_9' },
      created: 1_700_000_000,
    });
    expect(historyOf(row, 'transfer_reversal')).toEqual({
      object_type: 'transfer_reversal',
      object_id: 'trr_1',
      to_status: 'succeeded',
      to_status_raw: null,
      event_id: 'evt_1',
      event_created: 1_700_000_123,
    });
  });

  it('accepts null metadata (nullable for reversals)', () => {
    const o = transferReversal({ id: 'trr_2', transfer: 'tr_1', metadata: null });
    expect(mapTransferReversal(o, { ...ctx, livemode: false }).metadata).toEqual({});
  });
});

describe('mapCreditReversal', () => {
  it.each([
    ['processing', 'processing', 1],
    ['posted', 'posted', 3],
    ['canceled', 'canceled', 3],
    ['returned_someday', 'processing', 0],
  ])('status %s → %s (rank %i)', (raw, status, rank) => {
    const row = mapCreditReversal(creditReversal({ id: 'credrev_1', status: raw }), ctx);
    expect(row).toMatchObject({ status_raw: raw, status, status_rank: rank });
    expect(historyOf(row, 'credit_reversal') === null).toBe(rank === 0);
  });

  it('maps the Treasury fields', () => {
    const o = creditReversal({
      id: 'credrev_2',
      status: 'posted',
      status_transitions: { posted_at: 1_700_000_500 },
      transaction: { id: 'trxn_9', object: 'treasury.transaction' },
    });
    expect(mapCreditReversal(o, ctx)).toMatchObject({
      financial_account: 'fa_1Pgc7BB7WZ01zgkWxDkCj857',
      received_credit: 'rc_1Pgc7BB7WZ01zgkWv2rpvGwQ',
      network: 'ach',
      posted_at: 1_700_000_500,
      transaction: 'trxn_9',
      hosted_regulatory_receipt_url: 'https://example.test/receipt/1',
      status_snapshot_at: ctx.snapshotAt,
      status_snapshot_id: ctx.snapshotId,
    });
  });
});

describe('mapDebitReversal', () => {
  it.each([
    [{ status: 'processing' }, 'processing'],
    [{ status: 'succeeded', transaction: 'trxn_1' }, 'won'],
    [{ status: 'failed' }, 'lost'],
    [{ status: 'completed', transaction: 'trxn_1' }, 'won'],
    [{ status: 'completed', transaction: null }, 'lost'],
    [{ status: 'completed', resolution: 'lost', transaction: 'trxn_1' }, 'lost'],
    [{ status: 'canceled' }, 'canceled'],
  ])('%j → %s', (over, status) => {
    expect(mapDebitReversal(debitReversal({ id: 'debrev_1', ...over }), ctx).status).toBe(status);
  });

  it('keeps resolution raw, the dispute link and the initial-credit flag', () => {
    const o = debitReversal({
      id: 'debrev_2',
      resolution: 'won',
      status: 'completed',
      linked_flows: { issuing_dispute: 'idp_1' },
      status_transitions: { completed_at: 1_700_000_900 },
    });
    expect(mapDebitReversal(o, { ...ctx, initialCreditGranted: true })).toMatchObject({
      resolution_raw: 'won',
      status_raw: 'completed',
      status: 'won',
      issuing_dispute: 'idp_1',
      completed_at: 1_700_000_900,
      initial_credit_granted: true,
      received_debit: 'rd_1Pgc7HB7WZ01zgkWlhCJ4BHN',
    });
  });
});

describe('received credits and debits', () => {
  it('maps the reversal links and deadlines', () => {
    const rc = receivedCredit({
      id: 'rc_1',
      linked_flows: { credit_reversal: 'credrev_1' },
      reversal_details: { deadline: null, restricted_reason: 'already_reversed' },
    });
    expect(mapReceivedCredit(rc, ctx)).toMatchObject({
      id: 'rc_1',
      credit_reversal: 'credrev_1',
      reversal_deadline: null,
      restricted_reason: 'already_reversed',
      status: 'succeeded',
      amount: 1234,
      network: 'ach',
    });
    const rd = receivedDebit({ id: 'rd_1', linked_flows: { debit_reversal: 'debrev_1' } });
    expect(mapReceivedDebit(rd, ctx)).toMatchObject({
      id: 'rd_1',
      debit_reversal: 'debrev_1',
      reversal_deadline: 1_722_297_600,
      amount: 54321,
    });
  });

  it('stores an unknown network or status verbatim', () => {
    const rc = receivedCredit({ id: 'rc_2', network: 'rtp', status: 'brand_new' });
    expect(mapReceivedCredit(rc, ctx)).toMatchObject({ network: 'rtp', status: 'brand_new' });
  });
});
