import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLED_EVENT_TYPES } from '../../src/domain/event-types.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { queuedEventIds } from '../support/db.js';
import {
  TEST_OPERATOR_TOKEN,
  TEST_STRIPE_API_KEY,
  TEST_WEBHOOK_SECRET,
  TEST_WEBHOOK_SECRET_ROTATED,
  buildTestApp,
  captureLog,
  injectEvent,
  loadFixtureEvent,
  makeEvent,
  signedRequest,
  stripeId,
  testConfig,
  type CapturedLog,
} from '../support/events.js';

const MAX_BODY = 4_096;

let db: TestDatabase;
let rt: Runtime;
let app: FastifyInstance;
let logs: CapturedLog;

beforeAll(async () => {
  db = await createTestDatabase();
  logs = captureLog('trace');
  rt = createRuntime(
    testConfig({
      DATABASE_URL: db.url,
      WEBHOOK_MAX_BODY_BYTES: String(MAX_BODY),
      LOG_LEVEL: 'trace',
    }),
    logs.log,
  );
  app = await buildTestApp(rt);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await rt?.close();
  await db?.close();
});

async function inboxRow(id: string) {
  const { rows } = await db.pool.query<{
    id: string;
    status: string;
    enqueued_at: Date | null;
    payload: string;
  }>('SELECT id, status, enqueued_at, payload FROM stripe_events WHERE id = $1', [id]);
  return rows[0];
}

const transfer = () => loadFixtureEvent('transfer.created').data.object;
const now = () => Math.floor(Date.now() / 1000);

describe('POST /webhooks/stripe refuses bad input, storing nothing', () => {
  const cases: Array<{
    name: string;
    status: number;
    send: (ev: ReturnType<typeof makeEvent>) => {
      payload: string;
      headers: Record<string, string>;
    };
  }> = [
    {
      name: 'missing Stripe-Signature',
      status: 400,
      send: (ev) => ({
        payload: JSON.stringify(ev),
        headers: { 'content-type': 'application/json' },
      }),
    },
    {
      name: 'bad signature (body changed after signing)',
      status: 400,
      send: (ev) => {
        const r = signedRequest(ev);
        return { ...r, payload: r.payload.replace('"livemode": false', '"livemode": true') };
      },
    },
    { name: 'wrong secret', status: 400, send: (ev) => signedRequest(ev, 'whsec_not_ours_at_all') },
    {
      name: 'stale timestamp',
      status: 400,
      send: (ev) => signedRequest(ev, TEST_WEBHOOK_SECRET, { timestamp: now() - 301 - 5 }),
    },
    {
      name: 'future timestamp',
      status: 400,
      send: (ev) => signedRequest(ev, TEST_WEBHOOK_SECRET, { timestamp: now() + 301 + 5 }),
    },
    {
      name: 'malformed JSON (validly signed)',
      status: 400,
      send: (ev) => signedRequest(JSON.stringify(ev).slice(0, -7)),
    },
    {
      name: 'JSON that is not an event',
      status: 400,
      send: (ev) => signedRequest({ id: ev.id, hello: 'world' }),
    },
    {
      name: 'event without data.object',
      status: 400,
      send: (ev) => signedRequest({ ...ev, data: null }),
    },
    {
      name: 'oversized body',
      status: 413,
      send: (ev) =>
        signedRequest({
          ...ev,
          data: { object: { ...transfer(), description: 'x'.repeat(MAX_BODY) } },
        }),
    },
    {
      name: 'empty body',
      status: 400,
      send: () => signedRequest(''),
    },
  ];

  it.each(cases)('$name → $status', async ({ send, status }) => {
    const ev = makeEvent('transfer.created', transfer());
    const { payload, headers } = send(ev);
    const res = await app.inject({ method: 'POST', url: '/webhooks/stripe', payload, headers });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(await inboxRow(ev.id)).toBeUndefined();
    expect(await queuedEventIds(rt)).not.toContain(ev.id);
  });
});

