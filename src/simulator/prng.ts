import type { Prng } from '../domain/prng.js';

export { Prng } from '../domain/prng.js';

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
