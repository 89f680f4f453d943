/**
 * Money is integer minor units plus a lowercase ISO currency, as Stripe writes it. Formatting
 * uses integer arithmetic only: no float ever touches an amount.
 */

/** Stripe's zero-decimal currencies: the amount is already in whole units. */
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);
/** Stripe's three-decimal currencies. */
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

export function minorUnitDigits(currency: string): number {
  const c = currency.toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

function groupThousands(digits: string): string {
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return out;
}

/**
 * `formatMoney(1234, 'usd') === '$12.34'`, `formatMoney(1234, 'eur') === '12.34 EUR'`,
 * `formatMoney(123456789, 'usd') === '$1,234,567.89'`, `formatMoney(500, 'jpy') === '500 JPY'`.
 */
export function formatMoney(amount: number, currency: string): string {
  if (!Number.isSafeInteger(amount)) {
    throw new RangeError(`amount must be an integer number of minor units, got ${amount}`);
  }
  const code = currency.toUpperCase();
  const digits = minorUnitDigits(currency);
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  let text: string;
  if (digits === 0) {
    text = groupThousands(String(abs));
  } else {
    const base = 10 ** digits;
    const frac = abs % base;
    const whole = (abs - frac) / base; // exact: abs - frac is a multiple of base
    text = `${groupThousands(String(whole))}.${String(frac).padStart(digits, '0')}`;
  }
  return code === 'USD' ? `${sign}$${text}` : `${sign}${text} ${code}`;
}
