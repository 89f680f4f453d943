/**
 * Stripe object factories for the projection tests, shaped like Stripe's own fixtures
 * (Stripe's example objects) with overridable fields.
 */

import { STATUS_HISTORY_SQL } from '../../src/projections/writers.js';

type O = Record<string, unknown>;

export function transferReversal(over: O & { id: string; transfer: string }): O {
  return {
    object: 'transfer_reversal',
    amount: 100,
    balance_transaction: null,
    created: 1_700_000_000,
    currency: 'usd',
    destination_payment_refund: null,
    metadata: {},
    source_refund: null,
    ...over,
  };
}

export function transfer(over: O & { id: string }, reversals: O[] = [], hasMore = false): O {
  const amountReversed = reversals.reduce((s, r) => s + (r.amount as number), 0);
  return {
    object: 'transfer',
    amount: 1100,
    amount_reversed: amountReversed,
    balance_transaction: 'txn_1PgaxNB7WZ01zgkWEV3TLf40',
    created: 1_700_000_000,
    currency: 'usd',
    description: null,
    destination: 'acct_1PgafTB7WZ01zgkW',
    destination_payment: 'py_QXhWZR8SdWquhf',
    livemode: false,
    metadata: {},
    reversals: {
      object: 'list',
      data: reversals,
      has_more: hasMore,
      url: `/v1/transfers/${over.id}/reversals`,
    },
    reversed: false,
    source_transaction: null,
    source_type: 'card',
    transfer_group: null,
    ...over,
  };
}

export function creditReversal(over: O & { id: string }): O {
  return {
    object: 'treasury.credit_reversal',
    amount: 1000,
    created: 1_700_000_000,
    currency: 'usd',
    financial_account: 'fa_1Pgc7BB7WZ01zgkWxDkCj857',
    hosted_regulatory_receipt_url: 'https://example.test/receipt/1',
    livemode: false,
    metadata: {},
    network: 'ach',
    received_credit: 'rc_1Pgc7BB7WZ01zgkWv2rpvGwQ',
    status: 'processing',
    status_transitions: { posted_at: null },
    transaction: 'trxn_1Pgc7BB7WZ01zgkWvyFCYTAP',
    ...over,
  };
}

export function debitReversal(over: O & { id: string }): O {
  return {
    object: 'treasury.debit_reversal',
    amount: 1000,
    created: 1_700_000_000,
    currency: 'usd',
    financial_account: 'fa_1Pgc7BB7WZ01zgkWxDkCj857',
    hosted_regulatory_receipt_url: null,
    linked_flows: { issuing_dispute: null },
    livemode: false,
    metadata: {},
    network: 'ach',
    received_debit: 'rd_1Pgc7HB7WZ01zgkWlhCJ4BHN',
    status: 'processing',
    status_transitions: { completed_at: null },
    transaction: null,
    ...over,
  };
}

const initiating = {
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
  us_bank_account: { bank_name: 'STRIPE TEST BANK', last4: '6789', routing_number: '110000000' },
};

export function receivedCredit(over: O & { id: string }): O {
  return {
    object: 'treasury.received_credit',
    amount: 1234,
    created: 1_700_000_000,
    currency: 'usd',
    description: 'Stripe Test',
    failure_code: null,
    financial_account: 'fa_1Pgc7BB7WZ01zgkWxDkCj857',
    hosted_regulatory_receipt_url: null,
    initiating_payment_method_details: initiating,
    linked_flows: {
      credit_reversal: null,
      issuing_authorization: null,
      issuing_transaction: null,
      source_flow: null,
      source_flow_type: null,
    },
    livemode: false,
    network: 'ach',
    reversal_details: { deadline: 1_722_297_600, restricted_reason: null },
    status: 'succeeded',
    transaction: 'trxn_1Pgc7BB7WZ01zgkWvyFCYTAP',
    ...over,
  };
}

export function receivedDebit(over: O & { id: string }): O {
  return {
    object: 'treasury.received_debit',
    amount: 54321,
    created: 1_700_000_000,
    currency: 'usd',
    description: 'Stripe Test',
    failure_code: null,
    financial_account: 'fa_1Pgc7BB7WZ01zgkWxDkCj857',
    hosted_regulatory_receipt_url: null,
    initiating_payment_method_details: initiating,
    linked_flows: {
      debit_reversal: null,
      inbound_transfer: null,
      issuing_authorization: null,
      issuing_transaction: null,
      payout: null,
      topup: null,
    },
    livemode: false,
    network: 'ach',
    reversal_details: { deadline: 1_722_297_600, restricted_reason: null },
    status: 'succeeded',
    transaction: 'trxn_1Pgc7BB7WZ01zgkWvyFCYTAP',
    ...over,
  };
}

/** Every projection table and status_history, minus the columns that record wall-clock time. */
export const PROJECTION_DUMP_SQL = {
  transfers: 'SELECT * FROM transfers ORDER BY id',
  transfer_reversals: 'SELECT * FROM transfer_reversals ORDER BY id',
  credit_reversals: 'SELECT * FROM credit_reversals ORDER BY id',
  debit_reversals: 'SELECT * FROM debit_reversals ORDER BY id',
  received_credits: 'SELECT * FROM received_credits ORDER BY id',
  received_debits: 'SELECT * FROM received_debits ORDER BY id',
  status_history: `SELECT object_type, object_id, from_status, to_status, to_status_raw, event_id, event_created
                     FROM (${STATUS_HISTORY_SQL}) AS h ORDER BY object_id, to_status`,
} as const;

/** Empties the projection tables and the inbox; DELETE beats TRUNCATE on tables this small. */
export const TRUNCATE_PROJECTIONS_SQL = [
  'transfers',
  'transfer_reversals',
  'credit_reversals',
  'debit_reversals',
  'received_credits',
  'received_debits',
  'status_history',
  'stripe_events',
]
  .map((t) => `DELETE FROM ${t};`)
  .join(' ');

export async function dumpProjections(pool: {
  query: (sql: string) => Promise<{ rows: Array<Record<string, unknown>> }>;
}): Promise<Record<string, Array<Record<string, unknown>>>> {
  const out: Record<string, Array<Record<string, unknown>>> = {};
  for (const [name, sql] of Object.entries(PROJECTION_DUMP_SQL)) {
    const { rows } = await pool.query(sql);
    out[name] = rows.map((r) => {
      const { updated_at: _u, recorded_at: _r, ...rest } = r;
      return rest;
    });
  }
  return out;
}
