import { describe, expect, it } from 'vitest';
import { decimalAmount, formatMoney, minorUnitDigits } from '../../../src/domain/money.js';

describe('formatMoney', () => {
  it.each([
    { amount: 1234, currency: 'usd', text: '$12.34' },
    { amount: 5, currency: 'usd', text: '$0.05' },
    { amount: 0, currency: 'usd', text: '$0.00' },
    { amount: -1234, currency: 'usd', text: '-$12.34' },
    { amount: 123456789, currency: 'usd', text: '$1,234,567.89' },
    { amount: 350, currency: 'eur', text: '€3.50' },
    { amount: 1234, currency: 'EUR', text: '€12.34' },
    { amount: -1234, currency: 'eur', text: '-€12.34' },
    { amount: 100000, currency: 'gbp', text: '£1,000.00' },
    { amount: 500, currency: 'jpy', text: '¥500' },
    { amount: 1234567, currency: 'jpy', text: '¥1,234,567' },
    { amount: 1234, currency: 'cad', text: 'CA$12.34' },
    { amount: 123456, currency: 'chf', text: 'CHF 1,234.56' },
    { amount: -123456, currency: 'chf', text: '-CHF 1,234.56' },
    { amount: 1234, currency: 'kwd', text: 'KWD 1.234' },
    { amount: 1234, currency: 'e1', text: 'E1 12.34' },
    { amount: Number.MAX_SAFE_INTEGER, currency: 'usd', text: '$90,071,992,547,409.91' },
  ])('$amount $currency → $text', ({ amount, currency, text }) => {
    expect(formatMoney(amount, currency)).toBe(text);
  });

  it('refuses fractional minor units', () => {
    expect(() => formatMoney(12.5, 'usd')).toThrow(RangeError);
  });

  it.each([
    { currency: 'usd', digits: 2 },
    { currency: 'JPY', digits: 0 },
    { currency: 'bhd', digits: 3 },
  ])('$currency has $digits decimals', ({ currency, digits }) => {
    expect(minorUnitDigits(currency)).toBe(digits);
  });

  it.each([
    { amount: 295349, currency: 'usd', text: '2953.49' },
    { amount: -5, currency: 'eur', text: '-0.05' },
    { amount: 1234567, currency: 'jpy', text: '1234567' },
    { amount: 1234, currency: 'kwd', text: '1.234' },
  ])(
    'decimalAmount($amount, $currency) → $text (CSV: no symbol, no grouping)',
    ({ amount, currency, text }) => {
      expect(decimalAmount(amount, currency)).toBe(text);
    },
  );

  it('the console loads the same file the server formats with (GET /console/money.js)', async () => {
    const shared = (await import('../../../src/domain/money-format.js')) as {
      formatMoney: unknown;
    };
    expect(shared.formatMoney).toBe(formatMoney);
  });
});
