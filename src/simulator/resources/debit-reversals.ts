import type Stripe from 'stripe';
import { DAY_MS } from '../clock.js';
import type { Core, Ctx, Route } from '../core.js';
import { receiptUrl } from '../core.js';
import { AUTOMATIC } from '../events.js';
import { invalidRequest, noSuch } from '../errors.js';
import { paginate, PAGE_PARAMS, type StripeList } from '../list.js';
import { Params } from '../params.js';
import type { TreasuryPlan } from '../store.js';
import { moveBalance } from './financial-accounts.js';
import { findReceivedDebit, renderReceivedDebit } from './received-debits.js';

type DebitReversal = Stripe.Treasury.DebitReversal;

/**
 * Status words: the object says `processing`, then `succeeded` (won: a crediting Transaction)
 * or `failed` (lost: no Transaction). The list filter says `completed` for both, with
 * `resolution=won|lost`. A canceled one shows `canceled`, the list filter's word, since the
 * object's enum has none (see DESIGN.md, "Pinned semantics").
 */
const COMPLETED = new Set(['succeeded', 'failed']);

/** Card debit reversals, or `metadata[sim_initial_credit]=true`, are credited provisionally first. */
function grantsInitialCredit(network: string, metadata: Record<string, string>): boolean {
  return network === 'card' || metadata.sim_initial_credit === 'true';
}

function create(ctx: Ctx): DebitReversal {
  const p = new Params(ctx.params, ['received_debit', 'metadata']);
  const rdId = p.str('received_debit', { required: true }) as string;
  const metadata = p.metadataForCreate();
  const rd = findReceivedDebit(ctx, rdId, 'received_debit');
  const details = renderReceivedDebit(ctx, rd).reversal_details;
  if (details?.restricted_reason === 'already_reversed') {
    throw invalidRequest(`ReceivedDebit ${rd.id} has already been reversed.`, {
      code: 'received_debit_already_reversed',
      param: 'received_debit',
    });
  }
  if (details?.restricted_reason) {
    throw invalidRequest(
      `ReceivedDebit ${rd.id} cannot be reversed (${details.restricted_reason}).`,
      {
        param: 'received_debit',
      },
    );
  }
  if (rd.network !== 'ach' && rd.network !== 'card') {
    throw invalidRequest(`ReceivedDebits on the ${rd.network} network cannot be reversed.`, {
      param: 'received_debit',
    });
  }
  const { core } = ctx;
  const dr = {
    id: core.ids.next('debrev'),
    object: 'treasury.debit_reversal',
    amount: rd.amount,
    created: core.clock.nowSeconds(),
    currency: rd.currency,
    financial_account: rd.financial_account,
    hosted_regulatory_receipt_url: null,
    linked_flows: { issuing_dispute: null },
    livemode: false,
    metadata,
    network: rd.network,
    received_debit: rd.id,
    status: 'processing',
    status_transitions: { completed_at: null },
    transaction: null,
  } as DebitReversal;
  dr.hosted_regulatory_receipt_url = receiptUrl(dr.id);
  ctx.acc.debitReversals.insert(dr);
  rd.linked_flows.debit_reversal = dr.id;
  if (rd.reversal_details) rd.reversal_details.restricted_reason = 'already_reversed';
  const initialCredit = grantsInitialCredit(dr.network, metadata);
  core.plans.set(dr.id, {
    kind: 'debit_reversal',
    id: dr.id,
    account: ctx.account,
    dueAtMs: core.clock.now() + core.rules.debitReversalCompleteAfterDays * DAY_MS,
    fate: core.rules.fate({ kind: 'debit_reversal', id: dr.id, metadata: { ...metadata } }),
    outcome: core.rules.debitReversalOutcome({
      id: dr.id,
      amount: dr.amount,
      metadata: { ...metadata },
    }),
    initialCredit,
  });
  core.bus.emit({
    account: ctx.account,
    type: 'treasury.debit_reversal.created',
    object: dr,
    request: ctx.request,
  });
  if (initialCredit) {
    const fa = dr.financial_account
      ? ctx.acc.financialAccounts.get(dr.financial_account)
      : undefined;
    if (fa) moveBalance(fa, dr.currency, { cash: dr.amount });
    core.bus.emit({
      account: ctx.account,
      type: 'treasury.debit_reversal.initial_credit_granted',
      object: dr,
      request: ctx.request,
    });
  }
  return structuredClone(dr);
}

