import type Stripe from 'stripe';
import { DAY_MS } from '../clock.js';
import type { Core, Ctx, Route } from '../core.js';
import { receiptUrl } from '../core.js';
import { AUTOMATIC } from '../events.js';
import { invalidRequest, noSuch } from '../errors.js';
import { paginate, PAGE_PARAMS, type StripeList } from '../list.js';
import { Params } from '../params.js';
import type { TreasuryPlan } from '../store.js';
import { findFinancialAccount, moveBalance } from './financial-accounts.js';
import { findReceivedCredit, renderReceivedCredit } from './received-credits.js';

type CreditReversal = Stripe.Treasury.CreditReversal;

/** Reverses a whole ReceivedCredit; it posts after `creditReversalPostAfterDays`. */
function create(ctx: Ctx): CreditReversal {
  const p = new Params(ctx.params, ['received_credit', 'metadata']);
  const rcId = p.str('received_credit', { required: true }) as string;
  const metadata = p.metadataForCreate();
  const rc = findReceivedCredit(ctx, rcId, 'received_credit');
  const details = renderReceivedCredit(ctx, rc).reversal_details;
  if (details?.restricted_reason === 'already_reversed') {
    throw invalidRequest(`ReceivedCredit ${rc.id} has already been reversed.`, {
      code: 'received_credit_already_reversed',
      param: 'received_credit',
    });
  }
  if (details?.restricted_reason) {
    throw invalidRequest(
      `ReceivedCredit ${rc.id} cannot be reversed (${details.restricted_reason}).`,
      {
        param: 'received_credit',
      },
    );
  }
  if (rc.status !== 'succeeded') {
    throw invalidRequest(
      `ReceivedCredit ${rc.id} has status ${rc.status} and cannot be reversed.`,
      {
        param: 'received_credit',
      },
    );
  }
  const { core } = ctx;
  const cr = {
    id: core.ids.next('credrev'),
    object: 'treasury.credit_reversal',
    amount: rc.amount,
    created: core.clock.nowSeconds(),
    currency: rc.currency,
    financial_account: rc.financial_account as string,
    hosted_regulatory_receipt_url: null,
    livemode: false,
    metadata,
    network: rc.network === 'stripe' ? 'stripe' : 'ach',
    received_credit: rc.id,
    status: 'processing',
    status_transitions: { posted_at: null },
    transaction: core.ids.next('trxn'),
  } as CreditReversal;
  cr.hosted_regulatory_receipt_url = receiptUrl(cr.id);
  ctx.acc.creditReversals.insert(cr);
  rc.linked_flows.credit_reversal = cr.id;
  if (rc.reversal_details) rc.reversal_details.restricted_reason = 'already_reversed';
  // Funds are held by a pending Transaction; they leave the balance when it posts.
  moveBalance(findFinancialAccount(ctx.acc, cr.financial_account), cr.currency, {
    outbound_pending: cr.amount,
  });
  core.plans.set(cr.id, {
    kind: 'credit_reversal',
    id: cr.id,
    account: ctx.account,
    dueAtMs: core.clock.now() + core.rules.creditReversalPostAfterDays * DAY_MS,
    fate: core.rules.fate({ kind: 'credit_reversal', id: cr.id, metadata: { ...metadata } }),
    outcome: 'won',
    initialCredit: false,
  });
  core.bus.emit({
    account: ctx.account,
    type: 'treasury.credit_reversal.created',
    object: cr,
    request: ctx.request,
  });
  return structuredClone(cr);
}

/** Applies a due credit reversal: posted (with an event) or canceled (silently, as Stripe). */
export function settleCreditReversal(core: Core, plan: TreasuryPlan): void {
  const acc = core.store.account(plan.account);
  const cr = acc.creditReversals.get(plan.id);
  if (!cr || cr.status !== 'processing') return;
  const fa = acc.financialAccounts.get(cr.financial_account);
  if (plan.fate === 'canceled') {
    cr.status = 'canceled';
    if (fa) moveBalance(fa, cr.currency, { outbound_pending: -cr.amount });
    // No money left, so the credit can be reversed again.
    const rc = acc.receivedCredits.get(cr.received_credit);
    if (rc?.reversal_details && rc.linked_flows.credit_reversal === cr.id) {
      rc.reversal_details.restricted_reason = null;
    }
    return;
  }
  cr.status = 'posted';
  cr.status_transitions.posted_at = core.clock.nowSeconds();
  if (fa) moveBalance(fa, cr.currency, { cash: -cr.amount, outbound_pending: -cr.amount });
  core.bus.emit({
    account: plan.account,
    type: 'treasury.credit_reversal.posted',
    object: cr,
    request: AUTOMATIC,
  });
}

function list(ctx: Ctx): StripeList<CreditReversal> {
  const p = new Params(ctx.params, [
    ...PAGE_PARAMS,
    'financial_account',
    'received_credit',
    'status',
  ]);
  const fa = p.str('financial_account', { required: true }) as string;
  const rc = p.str('received_credit');
  const status = p.oneOf('status', ['canceled', 'posted', 'processing'] as const);
  const rows = ctx.acc.creditReversals
    .newestFirst()
    .filter(
      (cr) =>
        cr.financial_account === fa &&
        (rc === undefined || cr.received_credit === rc) &&
        (status === undefined || cr.status === status),
    );
  const page = paginate(rows, p, '/v1/treasury/credit_reversals', 'credit_reversal');
  return { ...page, data: page.data.map((cr) => structuredClone(cr)) };
}

function retrieve(ctx: Ctx): CreditReversal {
  new Params(ctx.params, []);
  const id = ctx.path.id as string;
  const cr = ctx.acc.creditReversals.get(id);
  if (!cr) throw noSuch('credit_reversal', id, 'credit_reversal');
  return structuredClone(cr);
}

export const creditReversalRoutes: Route[] = [
  { method: 'POST', path: '/v1/treasury/credit_reversals', handler: create },
  { method: 'GET', path: '/v1/treasury/credit_reversals', handler: list },
  { method: 'GET', path: '/v1/treasury/credit_reversals/:id', handler: retrieve },
];
