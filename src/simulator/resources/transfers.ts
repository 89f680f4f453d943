import type Stripe from 'stripe';
import type { Ctx, Route } from '../core.js';
import { invalidRequest, noSuch } from '../errors.js';
import { paginate, PAGE_PARAMS, type StripeList } from '../list.js';
import { applyMetadata, matchesCreated, Params } from '../params.js';
import type { AccountStore } from '../store.js';

const EMBEDDED_REVERSALS = 10;

function reversalsOf(acc: AccountStore, transferId: string): Stripe.TransferReversal[] {
  const ids = acc.reversalsByTransfer.get(transferId) ?? [];
  return ids.map((id) => acc.transferReversals.get(id) as Stripe.TransferReversal).reverse();
}

/** The transfer as Stripe shows it: its 10 most recent reversals embedded, with `has_more`. */
export function renderTransfer(acc: AccountStore, t: Stripe.Transfer): Stripe.Transfer {
  const all = reversalsOf(acc, t.id);
  const reversals: StripeList<Stripe.TransferReversal> = {
    object: 'list',
    data: all.slice(0, EMBEDDED_REVERSALS).map((r) => structuredClone(r)),
    has_more: all.length > EMBEDDED_REVERSALS,
    url: `/v1/transfers/${t.id}/reversals`,
  };
  return { ...structuredClone(t), reversals } as Stripe.Transfer;
}

function findTransfer(ctx: Ctx, id: string, param = 'transfer'): Stripe.Transfer {
  const t = ctx.acc.transfers.get(id);
  if (!t) throw noSuch('transfer', id, param);
  return t;
}

function create(ctx: Ctx): Stripe.Transfer {
  const p = new Params(ctx.params, [
    'amount',
    'currency',
    'destination',
    'description',
    'metadata',
    'source_transaction',
    'source_type',
    'transfer_group',
  ]);
  const amount = p.int('amount', { required: true, min: 1 }) as number;
  const currency = (p.str('currency', { required: true }) as string).toLowerCase();
  const destination = p.str('destination', { required: true }) as string;
  if (!destination.startsWith('acct_')) throw noSuch('destination', destination, 'destination');
  const sourceType = p.oneOf('source_type', ['bank_account', 'card', 'fpx'] as const) ?? 'card';
  const { core } = ctx;
  core.store.noteAccount(destination);
  const t = {
    id: core.ids.next('tr'),
    object: 'transfer',
    amount,
    amount_reversed: 0,
    balance_transaction: core.ids.next('txn'),
    created: core.clock.nowSeconds(),
    currency,
    description: p.str('description') ?? null,
    destination,
    destination_payment: core.ids.next('py'),
    livemode: false,
    metadata: p.metadataForCreate(),
    reversals: { object: 'list', data: [], has_more: false, url: '' },
    reversed: false,
    source_transaction: p.str('source_transaction') ?? null,
    source_type: sourceType,
    transfer_group: p.str('transfer_group') ?? null,
  } as unknown as Stripe.Transfer;
  ctx.acc.transfers.insert(t);
  const rendered = renderTransfer(ctx.acc, t);
  core.bus.emit({
    account: ctx.account,
    type: 'transfer.created',
    object: rendered,
    request: ctx.request,
  });
  return rendered;
}

function list(ctx: Ctx): StripeList<Stripe.Transfer> {
  const p = new Params(ctx.params, [...PAGE_PARAMS, 'created', 'destination', 'transfer_group']);
  const created = p.created();
  const destination = p.str('destination');
  const group = p.str('transfer_group');
  const rows = ctx.acc.transfers
    .newestFirst()
    .filter(
      (t) =>
        matchesCreated(t.created, created) &&
        (destination === undefined || t.destination === destination) &&
        (group === undefined || t.transfer_group === group),
    );
  const page = paginate(rows, p, '/v1/transfers', 'transfer');
  return { ...page, data: page.data.map((t) => renderTransfer(ctx.acc, t)) };
}

function retrieve(ctx: Ctx): Stripe.Transfer {
  new Params(ctx.params, []);
  return renderTransfer(ctx.acc, findTransfer(ctx, ctx.path.transfer as string, 'id'));
}

/** Only description and metadata change; an event says what they were. */
function update(ctx: Ctx): Stripe.Transfer {
  const t = findTransfer(ctx, ctx.path.transfer as string, 'id');
  const p = new Params(ctx.params, ['description', 'metadata']);
  const previous: Record<string, unknown> = {};
  if (p.has('description')) {
    const description = p.str('description', { allowEmpty: true }) || null;
    if (description !== t.description) {
      previous.description = t.description;
      t.description = description;
    }
  }
  const patch = p.metadataPatch();
  if (patch) {
    const before = t.metadata;
    const after = applyMetadata(before, patch);
    // Stripe lists the changed keys with their old values (null for keys that are new).
    const changed: Record<string, string | null> = {};
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (before[k] !== after[k]) changed[k] = before[k] ?? null;
    }
    if (Object.keys(changed).length > 0) {
      previous.metadata = changed;
      t.metadata = after;
    }
  }
  const rendered = renderTransfer(ctx.acc, t);
  if (Object.keys(previous).length > 0) {
    ctx.core.bus.emit({
      account: ctx.account,
      type: 'transfer.updated',
      object: rendered,
      previousAttributes: previous,
      request: ctx.request,
    });
  }
  return rendered;
}

