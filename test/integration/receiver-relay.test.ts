import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES, createRedis } from '../../src/queue/queues.js';
import { relayInboxOnce, replayInbox } from '../../src/queue/relay.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { captureLog, makeEvent, stripeId, testConfig } from '../support/events.js';

let db: TestDatabase;
let rt: Runtime;

beforeAll(async () => {
  db = await createTestDatabase();
  rt = createRuntime(testConfig({ DATABASE_URL: db.url }), captureLog().log);
  await waitFor(() => rt.redis.status === 'ready', { what: 'redis' });
});
afterAll(async () => {
  await rt?.close();
  await db?.close();
});

interface Seed {
  status?: string;
  /** seconds ago; null = never enqueued */
  enqueuedAgo?: number | null;
  receivedAgo?: number;
}

async function seed(s: Seed = {}): Promise<string> {
  const ev = makeEvent('transfer.created', { id: stripeId('tr'), object: 'transfer' });
  await db.pool.query(
    `INSERT INTO stripe_events (id, type, livemode, created, payload, status, received_at, enqueued_at)
     VALUES ($1, $2, false, $3, $4, $5, now() - make_interval(secs => $6), 
             CASE WHEN $7::float8 IS NULL THEN NULL ELSE now() - make_interval(secs => $7::float8) END)`,
    [
      ev.id,
      ev.type,
      ev.created,
      JSON.stringify(ev),
      s.status ?? 'pending',
      s.receivedAgo ?? 3600,
      s.enqueuedAgo ?? null,
    ],
  );
  return ev.id;
}

/** Makes `id` a failed job, the way the worker would after its last attempt. */
async function failJob(rt: Runtime, id: string): Promise<void> {
  await rt.queues.events.add(
    'transfer.created',
    { id, type: 'transfer.created', account: null, payload: '{}' },
    { jobId: id, attempts: 1 },
  );
  const conn = createRedis(rt.config.REDIS_URL);
  const worker = new Worker(
    QUEUE_NAMES.events,
    async () => {
      throw new UnrecoverableError('poison');
    },
    { connection: conn, prefix: rt.config.QUEUE_PREFIX, autorun: true },
  );
  try {
    await waitFor(async () => (await rt.queues.events.getJobState(id)) === 'failed', {
      what: 'job failed',
    });
  } finally {
    await worker.close();
    conn.disconnect();
  }
}

async function enqueuedAt(id: string): Promise<Date | null> {
  const { rows } = await db.pool.query('SELECT enqueued_at FROM stripe_events WHERE id = $1', [id]);
  return rows[0].enqueued_at;
}

describe('inbox relay', () => {
  it('adds never-enqueued rows, re-adds stuck rows whose job is gone, leaves failed and queued jobs', async () => {
    const failed = await seed({ enqueuedAgo: 600 });
    await failJob(rt, failed); // before the other jobs exist, so the worker only sees this one
    const fresh = await seed({ enqueuedAgo: null });
    const young = await seed({ enqueuedAgo: null, receivedAgo: 0 });
    const missing = await seed({ enqueuedAgo: 600 });
    const queued = await seed({ enqueuedAgo: 600 });
    await rt.queues.events.add(
      'transfer.created',
      { id: queued, type: 'transfer.created', account: null, payload: '{}' },
      { jobId: queued },
    );
    const recent = await seed({ enqueuedAgo: 5 });
    const processed = await seed({ status: 'processed', enqueuedAgo: null });
    const ignored = await seed({ status: 'ignored', enqueuedAgo: null });

    const r = await relayInboxOnce(rt, { stuckAfterMs: 60_000, minAgeMs: 30_000, pageSize: 2 });
    expect(r).toMatchObject({ added: 1, readded: 1, failed: 1, inQueue: 1 });
    expect(r.skipped).toBeUndefined();

    const q = rt.queues.events;
    expect(await q.getJobState(fresh)).toBe('waiting');
    expect(await q.getJobState(missing)).toBe('waiting');
    expect(await q.getJobState(failed)).toBe('failed');
    expect(await q.getJobState(queued)).toBe('waiting');
    for (const id of [young, recent, processed, ignored])
      expect(await q.getJobState(id)).toBe('unknown');
    expect(await enqueuedAt(fresh)).not.toBeNull();
    expect(await enqueuedAt(young)).toBeNull();

    // Everything looked at was stamped, so a second pass has nothing to do.
    const again = await relayInboxOnce(rt, { stuckAfterMs: 60_000, minAgeMs: 30_000 });
    expect(again).toMatchObject({ added: 0, readded: 0, failed: 0, inQueue: 0 });
  });

  it('two relays at once claim disjoint rows', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, () => seed({ enqueuedAgo: null })));
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM stripe_events WHERE status = 'pending' AND enqueued_at IS NULL",
    );
    const [a, b] = await Promise.all([
      relayInboxOnce(rt, { minAgeMs: 0, stuckAfterMs: 3_600_000, pageSize: 10 }),
      relayInboxOnce(rt, { minAgeMs: 0, stuckAfterMs: 3_600_000, pageSize: 10 }),
    ]);
    expect(a.added + b.added).toBe(rows[0].n); // each row once: ours plus the first test's young one
    const jobs = await Promise.all(ids.map((id) => rt.queues.events.getJob(id)));
    expect(jobs.every(Boolean)).toBe(true);
  });
});

describe('replayInbox', () => {
  // Its own queue prefix: the worker that fails a job below must not see the other tests' jobs.
  let rt: Runtime;
  beforeAll(async () => {
    rt = createRuntime(testConfig({ DATABASE_URL: db.url }), captureLog().log);
    await waitFor(() => rt.redis.status === 'ready', { what: 'redis' });
  });
  afterAll(async () => {
    await rt?.close();
  });

  it('re-enqueues every row since T, removing finished jobs first', async () => {
    const { rows: clock } = await db.pool.query<{ now: Date }>('SELECT now()');
    const since = clock[0]!.now;
    const old = await seed({ receivedAgo: 86_400, status: 'processed' });
    const done = await seed({ receivedAgo: 0, status: 'processed', enqueuedAgo: 0 });
    const failed = await seed({ receivedAgo: 0, status: 'failed', enqueuedAgo: 0 });
    await failJob(rt, failed);
    const waiting = await seed({ receivedAgo: 0, enqueuedAgo: 0 });
    await rt.queues.events.add(
      'transfer.created',
      { id: waiting, type: 'transfer.created', account: null, payload: '{}' },
      { jobId: waiting },
    );
    const ignored = await seed({ receivedAgo: 0, status: 'ignored' });

    // Every other test's row was received before `since`.
    const r = await replayInbox(rt, { since, pageSize: 2 });
    expect(r).toEqual({ enqueued: 3, removed: 1, alreadyQueued: 1 });
    const q = rt.queues.events;
    expect(await q.getJobState(done)).toBe('waiting');
    expect(await q.getJobState(failed)).toBe('waiting');
    expect(await q.getJobState(waiting)).toBe('waiting');
    expect(await q.getJobState(ignored)).toBe('unknown');
    expect(await q.getJobState(old)).toBe('unknown');
    const { rows } = await db.pool.query(
      'SELECT id, status FROM stripe_events WHERE id = ANY($1) ORDER BY id',
      [[done, failed, ignored]],
    );
    expect(Object.fromEntries(rows.map((x) => [x.id, x.status]))).toEqual({
      [done]: 'pending',
      [failed]: 'pending',
      [ignored]: 'ignored',
    });
    const job = await q.getJob(done);
    expect(job?.data).toMatchObject({ id: done, type: 'transfer.created', account: null });
  });
});
