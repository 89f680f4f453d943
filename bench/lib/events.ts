import { createHmac, randomBytes } from 'node:crypto';

/**
 * Realistic Stripe events (~1.5 KB, the shapes of test/fixtures/stripe) built from ids and
 * amounts, for the benchmark. Compact JSON, as Stripe sends it.
 */

const API_VERSION = '2026-10-28.endive';
const ACCOUNT = 'acct_1PgafTB7WZ01zgkW';
const FA = 'fa_1Pgc7BB7WZ01zgkWxDkCj857';
const RECEIPT =
  'https://payments.stripe.com/regulatory-receipt/CBQaFwoVYWNjdF8xUGdhZlRCN1daMDF6Z2tXKJnei7UGMgZ3U4M-qIg6Nv3nRffl0eHDb937PJZYd2t6AXma3QzJSqHHIKA17nkwM6oG4egKu2JJvBr9Sm1wmKUWDdLmtA';

/** A run-unique id generator: `<prefix>_<tag><n base36>` (letters and digits only). */
export class Ids {
  readonly tag: string;
  #n = 0;
  constructor(tag = randomBytes(4).toString('hex')) {
    this.tag = tag;
  }
  next(prefix: string): string {
    return `${prefix}_B${this.tag}${(this.#n++).toString(36).padStart(9, '0')}`;
  }
}

const pad = (ref: string) => ({
  order_id: `order_${ref}`,
  ledger_batch: 'bench-2026-11-22',
  seller_reference: `seller-${ref.slice(-8)}`,
  reason: 'Buyer dispute upheld; platform reverses the seller payout for the refunded order lines',
  support_ticket: `https://support.example.com/tickets/${ref.slice(-12)}?view=finance&tab=reversals`,
  reviewed_by: 'finance-ops@example.com',
});

export interface EventEnvelope {
  id: string;
  object: 'event';
  account?: string;
  api_version: string;
  created: number;
  data: { object: Record<string, unknown> };
  livemode: boolean;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export function event(
  type: string,
  object: Record<string, unknown>,
  id: string,
  created: number,
  account?: string,
): EventEnvelope {
  const ev: EventEnvelope = {
    id,
    object: 'event',
    api_version: API_VERSION,
    created,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: `req_${id.slice(4, 20)}`, idempotency_key: `${id.slice(4)}-idem` },
    type,
  };
  if (account) ev.account = account;
  return ev;
}

export function transferReversal(id: string, transfer: string, amount: number, created: number) {
  return {
    amount,
    balance_transaction: `txn_${id.slice(4)}`,
    created,
    currency: 'usd',
    destination_payment_refund: `pyr_${id.slice(4)}`,
    id,
    metadata: { ledger_entry_id: `le_${id}`, ...pad(id) },
    object: 'transfer_reversal',
    source_refund: null,
    transfer,
  };
}

export function transfer(
  id: string,
  amount: number,
  reversals: Array<ReturnType<typeof transferReversal>>,
  created: number,
) {
  const amountReversed = reversals.reduce((s, r) => s + r.amount, 0);
  return {
    amount,
    amount_reversed: amountReversed,
    balance_transaction: `txn_${id.slice(3)}`,
    created,
    currency: 'usd',
    description: 'Payout to seller for marketplace order',
    destination: ACCOUNT,
    destination_payment: `py_${id.slice(3)}`,
    id,
    livemode: false,
    metadata: pad(id),
    object: 'transfer',
    reversals: {
      object: 'list',
      data: reversals,
      has_more: false,
      total_count: reversals.length,
      url: `/v1/transfers/${id}/reversals`,
    },
    reversed: amountReversed >= amount,
    source_transaction: null,
    source_type: 'card',
    transfer_group: `group_${id.slice(3)}`,
  };
}

function received(
  kind: 'credit' | 'debit',
  id: string,
  amount: number,
  status: string,
  created: number,
) {
  const linked =
    kind === 'credit'
      ? {
          credit_reversal: null,
          issuing_authorization: null,
          issuing_transaction: null,
          source_flow: null,
          source_flow_type: null,
        }
      : {
          debit_reversal: null,
          inbound_transfer: null,
          issuing_authorization: null,
          issuing_transaction: null,
          payout: null,
          topup: null,
        };
  return {
    amount,
    created,
    currency: 'usd',
    description: 'Stripe Test',
    failure_code: null,
    financial_account: FA,
    hosted_regulatory_receipt_url: RECEIPT,
    id,
    initiating_payment_method_details: {
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
        name: 'Jane Austen',
      },
      type: 'us_bank_account',
      us_bank_account: {
        bank_name: 'STRIPE TEST BANK',
        last4: '6789',
        routing_number: '110000000',
      },
    },
    linked_flows: linked,
    livemode: false,
    network: 'ach',
    object: `treasury.received_${kind}`,
    reversal_details: { deadline: created + 86_400 * 5, restricted_reason: null },
    status,
    transaction: `trxn_${id.slice(3)}`,
  };
}

export const receivedCredit = (id: string, amount: number, status: string, created: number) =>
  received('credit', id, amount, status, created);
export const receivedDebit = (id: string, amount: number, status: string, created: number) =>
  received('debit', id, amount, status, created);

export function creditReversal(
  id: string,
  rc: string,
  amount: number,
  status: 'processing' | 'posted' | 'canceled',
  created: number,
) {
  return {
    amount,
    created,
    currency: 'usd',
    financial_account: FA,
    hosted_regulatory_receipt_url: RECEIPT,
    id,
    livemode: false,
    metadata: { ledger_entry_id: `le_${id}`, ...pad(id) },
    network: 'ach',
    object: 'treasury.credit_reversal',
    received_credit: rc,
    status,
    status_transitions: { posted_at: status === 'posted' ? created + 86_400 : null },
    transaction: `trxn_${id.slice(8)}`,
  };
}

export function debitReversal(
  id: string,
  rd: string,
  amount: number,
  status: 'processing' | 'succeeded' | 'failed',
  created: number,
) {
  return {
    amount,
    created,
    currency: 'usd',
    financial_account: FA,
    hosted_regulatory_receipt_url: RECEIPT,
    id,
    linked_flows: { issuing_dispute: null },
    livemode: false,
    metadata: { ledger_entry_id: `le_${id}`, ...pad(id) },
    network: 'ach',
    object: 'treasury.debit_reversal',
    received_debit: rd,
    ...(status === 'failed'
      ? { resolution: 'lost' }
      : status === 'succeeded'
        ? { resolution: 'won' }
        : {}),
    status,
    status_transitions: { completed_at: status === 'processing' ? null : created + 86_400 },
    transaction: status === 'failed' ? null : `trxn_${id.slice(7)}`,
  };
}

/** `Stripe-Signature` exactly as the SDK's generateTestHeaderString builds it (t + v1 HMAC-SHA256). */
export function signatureHeader(
  payload: string,
  secret: string,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  const sig = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${sig}`;
}

/** Deterministic PRNG (mulberry32) so datasets are the same every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

export { ACCOUNT as BENCH_ACCOUNT };
