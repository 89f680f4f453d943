import type Stripe from 'stripe';
import { DAY_MS } from '../clock.js';
import type { Ctx } from '../core.js';
import type { Params } from '../params.js';

/** How long after it arrives a received credit or debit can still be reversed (simulated). */
export const REVERSAL_WINDOW_MS = 5 * DAY_MS;

type Details = Stripe.Treasury.ReceivedCredit.InitiatingPaymentMethodDetails;

/** `initiating_payment_method_details` from the test helper's `us_bank_account` source params. */
export function initiatingDetails(p: Params): Details {
  const src = p.object('initiating_payment_method_details');
  const bank = src && typeof src.us_bank_account === 'object' ? src.us_bank_account : undefined;
  const field = (k: string): string | undefined => {
    const v = bank?.[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const accountNumber = field('account_number') ?? '000123456789';
  return {
    billing_details: {
      address: {
        city: null,
        country: null,
        line1: null,
        line2: null,
        postal_code: null,
        state: null,
      },
      email: null,
      name: field('account_holder_name') ?? 'Jane Austen',
    },
    type: 'us_bank_account',
    us_bank_account: {
      bank_name: 'STRIPE TEST BANK',
      last4: accountNumber.slice(-4),
      routing_number: field('routing_number') ?? '110000000',
    },
  } as Details;
}

/** The deadline passes with the simulated clock; Stripe then restricts reversal. */
export function currentReversalDetails<
  T extends { deadline: number | null; restricted_reason: string | null },
>(details: T | null, ctx: Pick<Ctx, 'core'>): T | null {
  if (!details) return details;
  if (details.restricted_reason === null && details.deadline !== null) {
    if (ctx.core.clock.nowSeconds() > details.deadline) {
      return { ...details, restricted_reason: 'deadline_passed' };
    }
  }
  return { ...details };
}
