import { withTimeout } from '../queue/producer.js';
import type { Runtime } from '../runtime.js';
import { RECONCILE_DEBOUNCE_MS, touchUnits } from './outbox.js';

/** A unit to reconcile: its key (transfer / received credit / received debit id). */
export interface UnitRef {
  key: string;
  /** ReversalKind, where the writer knows it (informational: the key decides). */
  kind?: string;
}

/** How often every installation drains the outbox even if no wake-up arrived. */
export const RECONCILE_TICK_MS = 5_000;

/** Wake-ups this process added recently: one per debounce window is plenty. */
const lastWake = new WeakMap<object, number>();

/**
 * Asks a reconcile worker to drain the outbox in `delayMs`: one deduplicated BullMQ job, and at
 * most one add per debounce window from this process, so a stream of committed batches costs a
 * handful of Redis scripts a second instead of one per unit. Never throws: a lost wake-up only
 * waits for the tick, since the intent itself is in Postgres.
 */
export async function wakeReconcile(
  rt: Pick<Runtime, 'queues'> & Partial<Pick<Runtime, 'redis'>>,
  delayMs = RECONCILE_DEBOUNCE_MS,
): Promise<boolean> {
  const queue = rt.queues.reconcile;
  const now = Date.now();
  const last = lastWake.get(queue) ?? 0;
  // A wake-up already pending at or before the one asked for covers it.
  if (last > now && last <= now + delayMs) return true;
  // BullMQ waits without limit for a connection that is down: do not even ask then.
  if (rt.redis && rt.redis.status !== 'ready') return false;
  lastWake.set(queue, now + delayMs);
  try {
    await withTimeout(
      queue.add(
        'drain',
        {},
        {
          delay: delayMs,
          // Adds inside the window are absorbed by the pending job; it runs after the window, so
          // it sees every unit they touched.
          deduplication: { id: 'drain', ttl: Math.max(1, Math.floor(delayMs * 0.8)) },
        },
      ),
      2_000,
      'reconcile wake-up',
    );
    return true;
  } catch {
    lastWake.delete(queue);
    return false;
  }
}

/**
 * For writers that change units outside a projection transaction of their own (a Stripe lookup's
 * projection, a replay): records the units in the outbox and wakes a worker. Throws only if
 * Postgres does, since the outbox is the record.
 */
export async function enqueueReconcile(
  rt: Pick<Runtime, 'pool' | 'queues'> & Partial<Pick<Runtime, 'redis'>>,
  units: readonly UnitRef[],
  debounceMs = RECONCILE_DEBOUNCE_MS,
): Promise<number> {
  const n = await touchUnits(
    rt.pool,
    units.map((u) => u.key),
    debounceMs,
  );
  if (n > 0) await wakeReconcile(rt, debounceMs);
  return n;
}
