import { afterAll, beforeAll, expect, it } from 'vitest';
import { killAllChildren, type CliProcess } from '../support/cli.js';
import {
  Installation,
  Sender,
  lostDebitReversals,
  projectionDataset,
  referenceProjections,
  report,
  until,
} from './harness.js';

/**
 * kill -9 of the worker, three times, while 10 k events go through: each time another worker
 * takes over the dead one's jobs (after JOB_LOCK_DURATION), and the end state is exactly the
 * fault-free one — every event projected once, every unit reconciled, every lost reversal flagged.
 */

const data = projectionDataset(10_000, 7);
const lost = lostDebitReversals(data);
let inst: Installation;

beforeAll(async () => {
  inst = await Installation.create();
});
afterAll(async () => {
  await killAllChildren();
  await inst?.close();
});

it('kill -9 of the worker three times during 10 k events: all projected, none twice', async () => {
  const reference = referenceProjections(data);
  const receiver = inst.start('serve');
  await inst.listening(receiver);
  let worker: CliProcess = inst.start('worker');
  const sender = new Sender(() => inst.base);
  const t0 = Date.now();
  const sending = sender.send(data.deliveries);

  // Kill the worker each time it has projected another share of the events, and start another.
  const kills: number[] = [];
  for (const share of [0.2, 0.45, 0.7]) {
    await until(
      async () => (await inst.counts()).processed >= share * data.events.length,
      `${share * 100} % projected`,
      120_000,
      50,
    );
    worker.signal('SIGKILL');
    await worker.waitForExit(5_000);
    kills.push((await inst.counts()).processed);
    worker = inst.start('worker');
  }
  await sending;
  const seconds = await inst.settled(data.events.length, lost);
  const alertSeconds = await inst.announced(lost);
  const c = await inst.counts();
  const flagged = await inst.lostFlagged();

  report('worker kill -9 x3', {
    events: data.events.length,
    deliveries: data.deliveries.length,
    acked: sender.figures.acked,
    stored: c.inbox,
    projected: c.processed,
    killedAt: kills.join('/'),
    lostPlanted: lost.length,
    lostFlagged: flagged.size,
    duplicateMismatches: c.duplicateMismatches,
    duplicateAlerts: inst.duplicateAlerts(),
    secondsToAlerts: alertSeconds,
    secondsToSettle: seconds,
    secondsTotal: (Date.now() - t0) / 1_000,
  });
  expect(sender.figures.acked).toBe(data.events.length);
  expect(c).toMatchObject({ inbox: data.events.length, processed: data.events.length, failed: 0 });
  expect(c.mismatches).toEqual({ reversal_lost: lost.length });
  expect(c.duplicateMismatches).toBe(0);
  expect(await inst.dump()).toEqual(await reference);
  // Each lost reversal was announced, by one notification (a redelivery keeps its id).
  expect(inst.duplicateAlerts()).toBe(0);
  expect(receiver.running).toBe(true);
});
