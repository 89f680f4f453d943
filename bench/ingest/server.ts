/**
 * The server under test, in its own process: `real` is the product's receiver (buildApp + listen:
 * signature check, durable inbox via the micro-batched InboxWriter, enqueue); `baseline` is a bare
 * node:http server doing per request what a straightforward receiver would: the SDK's signature
 * check, one INSERT, one BullMQ add, then the 200.
 * Usage: node --import tsx bench/ingest/server.ts real|baseline <DATABASE_URL> <QUEUE_PREFIX>
 * Prints {"port": n} when listening; on stdin "stop" prints {"stopped": {...counts}} and exits.
 */
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import Stripe from 'stripe';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/log/logger.js';
import { createRuntime } from '../../src/runtime.js';
import { eventJobs } from '../../src/queue/producer.js';
import { isHandledEventType } from '../../src/domain/event-types.js';
import { BENCH_SECRET, benchConfig, send } from '../lib/common.js';

const [mode, databaseUrl, prefix] = process.argv.slice(2);
if ((mode !== 'real' && mode !== 'baseline') || !databaseUrl || !prefix) {
  throw new Error('usage: server.ts real|baseline DATABASE_URL QUEUE_PREFIX');
}
const config = benchConfig(databaseUrl, { QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' });
const rt = createRuntime(config, createLogger({ level: 'warn' }));
await rt.redis.ping().catch(() => undefined);

let close: () => Promise<void>;
let port: number;

if (mode === 'real') {
  const app: FastifyInstance = await buildApp(rt);
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
  close = () => app.close();
} else {
  const stripe = new Stripe('sk_test_bench_0123456789');
  const INSERT = `INSERT INTO stripe_events (id, type, account, livemode, api_version, created, payload, status)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id`;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const payload = Buffer.concat(chunks).toString('utf8');
        let ev: Stripe.Event;
        try {
          ev = stripe.webhooks.constructEvent(
            payload,
            String(req.headers['stripe-signature'] ?? ''),
            BENCH_SECRET,
            300,
          );
        } catch {
          res.writeHead(400).end('{"error":"bad signature"}');
          return;
        }
        try {
          const handled = isHandledEventType(ev.type);
          const { rows } = await rt.pool.query(INSERT, [
            ev.id,
            ev.type,
            ev.account ?? null,
            ev.livemode,
            ev.api_version,
            ev.created,
            payload,
            handled ? 'pending' : 'ignored',
          ]);
          if (rows.length && handled) {
            const [j] = eventJobs([{ id: ev.id }]);
            await rt.queues.events.add(j!.name, j!.data);
          }
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(`{"received":true,"duplicate":${rows.length === 0}}`);
        } catch {
          res.writeHead(503).end('{"error":"unavailable"}');
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.keepAliveTimeout = 60_000;
  port = (server.address() as AddressInfo).port;
  close = () => new Promise<void>((resolve) => server.close(() => resolve()));
}

send({ port, pid: process.pid });

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stop') return;
  void (async () => {
    await close();
    const { rows } = await rt.pool.query<{ n: number; enqueued: number }>(
      `SELECT count(*)::int AS n, count(enqueued_at)::int AS enqueued FROM stripe_events`,
    );
    const jobs = await rt.queues.events.count();
    send({
      stopped: {
        inboxRows: rows[0]!.n,
        markedEnqueued: rows[0]!.enqueued,
        jobs,
        rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
      },
    });
    await rt.close();
    process.exit(0);
  })();
});
