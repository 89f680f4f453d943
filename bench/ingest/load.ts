/**
 * The load generator, in its own process (it must not share the server's event loop): autocannon
 * on loopback, every request a fresh ~1.5 KB Stripe event with a unique id, signed with the SDK's
 * generateTestHeaderString. The events are built and signed before the clock starts (well within
 * the 300 s signature tolerance), so on a 2-core box the loader's JSON and HMAC work does not eat
 * into the CPU the server under test gets; if the pool runs out, events are built on the fly.
 * Usage: node --import tsx bench/ingest/load.ts <port> <connections> <seconds> <warmupSeconds>
 * Prints {"result": {...}}.
 */
import autocannon from 'autocannon';
import Stripe from 'stripe';
import { BENCH_SECRET, send } from '../lib/common.js';
import {
  Ids,
  event,
  transfer,
  transferReversal,
  creditReversal,
  debitReversal,
} from '../lib/events.js';

const [portArg, connArg, secondsArg, warmArg] = process.argv.slice(2);
const port = Number(portArg);
const connections = Number(connArg ?? 50);
const seconds = Number(secondsArg ?? 10);
const warmup = Number(warmArg ?? 2);
const ids = new Ids();
let bytes = 0;
let built = 0;
let sent = 0;
let sentBytes = 0;

/** One realistic event, cycling through the three reversal kinds. */
function body(): string {
  const now = Math.floor(Date.now() / 1000);
  const k = built++ % 3;
  let ev;
  if (k === 0) {
    const tr = ids.next('tr');
    const r = transferReversal(ids.next('trr'), tr, 400, now);
    ev = event('transfer.reversed', transfer(tr, 1100, [r], now - 3600), ids.next('evt'), now);
  } else if (k === 1) {
    ev = event(
      'treasury.credit_reversal.created',
      creditReversal(ids.next('credrev'), ids.next('rc'), 1000, 'processing', now),
      ids.next('evt'),
      now,
      'acct_1PgafTB7WZ01zgkW',
    );
  } else {
    ev = event(
      'treasury.debit_reversal.created',
      debitReversal(ids.next('debrev'), ids.next('rd'), 1000, 'processing', now),
      ids.next('evt'),
      now,
      'acct_1PgafTB7WZ01zgkW',
    );
  }
  const s = JSON.stringify(ev);
  bytes += s.length;
  return s;
}

interface Prepared {
  body: string;
  sig: string;
}

function prepare(): Prepared {
  const payload = body();
  return {
    body: payload,
    sig: Stripe.webhooks.generateTestHeaderString({ payload, secret: BENCH_SECRET }),
  };
}

// Enough for 15,000 req/s over the warm-up and the run; a run faster than that builds the rest.
const pool: Prepared[] = Array.from(
  { length: Math.min(400_000, 15_000 * (seconds + warmup)) },
  prepare,
);
let next = 0;

function run(duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}/webhooks/stripe`,
        connections,
        duration,
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => {
              const p = pool[next++] ?? prepare();
              sent++;
              sentBytes += p.body.length;
              return {
                ...req,
                body: p.body,
                headers: { 'content-type': 'application/json', 'stripe-signature': p.sig },
              };
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
}

const warm = warmup > 0 ? await run(warmup) : null;
const warmSent = sent;
sent = 0;
sentBytes = 0;
const r = await run(seconds);
send({
  result: {
    connections,
    seconds,
    reqPerSec: r.requests.average,
    total: r.requests.total,
    ok2xx: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    latencyMs: {
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
      mean: r.latency.mean,
    },
    avgBodyBytes: sent ? Math.round(sentBytes / sent) : Math.round(bytes / Math.max(1, built)),
    warmupRequests: warmSent,
    warmup2xx: warm ? warm['2xx'] : 0,
  },
});
process.exit(0);
