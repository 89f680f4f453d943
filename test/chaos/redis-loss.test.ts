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
 * Redis stopped under load for CHAOS_REDIS_OUTAGE_S (30 s), then started again EMPTY (no
 * persistence: every job, deduplication key and scheduler is gone). The receiver keeps
 * acknowledging from Postgres; the relay re-enqueues what Redis lost; the reconcile intent was
 * committed with each projection (the outbox), so every unit is reconciled and every planted lost
 * debit reversal raises its mismatch and its alert.
 */

const OUTAGE_S = Number(process.env.CHAOS_REDIS_OUTAGE_S ?? 30);
const data = projectionDataset(10_000, 13);
const lost = lostDebitReversals(data);
let inst: Installation;

beforeAll(async () => {
  inst = await Installation.create();
});
afterAll(async () => {
  await killAllChildren();
  await inst?.close();
});

it(`Redis down ${OUTAGE_S} s under load, back empty: every event projected, every unit reconciled`, async () => {
  const reference = referenceProjections(data);
  const recon = inst.start('start');
  await inst.listening(recon);
  const sender = new Sender(() => inst.base);
  const sending = sender.send(data.deliveries, { concurrency: 8 });

  await until(
    async () => (await inst.counts()).processed >= 0.3 * data.events.length,
    '30 % projected',
    120_000,
    50,
  );
  inst.redis.stop();
  const down = Date.now();
  const ackedBefore = sender.figures.acked;
  // While Redis is away the receiver still acknowledges (from Postgres) and says it is degraded.
  await sleep(2_000);
  const ready = await http(inst.base, 'GET', '/readyz', { timeoutMs: 5_000 });
  await sleep(OUTAGE_S * 1_000 - (Date.now() - down));
  const ackedDuring = sender.figures.acked - ackedBefore;
  inst.redis.start(); // empty: no persistence
  const up = Date.now();
  await sending;
  const seconds = await inst.settled(data.events.length, lost);
  const alertSeconds = await inst.announced(lost);
  const c = await inst.counts();
  const flagged = await inst.lostFlagged();

  report(`Redis down ${OUTAGE_S} s, back empty`, {
    events: data.events.length,
    acked: sender.figures.acked,
    ackedWhileRedisDown: ackedDuring,
    readyzWhileDown: ready.status,
    stored: c.inbox,
    projected: c.processed,
    lostPlanted: lost.length,
    lostFlagged: flagged.size,
    secondsToSettleAfterRestart: (Date.now() - up) / 1_000,
    secondsWaitingAfterSend: seconds,
    secondsToAlerts: alertSeconds,
    duplicateAlerts: inst.duplicateAlerts(),
  });
  expect(ackedDuring, 'the receiver acknowledges while Redis is down').toBeGreaterThan(0);
  expect(ready.status).toBe(503);
  expect(sender.figures.acked).toBe(data.events.length);
  expect(c).toMatchObject({ inbox: data.events.length, processed: data.events.length, failed: 0 });
  expect(c.mismatches).toEqual({ reversal_lost: lost.length });
  expect(c.duplicateMismatches).toBe(0);
  expect(await inst.dump()).toEqual(await reference);
  expect(inst.duplicateAlerts()).toBe(0);
  expect(recon.running, recon.transcript()).toBe(true);
  // One line when the outage started and one when it ended, per component: no flood.
  const redisLines = recon
    .logLines()
    .filter((l) => l.dependency === 'redis' && /unavailable|is back/.test(String(l.msg)));
  expect(redisLines.length, recon.transcript()).toBeLessThanOrEqual(16);
});
