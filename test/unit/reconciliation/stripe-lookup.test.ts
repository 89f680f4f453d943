import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { isResourceMissing, lookupBackoffMs } from '../../../src/reconciliation/stripe-lookup.js';

describe('stripe lookup: what confirms an absence', () => {
  const invalid = (statusCode: number, code?: string) =>
    new Stripe.errors.StripeInvalidRequestError({
      type: 'invalid_request_error',
      message: 'x',
      statusCode,
      code,
    } as never);
  it.each([
    { name: '404 resource_missing', err: invalid(404, 'resource_missing'), want: true },
    { name: '404 without a code', err: invalid(404), want: true },
    { name: '404 with another code', err: invalid(404, 'account_invalid'), want: false },
    { name: '400', err: invalid(400, 'parameter_missing'), want: false },
    {
      name: 'connection error',
      err: new Stripe.errors.StripeConnectionError({ message: 'ECONNREFUSED' } as never),
      want: false,
    },
    {
      name: '500',
      err: new Stripe.errors.StripeAPIError({ message: 'boom', statusCode: 500 } as never),
      want: false,
    },
    { name: 'not an error', err: null, want: false },
  ])('$name → $want', ({ err, want }) => {
    expect(isResourceMissing(err)).toBe(want);
  });

  it('backs off 5 s, 10 s, 20 s … up to 10 min while Stripe is unreachable', () => {
    expect([1, 2, 3, 4, 10, 30].map(lookupBackoffMs)).toEqual([
      5_000, 10_000, 20_000, 40_000, 600_000, 600_000,
    ]);
  });
});