describe('POST /webhooks/stripe accepts', () => {
  it.each(HANDLED_EVENT_TYPES)('%s: stored pending and enqueued in a batch job', async (type) => {
    const ev = loadFixtureEvent(type);
    const { payload, headers } = signedRequest(ev);
    const res = await app.inject({ method: 'POST', url: '/webhooks/stripe', payload, headers });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ received: true, duplicate: false });
    const row = await waitFor(
      async () => {
        const r = await inboxRow(ev.id);
        return r?.enqueued_at ? r : undefined;
      },
      { what: 'enqueued_at' },
    );
    expect(row).toMatchObject({ status: 'pending', payload });
    // The job carries the batch's event ids; the body stays in the inbox row, read by workers.
    const jobs = await rt.queues.events.getJobs(['waiting']);
    const job = jobs.find((j) => j.data.ids?.includes(ev.id));
    expect(job?.data).toEqual({ ids: [ev.id] });
    expect(type).toBe(ev.type);
  });

  it('a signature made with the second (rotation) secret', async () => {
    const ev = makeEvent('transfer.created', transfer());
    const res = await injectEvent(app, ev, { secret: TEST_WEBHOOK_SECRET_ROTATED });
    expect(res.statusCode).toBe(200);
    expect(await inboxRow(ev.id)).toBeDefined();
  });

  it('a timestamp just inside the tolerance, past and future', async () => {
    for (const timestamp of [now() - 290, now() + 290]) {
      const res = await injectEvent(app, makeEvent('transfer.created', transfer()), { timestamp });
      expect(res.statusCode).toBe(200);
    }
  });

  it('any content type, the body kept byte for byte', async () => {
    const ev = makeEvent('transfer.updated', transfer(), { account: 'acct_1PgafTB7WZ01zgkW' });
    const { payload, headers } = signedRequest(JSON.stringify(ev) + '\n');
    const res = await app.inject({
      method: 'POST',
      url: '/webhooks/stripe',
      payload,
      headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' },
    });
    expect(res.statusCode).toBe(200);
    expect((await inboxRow(ev.id))?.payload).toBe(payload);
  });

  it('an unknown event type: 2xx, stored as ignored, never enqueued', async () => {
    const ev = makeEvent('charge.refunded', { id: 'ch_1', object: 'charge' });
    const res = await injectEvent(app, ev);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ received: true, duplicate: false, ignored: true });
    expect(await inboxRow(ev.id)).toMatchObject({ status: 'ignored', enqueued_at: null });
    // A later handled event proves the writer has moved on (enqueues run in flush order).
    const probe = makeEvent('transfer.created', transfer());
    await injectEvent(app, probe);
    await waitFor(async () => (await inboxRow(probe.id))?.enqueued_at, { what: 'probe enqueued' });
    expect(await queuedEventIds(rt)).not.toContain(ev.id);
  });

  it('a duplicate delivery: 2xx, one row, one job', async () => {
    const ev = makeEvent('transfer.reversed', transfer());
    const first = await injectEvent(app, ev);
    const again = await injectEvent(app, ev, { timestamp: now() + 1 });
    expect(first.json()).toEqual({ received: true, duplicate: false });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ received: true, duplicate: true });
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n FROM stripe_events WHERE id = $1',
      [ev.id],
    );
    expect(rows[0].n).toBe(1);
    await waitFor(async () => (await inboxRow(ev.id))?.enqueued_at, { what: 'enqueued' });
    expect((await queuedEventIds(rt)).filter((id) => id === ev.id)).toHaveLength(1);
  });

  it('many concurrent deliveries over real HTTP, with duplicates among them', async () => {
    const events = Array.from({ length: 300 }, () => makeEvent('transfer.created', transfer()));
    const deliveries = [...events, ...events.slice(0, 30)].map((ev) => signedRequest(ev));
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const responses = await Promise.all(
      deliveries.map(async ({ payload, headers }) => {
        const r = await fetch(`${address}/webhooks/stripe`, {
          method: 'POST',
          body: payload,
          headers,
        });
        return { status: r.status, body: (await r.json()) as { duplicate: boolean } };
      }),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(responses.filter((r) => !r.body.duplicate)).toHaveLength(300);

    const ids = events.map((e) => e.id);
    await waitFor(
      async () => {
        const { rows } = await db.pool.query(
          'SELECT count(*)::int AS n FROM stripe_events WHERE id = ANY($1) AND enqueued_at IS NOT NULL',
          [ids],
        );
        return rows[0].n === 300;
      },
      { what: '300 rows enqueued' },
    );
    // Every event in exactly one job, and far fewer jobs than events (flushes share a job).
    const mine = new Set(ids);
    const queued = (await queuedEventIds(rt)).filter((id) => mine.has(id));
    expect([...queued].sort()).toEqual([...ids].sort());
    const jobs = await rt.queues.events.getJobs(['waiting']);
    expect(jobs.filter((j) => j.data.ids?.some((id) => mine.has(id))).length).toBeLessThan(
      ids.length / 2,
    );
  });
});

