import { afterAll, beforeAll, expect, it } from 'vitest';
import { http, killAllChildren } from '../support/cli.js';
import {
  Installation,
  Sender,
  lostDebitReversals,
  projectionDataset,
  referenceProjections,
  report,
  sleep,
  until,
} from './harness.js';

/**
 * Postgres goes away under load (every connection dropped, new ones refused: what a crash or a
 * restart looks like from here) for CHAOS_PG_OUTAGE_S (10 s), through a proxy the test controls.
 * The receiver stays up and answers 503 (Stripe retries), /readyz says 503, no process exits,
 * failed transactions are retried, and after Postgres is back everything is processed.
 */

const OUTAGE_S = Number(process.env.CHAOS_PG_OUTAGE_S ?? 10);
const data = projectionDataset(8_000, 17);
const lost = lostDebitReversals(data);
let inst: Installation;

beforeAll(async () => {
  inst = await Installation.create({ proxy: true });
});
afterAll(async () => {
  await killAllChildren();
  await inst?.close();
});

it(`Postgres gone ${OUTAGE_S} s under load: 503 meanwhile, no exit, everything processed after`, async () => {
  const reference = referenceProjections(data);
  const receiver = inst.start('serve');
  await inst.listening(receiver);
  const worker = inst.start('worker', { PORT: '0' });
  const sender = new Sender(() => inst.base);
  const sending = sender.send(data.deliveries, { concurrency: 8 });

  await until(
    async () => (await inst.counts()).processed >= 0.3 * data.events.length,
    '30 % projected',
    120_000,
    50,
  );
  const before = { ...sender.figures };
  inst.proxy!.cut();
  const down = Date.now();
  await sleep(2_000);
  const ready = await http(inst.base, 'GET', '/readyz', { timeoutMs: 5_000 });
  await sleep(OUTAGE_S * 1_000 - (Date.now() - down));
  const during = {
    unavailable: sender.figures.unavailable - before.unavailable,
    refused: sender.figures.refused - before.refused,
    acked: sender.figures.acked - before.acked,
  };
  const aliveDuring = receiver.running && worker.running;
  await inst.proxy!.restore();
  const up = Date.now();
  await sending;
  const seconds = await inst.settled(data.events.length, lost);
  await inst.announced(lost);
  const c = await inst.counts();

  report(`Postgres gone ${OUTAGE_S} s`, {
    events: data.events.length,
    acked: sender.figures.acked,
    answered503WhileDown: during.unavailable,
    refusedWhileDown: during.refused,
    ackedWhileDown: during.acked,
    readyzWhileDown: ready.status,
    processesAliveWhileDown: aliveDuring,
    stored: c.inbox,
    projected: c.processed,
    lostFlagged: (await inst.lostFlagged()).size,
    lostPlanted: lost.length,
    secondsToSettleAfterRestore: (Date.now() - up) / 1_000,
    secondsWaitingAfterSend: seconds,
  });
  expect(aliveDuring, `${receiver.transcript()}\n${worker.transcript()}`).toBe(true);
  expect(during.unavailable, 'Stripe is told 503 while Postgres is away').toBeGreaterThan(0);
  expect(during.refused, 'the receiver never stops listening').toBe(0);
  expect(ready.status).toBe(503);
  expect([...sender.figures.other]).toEqual([]);
  expect(sender.figures.acked).toBe(data.events.length);
  expect(c).toMatchObject({ inbox: data.events.length, processed: data.events.length, failed: 0 });
  expect(c.mismatches).toEqual({ reversal_lost: lost.length });
  expect(await inst.dump()).toEqual(await reference);
  expect(receiver.running && worker.running).toBe(true);
  // Each process said once that Postgres was gone, and once that it was back: no flood, and the
  // worker is not silent.
  for (const p of [receiver, worker]) {
    const lines = p.logLines().filter((l) => l.dependency === 'postgres');
    expect(lines.length, p.transcript()).toBeGreaterThan(0);
    expect(lines.length, p.transcript()).toBeLessThanOrEqual(12);
    expect(
      lines.some((l) => /is back/.test(String(l.msg))),
      p.transcript(),
    ).toBe(true);
  }
});
