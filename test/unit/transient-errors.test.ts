import { describe, expect, it } from 'vitest';
import { isTransientError } from '../../src/errors.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isTransientError: retry the batch whole, or split it', () => {
  it.each([
    ['serialization failure', withCode('could not serialize access', '40001')],
    ['deadlock', withCode('deadlock detected', '40P01')],
    [
      'terminated backend',
      withCode('terminating connection due to administrator command', '57P01'),
    ],
    ['connection exception', withCode('connection failure', '08006')],
    ['too many connections', withCode('sorry, too many clients already', '53300')],
    ['refused socket', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['pg lost connection', new Error('Connection terminated unexpectedly')],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    [
      'Stripe unreachable',
      Object.assign(new Error('socket hang up'), { type: 'StripeConnectionError' }),
    ],
    ['wrapped', new Error('batch failed', { cause: withCode('deadlock detected', '40P01') })],
  ])('%s → transient', (_, err) => expect(isTransientError(err)).toBe(true));

  it.each([
    ['NUL in text', withCode('invalid byte sequence for encoding "UTF8": 0x00', '22021')],
    ['number out of range', withCode('value "1e30" is out of range for type bigint', '22003')],
    ['check violation', withCode('new row violates check constraint', '23514')],
    ['stack depth', withCode('stack depth limit exceeded', '54001')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['stack overflow', new RangeError('Maximum call stack size exceeded')],
    ['not an error', 'boom'],
  ])('%s → not transient', (_, err) => expect(isTransientError(err)).toBe(false));
});
