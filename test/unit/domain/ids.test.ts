import { describe, expect, it } from 'vitest';
import { reversalKindOfId, reversalKindOfKey } from '../../../src/domain/ids.js';

describe('Stripe id prefixes', () => {
  it.each([
    ['trr_1Abc', 'transfer_reversal', 'transfer_reversal'],
    ['tr_1Abc', null, 'transfer_reversal'],
    ['credrev_1Abc', 'credit_reversal', 'credit_reversal'],
    ['rc_1Abc', null, 'credit_reversal'],
    ['debrev_1Abc', 'debit_reversal', 'debit_reversal'],
    ['rd_1Abc', null, 'debit_reversal'],
    ['trr_', null, 'transfer_reversal'],
    ['le_1', null, null],
  ])('%s: reversal id → %s, unit key → %s', (id, asReversal, asKey) => {
    expect(reversalKindOfId(id)).toBe(asReversal);
    expect(reversalKindOfKey(id)).toBe(asKey);
  });
});
