import { Queue, UnrecoverableError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchConsumer, type JobOutcome } from '../../src/queue/batch-consumer.js';
import { randomQueuePrefix, redisUrl, waitFor } from '../support/db.js';
import { captureLog } from '../support/events.js';

interface Data {
  n: number;
}

/** The real consumer against real Redis: batching, the delayed-job case, failures, shutdown. */
describe('BatchConsumer', () => {
  let prefix: string;
  let queue: Queue<Data>;
  let connections: Redis[];
  let consumers: Array<BatchConsumer<Data>>;

  const connection = () => {
    const r = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    connections.push(r);
    return r;
  };

  const consumer = (
    handle: (jobs: Job<Data>[]) => Promise<JobOutcome[]>,
    opts: {
      maxBatch?: number;
      maxInFlight?: number;
      weight?: (job: Job<Data>) => number;
      maxWeight?: number;
    } = {},
  ) => {
    const c = new BatchConsumer<Data>({
      queueName: 'q',
      prefix,
      connection: connection(),
      log: captureLog('fatal').log,
      maxBatch: opts.maxBatch ?? 100,
      maxInFlight: opts.maxInFlight ?? 2,
      ...(opts.weight ? { weight: opts.weight, maxWeight: opts.maxWeight } : {}),
      handle,
    });
    consumers.push(c);
    return c;
  };

  const addMany = (count: number, opts: object = {}) =>
    queue.addBulk(
      Array.from({ length: count }, (_, n) => ({
        name: 'j',
        data: { n },
        opts: { removeOnComplete: true, removeOnFail: false, ...opts },
      })),
    );

  beforeEach(() => {
    prefix = randomQueuePrefix();
    connections = [];
    consumers = [];
    queue = new Queue<Data>('q', { connection: connection(), prefix });
  });

  afterEach(async () => {
    for (const c of consumers) await c.close();
    await queue.obliterate({ force: true });
    await queue.close();
    for (const r of connections) r.disconnect();
  });

  it('takes a backlog in full batches and completes every job exactly once', async () => {
    await addMany(1_000);
    const sizes: number[] = [];
    const seen = new Map<number, number>();
    const c = consumer(
      async (jobs) => {
        sizes.push(jobs.length);
        for (const j of jobs) seen.set(j.data.n, (seen.get(j.data.n) ?? 0) + 1);
        return jobs.map(() => null);
      },
      { maxBatch: 100 },
    );
    let completed = 0;
    c.on('completed', () => void completed++);
    await waitFor(() => completed === 1_000, { what: '1000 completions' });
    expect(seen.size).toBe(1_000);
    expect([...seen.values()].every((v) => v === 1)).toBe(true);
    expect(Math.max(...sizes)).toBe(100);
    // A few batches fill up while the first ones run; nowhere near one job per batch.
    expect(sizes.length).toBeLessThan(100);
    expect(await queue.getJobCounts('wait', 'active', 'completed', 'failed')).toEqual({
      wait: 0,
      active: 0,
      completed: 0,
      failed: 0,
    });
  });

  it('fills a batch by weight: light jobs up to maxBatch, heavy ones one at a time', async () => {
    // Jobs under 300 weigh 1 (a receiver's small batch), the others 500 (a relay page).
    const weight = (j: Job<Data>) => (j.data.n < 300 ? 1 : 500);
    const batches: number[][] = [];
    const c = consumer(
      async (jobs) => {
        batches.push(jobs.map((j) => j.data.n));
        return jobs.map(() => null);
      },
      { maxBatch: 64, weight, maxWeight: 500 },
    );
    let completed = 0;
    c.on('completed', () => void completed++);
    await addMany(300);
    await waitFor(() => completed === 300, { what: '300 light jobs' });
    // Light jobs fill batches up to maxBatch: their weight stays far below maxWeight.
    expect(Math.max(...batches.map((b) => b.length))).toBe(64);
    batches.length = 0;
    await queue.addBulk(
      Array.from({ length: 20 }, (_, i) => ({
        name: 'j',
        data: { n: 300 + i },
        opts: { removeOnComplete: true },
      })),
    );
    await waitFor(() => completed === 320, { what: '20 heavy jobs' });
    // A heavy job reaches maxWeight alone: each rides in a batch of its own.
    expect(batches).toHaveLength(20);
    expect(batches.every((b) => b.length === 1)).toBe(true);
  });

  it('keeps batching while a delayed job waits in the queue (BullMQ Worker would trickle)', async () => {
    await queue.add('later', { n: -1 }, { delay: 60_000 });
    const sizes: number[] = [];
    const c = consumer(
      async (jobs) => {
        sizes.push(jobs.length);
        // A slow transaction: BullMQ's Worker would fetch one job per finished one here.
        await new Promise((r) => setTimeout(r, 20));
        return jobs.map(() => null);
      },
      { maxBatch: 200 },
    );
    let done = 0;
    c.on('completed', () => void done++);
    await addMany(600);
    await waitFor(() => done === 600, { what: '600 completions' });
    expect(sizes.length).toBeLessThan(30);
    expect(Math.max(...sizes)).toBe(200);
    expect(await queue.getDelayedCount()).toBe(1);
  });

  it('delayed jobs run when due, in one batch', async () => {
    const sizes: number[] = [];
    const c = consumer(async (jobs) => {
      sizes.push(jobs.length);
      return jobs.map(() => null);
    });
    let done = 0;
    c.on('completed', () => void done++);
    const added = Date.now();
    await addMany(50, { delay: 300 });
    await waitFor(() => done === 50, { what: 'delayed jobs' });
    expect(Date.now() - added).toBeGreaterThanOrEqual(300);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(50);
    expect(sizes.length).toBeLessThanOrEqual(3);
  });

  it('fails only the jobs whose outcome is an error; retries them, then dead-letters', async () => {
    await addMany(20, { attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    const attempts = new Map<number, number>();
    const c = consumer(async (jobs) =>
      jobs.map((j) => {
        attempts.set(j.data.n, (attempts.get(j.data.n) ?? 0) + 1);
        if (j.data.n === 3) return new Error('transient, then permanent');
        if (j.data.n === 7) return new UnrecoverableError('poison');
        return null;
      }),
    );
    const failed: Array<{ n: number; final: boolean }> = [];
    let completed = 0;
    c.on('completed', () => void completed++);
    c.on('failed', (job, _err, final) => void failed.push({ n: job.data.n, final }));
    await waitFor(() => completed === 18 && failed.filter((f) => f.final).length === 2, {
      what: 'completions and final failures',
    });
    expect(attempts.get(3)).toBe(2); // retried once
    expect(attempts.get(7)).toBe(1); // unrecoverable: never retried
    expect(failed).toEqual(
      expect.arrayContaining([
        { n: 3, final: false },
        { n: 3, final: true },
        { n: 7, final: true },
      ]),
    );
    const dead = await queue.getFailed();
    expect(dead.map((j) => j.data.n).sort()).toEqual([3, 7]);
  });

  it('a handler that throws fails the whole batch, and the jobs are retried', async () => {
    await addMany(10, { attempts: 3, backoff: { type: 'fixed', delay: 20 } });
    let calls = 0;
    const c = consumer(async (jobs) => {
      calls++;
      if (calls === 1) throw new Error('database down');
      return jobs.map(() => null);
    });
    let completed = 0;
    c.on('completed', () => void completed++);
    await waitFor(() => completed === 10, { what: 'retried batch' });
    expect(await queue.getFailedCount()).toBe(0);
  });

  it('jobs of a consumer that died mid-batch are handed to another one, none lost', async () => {
    await addMany(40);
    const connA = connection();
    const a = new BatchConsumer<Data>({
      queueName: 'q',
      prefix,
      connection: connA,
      log: captureLog('fatal').log,
      maxBatch: 40,
      lockDurationMs: 1_000,
      stalledIntervalMs: 300,
      handle: () => new Promise<never>(() => {}), // hangs: the process "dies" mid-batch
    });
    await waitFor(async () => (await queue.getActiveCount()) === 40, { what: 'A holds all 40' });
    // The process dies: its connections go and its locks stop being renewed.
    void a.worker.close(true);
    connA.disconnect();

    const seen = new Set<number>();
    const b = new BatchConsumer<Data>({
      queueName: 'q',
      prefix,
      connection: connection(),
      log: captureLog('fatal').log,
      maxBatch: 100,
      lockDurationMs: 1_000,
      stalledIntervalMs: 300,
      handle: async (jobs) => {
        for (const j of jobs) seen.add(j.data.n);
        return jobs.map(() => null);
      },
    });
    consumers.push(b);
    let completed = 0;
    b.on('completed', () => void completed++);
    await waitFor(() => completed === 40, { what: 'B redoes the stalled jobs', timeoutMs: 15_000 });
    expect(seen.size).toBe(40);
    expect(await queue.getJobCounts('wait', 'active', 'failed')).toEqual({
      wait: 0,
      active: 0,
      failed: 0,
    });
  });

  it('close() finishes the batch in flight before it returns', async () => {
    await addMany(30);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const c = consumer(
      async (jobs) => {
        started += jobs.length;
        await gate;
        return jobs.map(() => null);
      },
      { maxBatch: 30, maxInFlight: 1 },
    );
    let completed = 0;
    c.on('completed', () => void completed++);
    await waitFor(() => started === 30, { what: 'batch started' });
    const closing = c.close();
    setTimeout(release, 100);
    await closing;
    expect(completed).toBe(30);
    expect(await queue.getJobCounts('wait', 'active')).toEqual({ wait: 0, active: 0 });
  });
});
