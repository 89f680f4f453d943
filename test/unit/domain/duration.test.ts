import { describe, expect, it } from 'vitest';
import {
  describeDuration,
  InvalidDurationError,
  parseDuration,
} from '../../../src/domain/duration.js';
import { DEFAULT_RECON_RULES } from '../../../src/domain/rules.js';
import { DAY, HOUR, MIN, SEC } from './builders.js';

describe('parseDuration', () => {
  it.each([
    { text: '90s', ms: 90 * SEC },
    { text: '15m', ms: 15 * MIN },
    { text: '36h', ms: 36 * HOUR },
    { text: '5d', ms: 5 * DAY },
    { text: '14d', ms: 14 * DAY },
    { text: '250ms', ms: 250 },
    { text: '0s', ms: 0 },
    { text: ' 7d ', ms: 7 * DAY },
  ])('$text → $ms ms', ({ text, ms }) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    '',
    '15',
    '900000',
    '1.5h',
    '-5m',
    '5 d',
    '5D',
    '15min',
    'm',
    'd5',
    '5w',
    '99999999999999999d',
  ])('rejects %j, naming it', (text) => {
    expect(() => parseDuration(text)).toThrow(InvalidDurationError);
    expect(() => parseDuration(text)).toThrow(JSON.stringify(text));
  });

  it('gives the DESIGN.md defaults', () => {
    expect(DEFAULT_RECON_RULES).toEqual({
      graceMs: 15 * MIN,
      stuckAfterMs: { credit_reversal: 5 * DAY, debit_reversal: 14 * DAY },
      matchWindowMs: 7 * DAY,
      metadataKey: 'ledger_entry_id',
    });
  });
});

describe('describeDuration', () => {
  it.each([
    { ms: 0, text: '0 seconds' },
    { ms: SEC, text: '1 second' },
    { ms: 90 * SEC, text: '90 seconds' },
    { ms: 15 * MIN, text: '15 minutes' },
    { ms: 36 * HOUR, text: '36 hours' },
    { ms: 6 * DAY + 5 * HOUR, text: '6 days' },
  ])('$ms → $text', ({ ms, text }) => {
    expect(describeDuration(ms)).toBe(text);
  });
});