describe('secrets never reach the log', () => {
  it('after accepted, rejected and operator requests', async () => {
    await injectEvent(app, makeEvent('transfer.created', transfer()));
    await injectEvent(app, makeEvent('transfer.created', transfer()), {
      secret: 'whsec_wrong_secret_value',
    });
    const stale = signedRequest(makeEvent('transfer.created', transfer()), TEST_WEBHOOK_SECRET, {
      timestamp: 1,
    });
    await app.inject({
      method: 'POST',
      url: '/webhooks/stripe',
      payload: stale.payload,
      headers: stale.headers,
    });
    await app.inject({
      method: 'GET',
      url: '/api/mismatches',
      headers: { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` },
    });
    await app.inject({
      method: 'GET',
      url: '/api/mismatches',
      headers: { authorization: 'Bearer nope' },
    });
    app.log.info({ config: rt.config }, 'config, which must be redacted');

    const text = logs.text();
    expect(text).toContain('webhook rejected'); // the log is really captured
    const signature = signedRequest('{}').headers['stripe-signature'];
    for (const secret of [
      TEST_WEBHOOK_SECRET,
      TEST_WEBHOOK_SECRET_ROTATED,
      TEST_OPERATOR_TOKEN,
      TEST_STRIPE_API_KEY,
      stale.headers['stripe-signature'],
      stale.headers['stripe-signature'].split('v1=')[1]!,
      signature.split('v1=')[1]!,
    ]) {
      expect(text).not.toContain(secret);
    }
    // …and neither does an event body.
    expect(text).not.toContain('destination_payment');
  });
});

describe('health and metrics', () => {
  it('GET /healthz and /readyz', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ postgres: 'ok', redis: 'ok' });
  });

  it('GET /metrics needs no token and counts webhook outcomes', async () => {
    await injectEvent(app, makeEvent('transfer.created', transfer()));
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toMatch(/recon_webhook_requests_total\{outcome="accepted"\} \d+/);
    expect(res.body).toMatch(/recon_webhook_requests_total\{outcome="bad_signature"\} \d+/);
    expect(res.body).toMatch(/recon_webhook_requests_total\{outcome="too_large"\} \d+/);
    expect(res.body).toContain('recon_webhook_ack_seconds_bucket');
    expect(res.body).toContain('recon_inbox_batch_size_bucket');
    expect(res.body).toContain('recon_process_cpu_seconds_total');
    expect(res.body).toContain('recon_mismatches_open');
  });

  it('a fresh id for each fixture load', () => {
    expect(loadFixtureEvent('transfer.created').id).not.toBe(
      loadFixtureEvent('transfer.created').id,
    );
    expect(stripeId('evt')).toMatch(/^evt_[A-Za-z0-9]{24}$/);
  });
});
