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

type ReceivedCredit = Stripe.Treasury.ReceivedCredit;

/** Networks whose credits can be reversed; wires and RTP cannot (`network_restricted`). */
const REVERSIBLE = new Set(['ach', 'stripe']);

export function renderReceivedCredit(ctx: Pick<Ctx, 'core'>, rc: ReceivedCredit): ReceivedCredit {
  const copy = structuredClone(rc);
  copy.reversal_details = currentReversalDetails(copy.reversal_details, ctx);
  return copy;
}

export function findReceivedCredit(ctx: Ctx, id: string, param = 'id'): ReceivedCredit {
  const rc = ctx.acc.receivedCredits.get(id);
  if (!rc) throw noSuch('received_credit', id, param);
  return rc;
}

/** `POST /v1/test_helpers/treasury/received_credits`: money arrives in a FinancialAccount. */
function testHelperCreate(ctx: Ctx): ReceivedCredit {
  const { p, amount, currency, fa, network } = receivedHelperParams(ctx, [
    'ach',
    'us_domestic_wire',
    'rtp',
    'stripe',
  ] as const);
  const { core } = ctx;
  const created = core.clock.nowSeconds();
  const reversible = REVERSIBLE.has(network);
  const rc = {
    id: core.ids.next('rc'),
    object: 'treasury.received_credit',
    amount,
    created,
    currency,
    description: p.str('description') ?? 'Stripe Test',
    failure_code: null,
    financial_account: fa.id,
    hosted_regulatory_receipt_url: null,
    initiating_payment_method_details: initiatingDetails(p),
    linked_flows: {
      credit_reversal: null,
      issuing_authorization: null,
      issuing_transaction: null,
      source_flow: null,
      source_flow_details: null,
      source_flow_type: null,
    },
    livemode: false,
    network,
    reversal_details: {
      deadline: reversible ? Math.floor((core.clock.now() + REVERSAL_WINDOW_MS) / 1000) : null,
      restricted_reason: reversible ? null : 'network_restricted',
    },
    status: 'succeeded',
    transaction: core.ids.next('trxn'),
  } as ReceivedCredit;
  rc.hosted_regulatory_receipt_url = receiptUrl(rc.id);
  ctx.acc.receivedCredits.insert(rc);
  moveBalance(fa, currency, { cash: amount });
  const rendered = renderReceivedCredit(ctx, rc);
  core.bus.emit({
    account: ctx.account,
    type: 'treasury.received_credit.created',
    object: rendered,
    request: ctx.request,
  });
  return rendered;
}

function list(ctx: Ctx): StripeList<ReceivedCredit> {
  const p = new Params(ctx.params, [...PAGE_PARAMS, 'financial_account', 'status', 'linked_flows']);
  const fa = p.str('financial_account', { required: true }) as string;
  const status = p.oneOf('status', ['failed', 'succeeded'] as const);
  const flowType = p.object('linked_flows')?.source_flow_type;
  const rows = ctx.acc.receivedCredits
    .newestFirst()
    .filter(
      (rc) =>
        rc.financial_account === fa &&
        (status === undefined || rc.status === status) &&
        (flowType === undefined || rc.linked_flows.source_flow_type === flowType),
    );
  const page = paginate(rows, p, '/v1/treasury/received_credits', 'received_credit');
  return { ...page, data: page.data.map((rc) => renderReceivedCredit(ctx, rc)) };
}

function retrieve(ctx: Ctx): ReceivedCredit {
  new Params(ctx.params, []);
  return renderReceivedCredit(ctx, findReceivedCredit(ctx, ctx.path.id as string));
}

export const receivedCreditRoutes: Route[] = [
  { method: 'POST', path: '/v1/test_helpers/treasury/received_credits', handler: testHelperCreate },
  { method: 'GET', path: '/v1/treasury/received_credits', handler: list },
  { method: 'GET', path: '/v1/treasury/received_credits/:id', handler: retrieve },
];
