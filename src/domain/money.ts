/**
 * Money is integer minor units plus a lowercase ISO currency, as Stripe writes it. Formatting
 * uses integer arithmetic only: no float ever touches an amount.
 *
 * There is one formatter, in money-format.js: plain JavaScript so that the operator console runs
 * the very same code in the browser. One style everywhere (reports, alerts, messages, console):
 * the currency's symbol with en-US grouping, `$2,953.49`, `€3.50`, `¥500`, `CHF 12.34`.
 */
export { decimalAmount, formatMoney, minorUnitDigits } from './money-format.js';
