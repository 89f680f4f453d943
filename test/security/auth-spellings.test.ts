import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredRoutes } from '../../src/api/auth.js';
import { buildApp } from '../../src/app.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { TEST_OPERATOR_TOKEN, captureLog, testConfig } from '../support/events.js';

/**
 * Every operator route, every spelling of its path we know a router or proxy might read
 * differently, through a real socket (raw request lines: app.inject normalises some of them):
 * without a token nothing answers 2xx, and no write lands.
 */

let db: TestDatabase;
let rt: Runtime;
let app: FastifyInstance;
let port: number;

const READ_TOKEN = 'viewer_token_0123456789abcdef';

beforeAll(async () => {
  db = await createTestDatabase();
  rt = createRuntime(
    testConfig({
      DATABASE_URL: db.url,
      OPERATOR_TOKENS: `viewer:${READ_TOKEN}:read,alice:alice_token_0123456789abcdef`,
    }),
    captureLog('silent').log,
  );
  app = await buildApp(rt);
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
  // A mismatch to try to acknowledge.
  await db.pool.query(
    `INSERT INTO mismatches (id, fingerprint, kind, severity, status, unit_key, object_type, object_id, message)
     VALUES ('mm_sec1', 'reversal_lost:debrev_sec1:-', 'reversal_lost', 'critical', 'open', 'rd_sec1',
             'debit_reversal', 'debrev_sec1', 'lost')`,
  );
});
afterAll(async () => {
  await app?.close();
  await rt?.close();
  await db?.close();
});

/** One HTTP/1.1 request written byte for byte; resolves with the status code. */
function raw(
  method: string,
  target: string,
  opts: { body?: string; token?: string } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const body = opts.body ?? '';
    const lines = [
      `${method} ${target} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Connection: close',
      ...(body
        ? ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`]
        : []),
      ...(opts.token ? [`Authorization: Bearer ${opts.token}`] : []),
    ];
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (out += d));
    s.on('error', reject);
    s.on('close', () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(out);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`no status line in ${JSON.stringify(out.slice(0, 80))}`));
    });
    // write, not end: a half-closed socket may be dropped before a slower answer is written;
    // `Connection: close` makes the server close it once it has answered.
    s.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    s.setTimeout(10_000, () => s.destroy(new Error(`no answer to ${method} ${target}`)));
  });
}

/** The ways one path can be spelt so that some parser might still route it to the same handler. */
function spellings(path: string): string[] {
  const rest = path.slice('/api'.length); // e.g. /ledger/entries
  const seg = rest.split('/').filter(Boolean);
  return [
    path,
    `/%61pi${rest}`,
    `/ap%69${rest}`,
    `/%41PI${rest}`,
    `/%2561pi${rest}`,
    `//api${rest}`,
    `/api/${rest}`,
    `/./api${rest}`,
    `/x/../api${rest}`,
    `/api/./${seg.join('/')}`,
    `/api%2F${seg.join('%2F')}`,
    `/api%2f${seg.join('/')}`,
    `/API${rest}`,
    `/Api${rest.toUpperCase()}`,
    `${path};x=1`,
    `/api;x=1${rest}`,
    `${path}%00`,
    `${path}%20`,
    `${path}/`,
    `${path}?token=${TEST_OPERATOR_TOKEN}`,
    `http://127.0.0.1:${port}${path}`,
    `http://127.0.0.1:${port}/%61pi${rest}`,
    `http://evil.example${path}`,
    `HTTP://127.0.0.1:${port}//api${rest}`,
  ];
}

const fill = (url: string) =>
  url.replace(':id', url.includes('mismatches') ? 'mm_sec1' : 'trr_sec1').replace('*', 'x');

const bodies: Record<string, string> = {
  '/api/ledger/entries': JSON.stringify({
    entries: [
      {
        id: 'le_sec',
        kind: 'transfer_reversal',
        stripe_id: 'trr_x',
        amount: 1100,
        currency: 'usd',
      },
    ],
  }),
  '/api/mismatches/:id/acknowledge': JSON.stringify({ note: 'silenced by an attacker' }),
  '/api/reconcile': JSON.stringify({}),
};

