import type Stripe from 'stripe';
import { DAY_MS } from '../clock.js';
import type { Ctx } from '../core.js';
import { invalidRequest } from '../errors.js';
import { Params } from '../params.js';
import { findFinancialAccount } from './financial-accounts.js';

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

/**
 * The parameters both test helpers (`received_credits`, `received_debits`) take, checked the same
 * way: a positive amount, a currency the FinancialAccount supports, and one of `networks`.
 */
export function receivedHelperParams<N extends string>(ctx: Ctx, networks: readonly N[]) {
  const p = new Params(ctx.params, [
    'amount',
    'currency',
    'financial_account',
    'network',
    'description',
    'initiating_payment_method_details',
  ]);
  const amount = p.int('amount', { required: true, min: 1 }) as number;
  const currency = (p.str('currency', { required: true }) as string).toLowerCase();
  const faId = p.str('financial_account', { required: true }) as string;
  const network = p.oneOf('network', networks, { required: true }) as N;
  const fa = findFinancialAccount(ctx.acc, faId);
  if (!fa.supported_currencies.includes(currency)) {
    throw invalidRequest(`The FinancialAccount ${fa.id} does not support currency ${currency}.`, {
      param: 'currency',
    });
  }
  return { p, amount, currency, fa, network };
}
