import { describe, expect, it } from 'vitest';
import { describeFailure, isTransientError, oneLineMessage, sqlState } from '../../src/errors.js';

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

/** Shaped as Prisma 7 throws them through @prisma/adapter-pg (seen in a scratch run). */
const prismaError = (code: string, cause: Record<string, unknown>, message: string) =>
  Object.assign(new Error(message), {
    code,
    clientVersion: '7.10.0',
    meta: { driverAdapterError: { name: 'DriverAdapterError', cause } },
  });

describe('Prisma errors', () => {
  const deadlock = prismaError(
    'P2010',
    { originalCode: '40P01', originalMessage: '40P01', kind: 'TransactionWriteConflict' },
    'Invalid `prisma.$queryRaw()` invocation:\n\n\nRaw query failed. Code: `40P01`.',
  );
  const refused = prismaError(
    'P1001',
    { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5999 },
    "Can't reach database server at 127.0.0.1:5999",
  );
  const badRow = prismaError(
    'P2010',
    { originalCode: '22021', originalMessage: 'refused le_1', kind: 'postgres' },
    'Invalid `prisma.$queryRaw()` invocation:\n\n\nRaw query failed. Code: `22021`. Message: `refused le_1`',
  );

  it('give Postgres its SQLSTATE back, never a Prisma code for one', () => {
    expect(sqlState(deadlock)).toBe('40P01');
    expect(sqlState(badRow)).toBe('22021');
    expect(sqlState(refused)).toBeNull();
  });

  it('are transient when the database, not the data, failed', () => {
    expect(isTransientError(deadlock)).toBe(true);
    expect(isTransientError(refused)).toBe(true);
    expect(isTransientError(badRow)).toBe(false);
  });

  it('are one line, saying what Postgres said', () => {
    expect(oneLineMessage(badRow)).toBe('refused le_1');
    expect(describeFailure(badRow)).toBe('refused le_1');
    expect(describeFailure(refused)).toBe("Can't reach database server at 127.0.0.1:5999");
  });
});