async function writesLanded(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM ledger_entries)
          + (SELECT count(*) FROM mismatches WHERE acknowledged_at IS NOT NULL)
          + (SELECT count(*) FROM sweep_runs) AS n`,
  );
  return Number(rows[0]!.n);
}

describe('operator auth is decided by the matched route', () => {
  it("declares only the webhook, health, metrics and the console's static files as not needing an operator token", () => {
    const open = registeredRoutes(app)
      .filter((r) => r.auth !== 'operator' && r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url} ${r.auth}`)
      .sort();
    expect(open).toEqual([
      'GET /console public',
      'GET /console/ public',
      'GET /console/console.css public',
      'GET /console/console.js public',
      // The shared money formatter (code, no data): the console formats amounts as reports do.
      'GET /console/money.js public',
      'GET /healthz public',
      'GET /metrics metrics',
      'GET /readyz public',
      'POST /webhooks/stripe public',
    ]);
  });

  it('answers no spelling of any operator route without a token, and lands no write', async () => {
    const routes = registeredRoutes(app).filter(
      (r) => r.auth === 'operator' && r.method !== 'HEAD',
    );
    expect(routes.length).toBeGreaterThanOrEqual(10);
    const before = await writesLanded();
    const seen: string[] = [];
    for (const r of routes) {
      const path = fill(r.url);
      for (const target of spellings(path)) {
        const status = await raw(r.method, target, { body: bodies[r.url] });
        seen.push(`${status} ${r.method} ${target}`);
        // 401 (or 400/404 for what is not a route at all); never a 2xx, never a 5xx.
        expect([400, 401, 404], `${r.method} ${target}`).toContain(status);
      }
    }
    expect(seen.length).toBeGreaterThan(200);
    expect(await writesLanded()).toBe(before);
  });

  it('still serves the plain path with a token (the spellings failed for the right reason)', async () => {
    expect(await raw('GET', '/api/mismatches', { token: TEST_OPERATOR_TOKEN })).toBe(200);
    expect(await raw('GET', '/%61pi/mismatches', { token: TEST_OPERATOR_TOKEN })).toBe(200);
    expect(await raw('GET', '/api/mismatches', { token: `${TEST_OPERATOR_TOKEN}x` })).toBe(401);
  });

  it('unknown paths are 401 without a token and 404 with one', async () => {
    expect(await raw('GET', '/nope')).toBe(401);
    expect(await raw('GET', '/nope', { token: TEST_OPERATOR_TOKEN })).toBe(404);
  });

  it('a read-only token reads but cannot write (403, nothing written)', async () => {
    const before = await writesLanded();
    expect(await raw('GET', '/api/mismatches', { token: READ_TOKEN })).toBe(200);
    for (const [url, body] of Object.entries(bodies)) {
      expect(await raw('POST', fill(url), { body, token: READ_TOKEN })).toBe(403);
    }
    expect(await writesLanded()).toBe(before);
  });

  it('public routes stay public', async () => {
    expect(await raw('GET', '/healthz')).toBe(200);
    expect(await raw('GET', '/metrics')).toBe(200);
    expect(await raw('POST', '/webhooks/stripe', { body: '{}' })).toBe(400);
  });
});

describe('METRICS_TOKEN', () => {
  it('protects /metrics once set; an operator token works too', async () => {
    const rt2 = createRuntime(
      testConfig({ DATABASE_URL: db.url, METRICS_TOKEN: 'metrics_token_0123456789abcdef' }),
      captureLog('silent').log,
    );
    const app2 = await buildApp(rt2);
    try {
      const get = (token?: string) =>
        app2.inject({
          method: 'GET',
          url: '/metrics',
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
      expect((await get()).statusCode).toBe(401);
      expect((await get('metrics_token_0123456789abcdef')).statusCode).toBe(200);
      expect((await get(TEST_OPERATOR_TOKEN)).statusCode).toBe(200);
      await waitFor(async () => (await app2.inject('/healthz')).statusCode === 200, {
        what: 'healthz',
      });
    } finally {
      await app2.close();
      await rt2.close();
    }
  });
});
