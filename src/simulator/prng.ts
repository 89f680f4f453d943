/**
 * mulberry32: small, fast and good enough for ids and chaos rolls. Separate streams keep ids
 * stable when chaos settings change.
 */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const a = items[i] as T;
      items[i] = items[j] as T;
      items[j] = a;
    }
    return items;
  }
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Stripe-looking ids (`tr_` + 24 base62 characters) from a seeded stream. */
export class IdGenerator {
  constructor(private readonly prng: Prng) {}

  next(prefix: string): string {
    let s = '';
    for (let i = 0; i < 24; i++) s += ALPHABET[this.prng.int(ALPHABET.length)];
    return `${prefix}_${s}`;
  }
}
