/**
 * The Stripe event types the projection workers handle. Anything else is acknowledged (so Stripe
 * stops retrying), stored with status `ignored` for the record, and never enqueued.
 */
export const HANDLED_EVENT_TYPES = [
  'transfer.created',
  'transfer.reversed',
  'transfer.updated',
  'treasury.credit_reversal.created',
  'treasury.credit_reversal.posted',
  'treasury.debit_reversal.created',
  'treasury.debit_reversal.completed',
  'treasury.debit_reversal.initial_credit_granted',
  'treasury.received_credit.created',
  'treasury.received_credit.failed',
  'treasury.received_credit.succeeded',
  'treasury.received_debit.created',
] as const;

export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];

const HANDLED: ReadonlySet<string> = new Set(HANDLED_EVENT_TYPES);

export function isHandledEventType(type: string): type is HandledEventType {
  return HANDLED.has(type);
}
