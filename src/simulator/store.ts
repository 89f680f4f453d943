import type Stripe from 'stripe';
import type { AccountId } from './types.js';

/** Rows in creation order (a Map keeps insertion order, and the clock never runs back). */
export class Table<T extends { id: string }> {
  private readonly rows = new Map<string, T>();

  get(id: string): T | undefined {
    return this.rows.get(id);
  }

  insert(row: T): T {
    this.rows.set(row.id, row);
    return row;
  }

  delete(id: string): boolean {
    return this.rows.delete(id);
  }

  /** Newest first, as every Stripe list is. */
  newestFirst(): T[] {
    return [...this.rows.values()].reverse();
  }

  get size(): number {
    return this.rows.size;
  }
}

/** Simulator-only facts about a reversal that Stripe's object does not show. */
export interface TreasuryPlan {
  kind: 'credit_reversal' | 'debit_reversal';
  id: string;
  account: AccountId;
  dueAtMs: number;
  fate: 'stuck' | 'canceled' | 'normal';
  outcome: 'won' | 'lost';
  /** A debit reversal credited up front (`initial_credit_granted`), clawed back if lost. */
  initialCredit: boolean;
}

export interface StoredEvent {
  event: Stripe.Event;
  /** Endpoints that have not answered 2xx yet. */
  pending: number;
}

/** Everything one account (or the platform) owns. */
export class AccountStore {
  readonly transfers = new Table<Stripe.Transfer>();
  /** Reversals by id; `reversalsByTransfer` keeps each transfer's in creation order. */
  readonly transferReversals = new Table<Stripe.TransferReversal>();
  readonly reversalsByTransfer = new Map<string, string[]>();
  /** A reversal's description is accepted and kept, though Stripe's object does not show it. */
  readonly reversalDescriptions = new Map<string, string>();
  readonly financialAccounts = new Table<Stripe.Treasury.FinancialAccount>();
  readonly receivedCredits = new Table<Stripe.Treasury.ReceivedCredit>();
  readonly receivedDebits = new Table<Stripe.Treasury.ReceivedDebit>();
  readonly creditReversals = new Table<Stripe.Treasury.CreditReversal>();
  readonly debitReversals = new Table<Stripe.Treasury.DebitReversal>();
  readonly events = new Table<StoredEvent & { id: string }>();
  readonly webhookEndpoints = new Table<StoredWebhookEndpoint>();
}

/**
 * A webhook endpoint made through `/v1/webhook_endpoints`. `connect` and `secret` are kept beside
 * the object: Stripe's object (stripe-node 23.1.0's `WebhookEndpoint`) has no `connect` field and
 * shows `secret` only in the create response.
 */
export interface StoredWebhookEndpoint {
  id: string;
  endpoint: Stripe.WebhookEndpoint;
  connect: boolean;
  secret: string;
}

export class Store {
  private readonly accounts = new Map<AccountId, AccountStore>();
  /** Connected accounts seen as a Stripe-Account header or a transfer destination, with when (unix s). */
  private readonly known = new Map<string, number>();

  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  account(id: AccountId): AccountStore {
    let s = this.accounts.get(id);
    if (!s) {
      s = new AccountStore();
      this.accounts.set(id, s);
    }
    if (id) this.noteAccount(id);
    return s;
  }

  noteAccount(id: string): void {
    if (!this.known.has(id)) this.known.set(id, this.nowSeconds());
  }

  connectedAccounts(): string[] {
    return [...this.known.keys()];
  }

  /** Connected accounts with when they were first seen, oldest first. */
  connectedAccountsSeen(): Array<{ id: string; created: number }> {
    return [...this.known.entries()].map(([id, created]) => ({ id, created }));
  }

  allAccounts(): Array<[AccountId, AccountStore]> {
    return [...this.accounts.entries()];
  }
}
