import type Stripe from 'stripe';
import type { SimClock } from './clock.js';
import type { IdGenerator } from './prng.js';
import type { Store, StoredEvent } from './store.js';
import type { AccountId } from './types.js';

/** What Stripe pins `api_version` to when the request did not say (the SDK's own pin). */
export const DEFAULT_API_VERSION = '2026-10-28.endive';

/** The API request that caused a change; automatic (clock) changes have none. */
export interface RequestInfo {
  id: string | null;
  idempotencyKey: string | null;
  apiVersion: string | null;
}

export const AUTOMATIC: RequestInfo = { id: null, idempotencyKey: null, apiVersion: null };

export interface EmitInput {
  account: AccountId;
  type: string;
  object: { object: string; id: string };
  previousAttributes?: Record<string, unknown>;
  request: RequestInfo;
}

/**
 * Creates events: stored per account for `GET /v1/events`, then handed to the webhook
 * dispatcher. `data.object` is a deep snapshot, so later changes never leak into old events.
 */
export class EventBus {
  private listener: (stored: StoredEvent, account: AccountId) => number = () => 0;

  constructor(
    private readonly clock: SimClock,
    private readonly ids: IdGenerator,
    private readonly store: Store,
  ) {}

  /** The listener returns how many endpoints the event will be sent to (`pending_webhooks`). */
  onEvent(listener: (stored: StoredEvent, account: AccountId) => number): void {
    this.listener = listener;
  }

  emit(input: EmitInput): Stripe.Event {
    const data: { object: unknown; previous_attributes?: Record<string, unknown> } = {
      object: structuredClone(input.object),
    };
    if (input.previousAttributes)
      data.previous_attributes = structuredClone(input.previousAttributes);
    const event = {
      id: this.ids.next('evt'),
      object: 'event',
      // Stripe sets `account` only on connected-account events; the platform's have no such key.
      ...(input.account ? { account: input.account } : {}),
      api_version: input.request.apiVersion ?? DEFAULT_API_VERSION,
      created: this.clock.nowSeconds(),
      data,
      livemode: false,
      pending_webhooks: 0,
      request: { id: input.request.id, idempotency_key: input.request.idempotencyKey },
      type: input.type,
    } as unknown as Stripe.Event;
    const stored: StoredEvent & { id: string } = { id: event.id, event, pending: 0 };
    this.store.account(input.account).events.insert(stored);
    const endpoints = this.listener(stored, input.account);
    stored.pending = endpoints;
    return event;
  }
}

/** An event as `GET /v1/events` shows it now: `pending_webhooks` counts down as endpoints answer. */
export function renderEvent(stored: StoredEvent): Stripe.Event {
  return { ...stored.event, pending_webhooks: stored.pending };
}
