/** Types of money-format.js (plain JavaScript so that the console can load the same file). */
export declare function minorUnitDigits(currency: string): number;
export declare function decimalAmount(amount: number, currency: string): string;
export declare function formatMoney(amount: number, currency: string): string;
