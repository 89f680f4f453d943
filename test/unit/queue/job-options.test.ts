import { describe, expect, it } from 'vitest';
import { QUEUE_NAMES, jobOptionsFor } from '../../../src/queue/queues.js';

const config = { QUEUE_PREFIX: 'recon', JOB_ATTEMPTS: 7, JOB_BACKOFF: 1_000 };

describe('jobOptionsFor', () => {
  it.each([QUEUE_NAMES.events, QUEUE_NAMES.reconcile, QUEUE_NAMES.alerts])(
    '%s: attempts and exponential backoff from the config, completed jobs dropped',
    (name) => {
      expect(jobOptionsFor(name, config)).toEqual({
        attempts: 7,
        backoff: { type: 'exponential', delay: 1_000 },
        removeOnComplete: true,
        removeOnFail: false,
      });
    },
  );

  it('sweep: backoff of at least 5 s, the last 100 completed jobs kept', () => {
    expect(jobOptionsFor(QUEUE_NAMES.sweep, config)).toEqual({
      attempts: 7,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: 100,
      removeOnFail: false,
    });
    expect(jobOptionsFor(QUEUE_NAMES.sweep, { ...config, JOB_BACKOFF: 8_000 }).backoff).toEqual({
      type: 'exponential',
      delay: 8_000,
    });
  });
});