/** Applies a due debit reversal: completed won or lost (with an event), or canceled silently. */
export function settleDebitReversal(core: Core, plan: TreasuryPlan): void {
  const acc = core.store.account(plan.account);
  const dr = acc.debitReversals.get(plan.id);
  if (!dr || dr.status !== 'processing') return;
  const fa = dr.financial_account ? acc.financialAccounts.get(dr.financial_account) : undefined;
  const credited = plan.initialCredit ? dr.amount : 0;
  if (plan.fate === 'canceled') {
    dr.status = 'canceled';
    if (fa && credited) moveBalance(fa, dr.currency, { cash: -credited });
    const rd = acc.receivedDebits.get(dr.received_debit);
    if (rd?.reversal_details && rd.linked_flows.debit_reversal === dr.id) {
      rd.reversal_details.restricted_reason = null;
    }
    return;
  }
  dr.status_transitions.completed_at = core.clock.nowSeconds();
  if (plan.outcome === 'won') {
    dr.status = 'succeeded';
    dr.transaction = core.ids.next('trxn');
    if (fa) moveBalance(fa, dr.currency, { cash: dr.amount - credited });
  } else {
    dr.status = 'failed';
    dr.transaction = null;
    if (fa && credited) moveBalance(fa, dr.currency, { cash: -credited });
  }
  core.bus.emit({
    account: plan.account,
    type: 'treasury.debit_reversal.completed',
    object: dr,
    request: AUTOMATIC,
  });
}

function list(ctx: Ctx): StripeList<DebitReversal> {
  const p = new Params(ctx.params, [
    ...PAGE_PARAMS,
    'financial_account',
    'received_debit',
    'resolution',
    'status',
  ]);
  const fa = p.str('financial_account', { required: true }) as string;
  const rd = p.str('received_debit');
  const resolution = p.oneOf('resolution', ['won', 'lost'] as const);
  const status = p.oneOf('status', ['canceled', 'completed', 'processing'] as const);
  const statusMatches = (s: string): boolean =>
    status === undefined || (status === 'completed' ? COMPLETED.has(s) : s === status);
  const resolutionMatches = (s: string): boolean =>
    resolution === undefined || s === (resolution === 'won' ? 'succeeded' : 'failed');
  const rows = ctx.acc.debitReversals
    .newestFirst()
    .filter(
      (dr) =>
        dr.financial_account === fa &&
        (rd === undefined || dr.received_debit === rd) &&
        statusMatches(dr.status) &&
        resolutionMatches(dr.status),
    );
  const page = paginate(rows, p, '/v1/treasury/debit_reversals', 'debit_reversal');
  return { ...page, data: page.data.map((dr) => structuredClone(dr)) };
}

function retrieve(ctx: Ctx): DebitReversal {
  new Params(ctx.params, []);
  const id = ctx.path.id as string;
  const dr = ctx.acc.debitReversals.get(id);
  if (!dr) throw noSuch('debit_reversal', id, 'debit_reversal');
  return structuredClone(dr);
}

export const debitReversalRoutes: Route[] = [
  { method: 'POST', path: '/v1/treasury/debit_reversals', handler: create },
  { method: 'GET', path: '/v1/treasury/debit_reversals', handler: list },
  { method: 'GET', path: '/v1/treasury/debit_reversals/:id', handler: retrieve },
];
