import { afterAll, beforeAll, expect, it } from 'vitest';
import { killAllChildren } from '../support/cli.js';
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
 * SIGTERM under load (a deploy): `recon start` stops taking work, finishes what it holds, and
 * exits 0 within SHUTDOWN_TIMEOUT, leaving no job held (nothing waits for the stalled checker).
 * Its successor finishes the rest. SIGTERM while Redis is down: exits within the deadline.
 */

const data = projectionDataset(8_000, 19);
const lost = lostDebitReversals(data);
let inst: Installation;

beforeAll(async () => {
  inst = await Installation.create();
});
afterAll(async () => {
  await killAllChildren();
  await inst?.close();
});

it('SIGTERM under load: exit 0, no job left held, the next process finishes the rest', async () => {
  const reference = referenceProjections(data);
  let recon = inst.start('start');
  await inst.listening(recon);
  const sender = new Sender(() => inst.base);
  const sending = sender.send(data.deliveries, { concurrency: 8 });
  await until(
    async () => (await inst.counts()).processed >= 0.4 * data.events.length,
    '40 % projected',
    120_000,
    50,
  );
  const t0 = Date.now();
  recon.signal('SIGTERM');
  const exit = await recon.waitForExit(30_000);
  const stopSeconds = (Date.now() - t0) / 1_000;
  const held = {
    events: inst.jobs('stripe-events', 'active'),
    reconcile: inst.jobs('reconcile', 'active'),
    alerts: inst.jobs('alerts', 'active'),
  };
  const atStop = await inst.counts();
  expect(exit.code, recon.transcript()).toBe(0);
  expect(held).toEqual({ events: 0, reconcile: 0, alerts: 0 });

  recon = inst.start('start');
  await inst.listening(recon);
  await sending;
  const seconds = await inst.settled(data.events.length, lost);
  await inst.announced(lost);
  const c = await inst.counts();
  report('SIGTERM under load', {
    events: data.events.length,
    acked: sender.figures.acked,
    exitCode: exit.code,
    secondsToStop: stopSeconds,
    projectedAtStop: atStop.processed,
    jobsHeldAfterStop: held.events + held.reconcile + held.alerts,
    stored: c.inbox,
    projected: c.processed,
    lostFlagged: (await inst.lostFlagged()).size,
    lostPlanted: lost.length,
    secondsToSettle: seconds,
    deadLetters: inst.jobs('stripe-events', 'failed'),
  });
  expect(stopSeconds).toBeLessThan(10 + 3);
  expect(c).toMatchObject({ inbox: data.events.length, processed: data.events.length, failed: 0 });
  expect(c.mismatches).toEqual({ reversal_lost: lost.length });
  expect(await inst.dump()).toEqual(await reference);
  expect(inst.duplicateAlerts()).toBe(0);
  recon.signal('SIGTERM');
  expect((await recon.waitForExit(30_000)).code).toBe(0);
});

it('SIGTERM while Redis is down: exits within SHUTDOWN_TIMEOUT', async () => {
  const recon = inst.start('start', { SHUTDOWN_TIMEOUT: '3s' });
  await inst.listening(recon);
  inst.redis.stop();
  await sleep(1_000);
  const t0 = Date.now();
  recon.signal('SIGTERM');
  const exit = await recon.waitForExit(20_000);
  const seconds = (Date.now() - t0) / 1_000;
  report('SIGTERM with Redis down', { exitCode: exit.code, secondsToExit: seconds });
  expect(seconds, recon.transcript()).toBeLessThan(3 + 2);
  inst.redis.start();
});
