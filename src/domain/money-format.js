// The one money formatter of the product. Plain JavaScript on purpose: the server imports it
// (through money.ts, typed by money-format.d.ts) and the operator console loads this very file in
// the browser (GET /console/money.js), so a report, an alert, a message and the console can never
// write the same amount two ways. No imports, no Node or DOM API: Intl and integer arithmetic only.

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

/** Digits after the decimal point in Stripe's minor units: 2 for usd, 0 for jpy, 3 for kwd. */
export function minorUnitDigits(currency) {
  const c = String(currency).toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

function groupThousands(digits) {
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return out;
}

const symbols = new Map();
/**
 * The currency's symbol as en-US writes it: `$`, `€`, `£`, `¥`, `CA$`, `MX$`; currencies without
 * one keep their code (`CHF`, `SEK`). Only the symbol comes from Intl: the digits never pass
 * through a float.
 */
function currencySymbol(currency) {
  const code = String(currency).toUpperCase();
  let symbol = symbols.get(code);
  if (symbol === undefined) {
    try {
      const part = new Intl.NumberFormat('en-US', { style: 'currency', currency: code })
        .formatToParts(0)
        .find((p) => p.type === 'currency');
      symbol = part ? part.value : code;
    } catch {
      symbol = code; // not a well-formed ISO code: show what we were given
    }
    symbols.set(code, symbol);
  }
  return symbol;
}

/** Integer minor units as a plain decimal, no grouping, no symbol: `(295349, 'usd') → '2953.49'`. */
export function decimalAmount(amount, currency) {
  return formatDigits(amount, currency, false);
}

function formatDigits(amount, currency, grouped) {
  if (!Number.isSafeInteger(amount)) {
    throw new RangeError(`amount must be an integer number of minor units, got ${amount}`);
  }
  const digits = minorUnitDigits(currency);
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  const group = grouped ? groupThousands : String;
  if (digits === 0) return `${sign}${group(String(abs))}`;
  const base = 10 ** digits;
  const frac = abs % base;
  const whole = (abs - frac) / base; // exact: abs - frac is a multiple of base
  return `${sign}${group(String(whole))}.${String(frac).padStart(digits, '0')}`;
}

/**
 * The money style of every human format: the symbol and en-US grouping, whatever the currency.
 * `formatMoney(295349, 'usd') === '$2,953.49'`, `formatMoney(350, 'eur') === '€3.50'`,
 * `formatMoney(500, 'jpy') === '¥500'`, `formatMoney(1234, 'chf') === 'CHF 12.34'`,
 * `formatMoney(-1234, 'usd') === '-$12.34'`.
 */
export function formatMoney(amount, currency) {
  const text = formatDigits(amount, currency, true);
  const negative = text.startsWith('-');
  const symbol = currencySymbol(currency);
  // A symbol ending in a letter (CHF) is a word: a space keeps it off the digits, as Intl does.
  const sep = /[A-Za-z0-9]$/.test(symbol) ? ' ' : '';
  return `${negative ? '-' : ''}${symbol}${sep}${negative ? text.slice(1) : text}`;
}
