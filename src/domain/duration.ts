/**
 * Durations in config are a whole number and a unit: `90s`, `15m`, `36h`, `5d` (DESIGN.md,
 * "Pinned semantics"); `ms` is accepted too. A bare number is refused on purpose: "15" could mean
 * seconds or minutes, and a silent misread would move every grace period and stuck deadline.
 */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

export class InvalidDurationError extends Error {
  constructor(readonly value: string) {
    super(
      `${JSON.stringify(value)} is not a duration: use a whole number and a unit (ms, s, m, h, d), e.g. 90s, 15m, 36h, 5d`,
    );
    this.name = new.target.name;
  }
}

/** `parseDuration('15m') === 900_000`. Throws {@link InvalidDurationError} naming the bad value. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+)(ms|s|m|h|d)\s*$/.exec(String(text));
  const digits = m?.[1];
  const unit = m?.[2] as Unit | undefined;
  if (digits === undefined || unit === undefined) throw new InvalidDurationError(String(text));
  const ms = Number(digits) * UNIT_MS[unit];
  if (!Number.isSafeInteger(ms)) throw new InvalidDurationError(String(text));
  return ms;
}

/**
 * A duration as a finance person reads it, rounded down to the largest sensible unit:
 * `6 days`, `36 hours`, `15 minutes`, `90 seconds`.
 */
export function describeDuration(ms: number): string {
  const abs = Math.max(0, Math.trunc(ms));
  const pick = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (abs >= 2 * UNIT_MS.d) return pick(Math.floor(abs / UNIT_MS.d), 'day');
  if (abs >= 2 * UNIT_MS.h) return pick(Math.floor(abs / UNIT_MS.h), 'hour');
  if (abs >= 2 * UNIT_MS.m) return pick(Math.floor(abs / UNIT_MS.m), 'minute');
  return pick(Math.floor(abs / UNIT_MS.s), 'second');
}
