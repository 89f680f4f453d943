import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relayInboxOnce } from '../../src/inbox/relay.js';
import { replayInbox } from '../../src/inbox/replay.js';
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

/** Event ids in the events queue's jobs (batch jobs carry several), waiting or delayed. */
async function queuedIds(rt: Runtime): Promise<string[]> {
  const jobs = await rt.queues.events.getJobs(['waiting', 'delayed', 'prioritized']);
  return jobs.flatMap((j) => j.data.ids ?? (j.data.id ? [j.data.id] : []));
}

async function enqueuedAt(id: string): Promise<Date | null> {
  const { rows } = await db.pool.query('SELECT enqueued_at FROM stripe_events WHERE id = $1', [id]);
  return rows[0].enqueued_at;
}

describe('inbox relay', () => {
  it('adds never-enqueued rows and re-adds stuck pending rows, one batch job per page', async () => {
    const fresh = await seed({ enqueuedAgo: null });
    const young = await seed({ enqueuedAgo: null, receivedAgo: 0 });
    const stuck = await seed({ enqueuedAgo: 600 });
    const recent = await seed({ enqueuedAgo: 5 });
    const processed = await seed({ status: 'processed', enqueuedAgo: null });
    const ignored = await seed({ status: 'ignored', enqueuedAgo: null });
    const failed = await seed({ status: 'failed', enqueuedAgo: 600 });

    const r = await relayInboxOnce(rt, { stuckAfterMs: 60_000, minAgeMs: 30_000, pageSize: 500 });
    expect(r).toMatchObject({ added: 1, readded: 1, pages: 1 });
    expect(r.skipped).toBeUndefined();

    const jobs = await rt.queues.events.getJobs(['waiting']);
    expect(jobs).toHaveLength(1); // the page is one job
    const ids = await queuedIds(rt);
    expect(ids.sort()).toEqual([fresh, stuck].sort());
    for (const id of [young, recent, processed, ignored, failed]) expect(ids).not.toContain(id);
    expect(await enqueuedAt(fresh)).not.toBeNull();
    expect(await enqueuedAt(young)).toBeNull();

    // Everything looked at was stamped, so a second pass has nothing to do.
    const again = await relayInboxOnce(rt, { stuckAfterMs: 60_000, minAgeMs: 30_000 });
    expect(again).toMatchObject({ added: 0, readded: 0 });
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
    const queued = await queuedIds(rt);
    for (const id of ids) expect(queued.filter((q) => q === id)).toHaveLength(1);
  });
});

describe('replayInbox', () => {
  // Its own queue prefix, so only this test's jobs are counted.
  let rt: Runtime;
  beforeAll(async () => {
    rt = createRuntime(testConfig({ DATABASE_URL: db.url }), captureLog().log);
    await waitFor(() => rt.redis.status === 'ready', { what: 'redis' });
  });
  afterAll(async () => {
    await rt?.close();
  });

  it('re-enqueues every row since T as batch jobs, back to pending', async () => {
    const { rows: clock } = await db.pool.query<{ now: Date }>('SELECT now()');
    const since = clock[0]!.now;
    const old = await seed({ receivedAgo: 86_400, status: 'processed' });
    const done = await seed({ receivedAgo: 0, status: 'processed', enqueuedAgo: 0 });
    const failed = await seed({ receivedAgo: 0, status: 'failed', enqueuedAgo: 0 });
    const waiting = await seed({ receivedAgo: 0, enqueuedAgo: 0 });
    const ignored = await seed({ receivedAgo: 0, status: 'ignored' });

    // Every other test's row was received before `since`.
    const r = await replayInbox(rt, { since, pageSize: 2 });
    expect(r).toEqual({ enqueued: 3 });
    const queued = await queuedIds(rt);
    expect(queued.sort()).toEqual([done, failed, waiting].sort());
    expect(queued).not.toContain(ignored);
    expect(queued).not.toContain(old);
    expect(await rt.queues.events.getJobs(['waiting'])).toHaveLength(2); // pages of 2
    const { rows } = await db.pool.query(
      'SELECT id, status FROM stripe_events WHERE id = ANY($1) ORDER BY id',
      [[done, failed, ignored]],
    );
    expect(Object.fromEntries(rows.map((x) => [x.id, x.status]))).toEqual({
      [done]: 'pending',
      [failed]: 'pending',
      [ignored]: 'ignored',
    });
  });
});
