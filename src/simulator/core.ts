import type { SimClock } from './clock.js';
import type { EventBus, RequestInfo } from './events.js';
import type { FormObject } from './form.js';
import type { IdGenerator } from './prng.js';
import type { AccountStore, Store, TreasuryPlan } from './store.js';
import type { AccountId, TreasuryRules } from './types.js';

/** The simulator's state, shared by every resource handler. */
export interface Core {
  clock: SimClock;
  ids: IdGenerator;
  store: Store;
  bus: EventBus;
  rules: TreasuryRules;
  /** Pending Treasury transitions, applied in due order by `advance()`. */
  plans: Map<string, TreasuryPlan>;
}

/** One API request as a handler sees it. */
export interface Ctx {
  core: Core;
  account: AccountId;
  acc: AccountStore;
  params: FormObject;
  path: Record<string, string>;
  request: RequestInfo;
}

export type Handler = (ctx: Ctx) => unknown;

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** `/v1/transfers/:id/reversals`; `:name` captures one segment. */
  path: string;
  handler: Handler;
}

export function receiptUrl(id: string): string {
  // Shaped like Stripe's hosted regulatory receipts; nothing is served there.
  return `https://payments.stripe.com/regulatory-receipt/sim_${id}`;
}
