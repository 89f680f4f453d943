export {
  backfill,
  runSweep,
  startSweep,
  type RunSweepOptions,
  type StartSweepOptions,
} from './start.js';
export { executeSweep, SweepInterruptedError, PAGE_SIZE, type ExecuteSweepOptions } from './run.js';
export { startSweepWorker, type SweepWorker, type SweepWorkerOptions } from './worker.js';
export { NIGHTLY_SCHEDULER_ID, enqueueSweepRun, sweepQueue } from './queue.js';
export {
  activeSweepRun,
  getSweepRun,
  latestSweepRuns,
  sweepRunJson,
  type SweepCursor,
  type SweepRun,
  type SweepRunJson,
  type SweepStatus,
  type SweepTrigger,
} from './store.js';
export { TokenBucket } from './rate-limit.js';
export { createSweepStripeClient } from './stripe.js';
export {
  replayStripeEvents,
  type ReplayStripeEventsOptions,
  type ReplayStripeEventsResult,
} from './replay.js';
export { knownAccounts, recoverEvents } from './recover.js';
export { sweepProgress } from './progress.js';
