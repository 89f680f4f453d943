import type Stripe from 'stripe';
import type { Ctx, Route } from '../core.js';
import { receiptUrl } from '../core.js';
import { noSuch } from '../errors.js';
import { paginate, PAGE_PARAMS, type StripeList } from '../list.js';
import { Params } from '../params.js';
import { moveBalance } from './financial-accounts.js';
import {
  currentReversalDetails,
  initiatingDetails,
  receivedHelperParams,
  REVERSAL_WINDOW_MS,
} from './received.js';

type ReceivedDebit = Stripe.Treasury.ReceivedDebit;

export function renderReceivedDebit(ctx: Pick<Ctx, 'core'>, rd: ReceivedDebit): ReceivedDebit {
  const copy = structuredClone(rd);
  copy.reversal_details = currentReversalDetails(copy.reversal_details, ctx);
  return copy;
}

export function findReceivedDebit(ctx: Ctx, id: string, param = 'id'): ReceivedDebit {
  const rd = ctx.acc.receivedDebits.get(id);
  if (!rd) throw noSuch('received_debit', id, param);
  return rd;
}

/**
 * `POST /v1/test_helpers/treasury/received_debits`. Stripe takes `network=ach` only; the
 * simulator also takes `card` (an Issuing-style debit) so card debit reversals, which get an
 * initial credit, can be exercised.
 */
function testHelperCreate(ctx: Ctx): ReceivedDebit {
  const { p, amount, currency, fa, network } = receivedHelperParams(ctx, ['ach', 'card'] as const);
  const { core } = ctx;
  const rd = {
    id: core.ids.next('rd'),
    object: 'treasury.received_debit',
    amount,
    created: core.clock.nowSeconds(),
    currency,
    description: p.str('description') ?? 'Stripe Test',
    failure_code: null,
    financial_account: fa.id,
    hosted_regulatory_receipt_url: null,
    initiating_payment_method_details: initiatingDetails(p),
    linked_flows: {
      debit_reversal: null,
      inbound_transfer: null,
      issuing_authorization: null,
      issuing_transaction: null,
      payout: null,
      topup: null,
    },
    livemode: false,
    network,
    reversal_details: {
      deadline: Math.floor((core.clock.now() + REVERSAL_WINDOW_MS) / 1000),
      restricted_reason: null,
    },
    status: 'succeeded',
    transaction: core.ids.next('trxn'),
  } as ReceivedDebit;
  rd.hosted_regulatory_receipt_url = receiptUrl(rd.id);
  ctx.acc.receivedDebits.insert(rd);
  moveBalance(fa, currency, { cash: -amount });
  const rendered = renderReceivedDebit(ctx, rd);
  core.bus.emit({
    account: ctx.account,
    type: 'treasury.received_debit.created',
    object: rendered,
    request: ctx.request,
  });
  return rendered;
}

function list(ctx: Ctx): StripeList<ReceivedDebit> {
  const p = new Params(ctx.params, [...PAGE_PARAMS, 'financial_account', 'status']);
  const fa = p.str('financial_account', { required: true }) as string;
  const status = p.oneOf('status', ['failed', 'succeeded'] as const);
  const rows = ctx.acc.receivedDebits
    .newestFirst()
    .filter((rd) => rd.financial_account === fa && (status === undefined || rd.status === status));
  const page = paginate(rows, p, '/v1/treasury/received_debits', 'received_debit');
  return { ...page, data: page.data.map((rd) => renderReceivedDebit(ctx, rd)) };
}

function retrieve(ctx: Ctx): ReceivedDebit {
  new Params(ctx.params, []);
  return renderReceivedDebit(ctx, findReceivedDebit(ctx, ctx.path.id as string));
}

export const receivedDebitRoutes: Route[] = [
  { method: 'POST', path: '/v1/test_helpers/treasury/received_debits', handler: testHelperCreate },
  { method: 'GET', path: '/v1/treasury/received_debits', handler: list },
  { method: 'GET', path: '/v1/treasury/received_debits/:id', handler: retrieve },
];
