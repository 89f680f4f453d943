import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DependencyError,
  EXIT,
  InputFileError,
  StartupCheckError,
  UsageError,
  describeFailure,
  exitCodeFor,
  postgresUnavailable,
} from '../../../src/errors.js';

/** A Stripe SDK error as the SDK shapes it (by `type`), without calling Stripe. */
const stripeError = (type: string, message: string) =>
  Object.assign(new Error(message), {
    type,
    statusCode: type === 'StripeAuthenticationError' ? 401 : 403,
  });

describe('CLI failures: one line, one exit code', () => {
  it.each([
    [new ConfigError('x'), EXIT.config],
    [new StartupCheckError('schema behind'), EXIT.config],
    [new UsageError('--format'), EXIT.usage],
    [new InputFileError('no such file'), EXIT.noInput],
    [new DependencyError('port in use'), EXIT.unavailable],
    [new Error('anything else'), EXIT.failure],
    [
      stripeError('StripeAuthenticationError', 'Invalid API Key provided: sk_test_****cdef'),
      EXIT.config,
    ],
    [stripeError('StripePermissionError', 'not allowed'), EXIT.config],
    [stripeError('StripeConnectionError', 'socket hang up'), EXIT.unavailable],
  ])('%s → %i', (err, code) => {
    expect(exitCodeFor(err)).toBe(code);
  });

  it('a rejected Stripe key names the variable and never echoes the key, even as a cause', () => {
    const wrapped = new Error('sweep failed', {
      cause: stripeError('StripeAuthenticationError', 'Invalid API Key provided: sk_test_****cdef'),
    });
    const line = describeFailure(wrapped);
    expect(line).toMatch(/^Stripe rejected STRIPE_API_KEY \(401\)/);
    expect(line).not.toContain('sk_test');
    expect(exitCodeFor(wrapped)).toBe(EXIT.config);
  });

  it('an unreachable Postgres says where, never the password', () => {
    const e = postgresUnavailable(
      'postgresql://recon:hunter2@db.internal:6543/ledger',
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:6543'), { code: 'ECONNREFUSED' }),
    );
    expect(e.message).toBe(
      'cannot reach Postgres at db.internal:6543/ledger as recon: connect ECONNREFUSED 10.0.0.5:6543',
    );
    expect(exitCodeFor(e)).toBe(EXIT.unavailable);
    const missing = postgresUnavailable(
      'postgresql://recon:hunter2@db.internal/nope',
      Object.assign(new Error('database "nope" does not exist'), { code: '3D000' }),
    );
    expect(missing.message).toContain(
      'db.internal:5432/nope as recon: the database does not exist',
    );
    expect(missing.message).not.toContain('hunter2');
  });
});
