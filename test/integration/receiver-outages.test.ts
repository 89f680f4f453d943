import { execFileSync } from 'node:child_process';
import { ScratchRedis } from '../support/redis.js';
import { freePort } from '../support/cli.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInboxRelay } from '../../src/inbox/relay.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { queuedEventIds } from '../support/db.js';
import {
  buildTestApp,
  captureLog,
  injectEvent,
  loadFixtureEvent,
  makeEvent,
  testConfig,
} from '../support/events.js';

const transfer = () => loadFixtureEvent('transfer.created').data.object;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

async function rows(ids: string[]) {
  const r = await db.pool.query<{ id: string; enqueued_at: Date | null }>(
    'SELECT id, enqueued_at FROM stripe_events WHERE id = ANY($1)',
    [ids],
  );
  return r.rows;
}

describe('Redis down', () => {
  let redis: ScratchRedis;
  let rt: Runtime;
  let app: FastifyInstance;

  beforeAll(async () => {
    redis = new ScratchRedis(await freePort());
    redis.start();
    rt = createRuntime(
      testConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url }),
      captureLog().log,
    );
    app = await buildTestApp(rt);
    await waitFor(() => rt.redis.status === 'ready', { what: 'scratch redis' });
  });
  afterAll(async () => {
    await app?.close();
    await rt?.close();
    redis?.stop();
  });

  it('acks from Postgres while Redis is away; the relay enqueues every event once it is back', async () => {
    const before = Array.from({ length: 3 }, () => makeEvent('transfer.created', transfer()));
    for (const ev of before) expect((await injectEvent(app, ev)).statusCode).toBe(200);
    await waitFor(async () => (await rows(before.map((e) => e.id))).every((r) => r.enqueued_at), {
      what: 'normal enqueue',
    });

    redis.stop();
    await waitFor(() => rt.redis.status !== 'ready', { what: 'redis to go away' });

    const during = Array.from({ length: 20 }, () =>
      makeEvent('treasury.debit_reversal.created', transfer()),
    );
    const responses = await Promise.all(during.map((ev) => injectEvent(app, ev)));
    expect(responses.map((r) => r.statusCode)).toEqual(during.map(() => 200));
    expect(responses.every((r) => r.json().duplicate === false)).toBe(true);
    const stored = await rows(during.map((e) => e.id));
    expect(stored).toHaveLength(20);
    expect(stored.every((r) => r.enqueued_at === null)).toBe(true);

    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ postgres: 'ok', redis: 'unavailable', failed: ['redis'] });
    // A receiver stays ready: it is still acknowledging webhooks into Postgres.
    const receiverReady = await app.inject('/readyz?role=receiver');
    expect(receiverReady.statusCode).toBe(200);
    expect(receiverReady.json()).toEqual({
      status: 'ok',
      role: 'receiver',
      postgres: 'ok',
      redis: 'unavailable',
    });
    expect((await app.inject('/readyz?role=reciever')).statusCode).toBe(400);

    redis.start();
    await waitFor(() => rt.redis.status === 'ready', { what: 'redis to come back' });
    const relay = startInboxRelay(rt, { intervalMs: 100, stuckAfterMs: 60_000, minAgeMs: 0 });
    try {
      await waitFor(
        async () => {
          const queued = new Set(await queuedEventIds(rt));
          return during.every((ev) => queued.has(ev.id));
        },
        { what: 'relay to enqueue all 20' },
      );
    } finally {
      await relay.stop();
    }
    expect((await rows(during.map((e) => e.id))).every((r) => r.enqueued_at)).toBe(true);
  });

  it('logs a Redis outage once, not once per flush', async () => {
    const logs = captureLog('info');
    const rt2 = createRuntime(
      testConfig({ DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:1' }),
      logs.log,
    );
    const app2 = await buildTestApp(rt2);
    try {
      for (let i = 0; i < 30; i++) {
        const res = await injectEvent(app2, makeEvent('transfer.reversed', transfer()));
        expect(res.statusCode).toBe(200);
        await new Promise((r) => setTimeout(r, 15)); // separate flushes
      }
      const outage = logs.lines().filter((l) => String(l.msg).startsWith('redis unavailable'));
      expect(outage).toHaveLength(1);
      expect(logs.lines().filter((l) => (l.level as number) >= 40)).toHaveLength(1);
    } finally {
      await app2.close();
      await rt2.close();
    }
  });

  it('never hangs a request when Redis was never reachable', async () => {
    const rt2 = createRuntime(
      testConfig({ DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:1' }),
      captureLog().log,
    );
    const app2 = await buildTestApp(rt2);
    try {
      const ev = makeEvent('transfer.reversed', transfer());
      const res = await injectEvent(app2, ev);
      expect(res.statusCode).toBe(200);
      expect(await rows([ev.id])).toMatchObject([{ id: ev.id, enqueued_at: null }]);
    } finally {
      await app2.close();
      await rt2.close();
    }
  });
});

describe('Postgres down', () => {
  it('answers 503 and acknowledges nothing', async () => {
    const logs = captureLog();
    const rt = createRuntime(
      testConfig({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/recon_down' }),
      logs.log,
    );
    const app = await buildTestApp(rt);
    try {
      const ev = makeEvent('transfer.created', transfer());
      const res = await injectEvent(app, ev);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        error: { type: 'api_error', message: 'temporarily unavailable, retry later' },
      });
      expect(await queuedEventIds(rt)).not.toContain(ev.id);
      expect(await rows([ev.id])).toEqual([]);

      const ready = await app.inject('/readyz');
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({
        postgres: 'unavailable',
        redis: 'ok',
        failed: ['postgres'],
      });
      const receiverReady = await app.inject('/readyz?role=receiver');
      expect(receiverReady.statusCode).toBe(503);
      expect(receiverReady.json()).toMatchObject({ role: 'receiver', failed: ['postgres'] });
      expect(logs.text()).toContain('inbox unavailable');
    } finally {
      await app.close();
      await rt.close();
    }
  });
});

describe('Redis that may evict', () => {
  it('is caught on every reconnect, not only at start: /readyz 503 while the policy is wrong', async () => {
    const scratch = new ScratchRedis(await freePort());
    scratch.start();
    const cli = (...args: string[]) =>
      execFileSync('redis-cli', ['-p', String(scratch.port), ...args], { encoding: 'utf8' });
    const logs = captureLog('info');
    const rt = createRuntime(
      testConfig({ DATABASE_URL: db.url, REDIS_URL: scratch.url }),
      logs.log,
    );
    const app = await buildTestApp(rt);
    try {
      await waitFor(async () => (await app.inject('/readyz')).statusCode === 200, {
        what: 'ready',
      });
      // Someone points the service at an evicting Redis (here: reconfigures it, then it restarts
      // its connections).
      cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
      cli('CLIENT', 'KILL', 'TYPE', 'normal');
      await waitFor(async () => (await app.inject('/readyz')).statusCode === 503, {
        what: 'not ready on an evicting Redis',
      });
      expect(logs.text()).toContain('maxmemory-policy is \\"allkeys-lru\\"');
      cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      cli('CLIENT', 'KILL', 'TYPE', 'normal');
      await waitFor(async () => (await app.inject('/readyz')).statusCode === 200, {
        what: 'ready again',
      });
    } finally {
      await app.close();
      await rt.close();
      scratch.stop();
    }
  });
});
