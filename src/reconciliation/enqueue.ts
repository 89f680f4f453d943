import type { Unit } from '../domain/units.js';
import { withTimeout } from '../queue/producer.js';
import type { Runtime } from '../runtime.js';
import { RECONCILE_DEBOUNCE_MS, touchUnits } from './outbox.js';

/** How often every installation drains the outbox even if no wake-up arrived. */
export const RECONCILE_TICK_MS = 5_000;

/** At most one wake-up job per this many ms from one process; a trailing one follows the last. */
const WAKE_EVERY_MS = 100;

const wakes = new WeakMap<object, { last: number; trailing?: NodeJS.Timeout }>();

/**
 * Asks a reconcile worker to drain the outbox. Called after every commit that touched units, so
 * it is throttled per process: one job at once, then at most one per WAKE_EVERY_MS, and a
 * trailing one after the last call of a burst — so every commit is followed by a drain that
 * starts after it. A drain waits out the units' debounce itself, so the job carries no delay.
 * Never throws: a lost wake-up only waits for the tick, since the intent itself is in Postgres.
 */
export function wakeReconcile(rt: Pick<Runtime, 'queues'> & Partial<Pick<Runtime, 'redis'>>): void {
  const queue = rt.queues.reconcile;
  const state = wakes.get(queue) ?? { last: 0 };
  wakes.set(queue, state);
  const add = () => {
    state.last = Date.now();
    state.trailing = undefined;
    // BullMQ waits without limit for a connection that is down: do not even ask then.
    if (rt.redis && rt.redis.status !== 'ready') return;
    void withTimeout(queue.add('drain', {}), 2_000, 'reconcile wake-up').catch(() => {});
  };
  const since = Date.now() - state.last;
  if (since >= WAKE_EVERY_MS) add();
  else if (!state.trailing) {
    state.trailing = setTimeout(add, WAKE_EVERY_MS - since);
    state.trailing.unref?.();
  }
}

/**
 * For writers that change units outside a projection transaction of their own (a Stripe lookup's
 * projection, a replay): records the units in the outbox and wakes a worker. Throws only if
 * Postgres does, since the outbox is the record.
 */
export async function enqueueReconcile(
  rt: Pick<Runtime, 'prisma' | 'queues'> & Partial<Pick<Runtime, 'redis'>>,
  units: readonly Unit[],
  debounceMs = RECONCILE_DEBOUNCE_MS,
): Promise<number> {
  const n = await touchUnits(
    rt.prisma,
    units.map((u) => u.key),
    debounceMs,
  );
  if (n > 0) wakeReconcile(rt);
  return n;
}