function createReversal(ctx: Ctx): Stripe.TransferReversal {
  const t = findTransfer(ctx, ctx.path.id as string, 'id');
  const p = new Params(ctx.params, ['amount', 'description', 'metadata', 'refund_application_fee']);
  const remaining = t.amount - t.amount_reversed;
  const amount = p.int('amount', { min: 1 }) ?? remaining;
  p.bool('refund_application_fee');
  if (remaining <= 0) {
    throw invalidRequest(`Transfer ${t.id} has already been reversed.`, {
      code: 'transfer_already_reversed',
    });
  }
  if (amount > remaining) {
    throw invalidRequest(
      `You have attempted to reverse ${amount} but only ${remaining} remains unreversed on transfer ${t.id}.`,
      { code: 'amount_too_large', param: 'amount' },
    );
  }
  const { core } = ctx;
  const r = {
    id: core.ids.next('trr'),
    object: 'transfer_reversal',
    amount,
    balance_transaction: core.ids.next('txn'),
    created: core.clock.nowSeconds(),
    currency: t.currency,
    destination_payment_refund: core.ids.next('pyr'),
    metadata: p.metadataForCreate(),
    source_refund: null,
    transfer: t.id,
  } as Stripe.TransferReversal;
  const description = p.str('description', { allowEmpty: true });
  if (description) ctx.acc.reversalDescriptions.set(r.id, description);
  ctx.acc.transferReversals.insert(r);
  const ids = ctx.acc.reversalsByTransfer.get(t.id) ?? [];
  ids.push(r.id);
  ctx.acc.reversalsByTransfer.set(t.id, ids);
  t.amount_reversed += amount;
  // `reversed` means fully reversed; a partial reversal only moves amount_reversed.
  t.reversed = t.amount_reversed === t.amount;
  core.bus.emit({
    account: ctx.account,
    type: 'transfer.reversed',
    object: renderTransfer(ctx.acc, t),
    request: ctx.request,
  });
  return structuredClone(r);
}

function findReversal(ctx: Ctx): Stripe.TransferReversal {
  const transfer = findTransfer(ctx, ctx.path.transfer as string, 'transfer');
  const id = ctx.path.id as string;
  const r = ctx.acc.transferReversals.get(id);
  if (!r || r.transfer !== transfer.id) throw noSuch('transfer_reversal', id, 'id');
  return r;
}

function listReversals(ctx: Ctx): StripeList<Stripe.TransferReversal> {
  const t = findTransfer(ctx, ctx.path.id as string, 'id');
  const p = new Params(ctx.params, [...PAGE_PARAMS]);
  const page = paginate(
    reversalsOf(ctx.acc, t.id),
    p,
    `/v1/transfers/${t.id}/reversals`,
    'transfer_reversal',
  );
  return { ...page, data: page.data.map((r) => structuredClone(r)) };
}

function retrieveReversal(ctx: Ctx): Stripe.TransferReversal {
  new Params(ctx.params, []);
  return structuredClone(findReversal(ctx));
}

/** "This request only accepts metadata and description as arguments." No event: none exists. */
function updateReversal(ctx: Ctx): Stripe.TransferReversal {
  const r = findReversal(ctx);
  const p = new Params(ctx.params, ['metadata', 'description']);
  if (p.has('description')) {
    const d = p.str('description', { allowEmpty: true });
    if (d) ctx.acc.reversalDescriptions.set(r.id, d);
    else ctx.acc.reversalDescriptions.delete(r.id);
  }
  const patch = p.metadataPatch();
  if (patch) r.metadata = applyMetadata(r.metadata ?? {}, patch);
  return structuredClone(r);
}

export const transferRoutes: Route[] = [
  { method: 'POST', path: '/v1/transfers', handler: create },
  { method: 'GET', path: '/v1/transfers', handler: list },
  { method: 'GET', path: '/v1/transfers/:transfer', handler: retrieve },
  { method: 'POST', path: '/v1/transfers/:transfer', handler: update },
  { method: 'POST', path: '/v1/transfers/:id/reversals', handler: createReversal },
  { method: 'GET', path: '/v1/transfers/:id/reversals', handler: listReversals },
  { method: 'GET', path: '/v1/transfers/:transfer/reversals/:id', handler: retrieveReversal },
  { method: 'POST', path: '/v1/transfers/:transfer/reversals/:id', handler: updateReversal },
];
