import { afterAll, beforeAll, expect, it } from 'vitest';
import { killAllChildren } from '../support/cli.js';
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
 * kill -9 of the receiver while Stripe delivers: an event acknowledged with a 2xx was committed to
 * the inbox first, so every acknowledged id is stored; the rest were never acknowledged, and
 * Stripe's retries (the sender's) deliver them to the restarted receiver.
 */

const data = projectionDataset(6_000, 11);
const lost = lostDebitReversals(data);
let inst: Installation;

beforeAll(async () => {
  inst = await Installation.create();
});
afterAll(async () => {
  await killAllChildren();
  await inst?.close();
});

it('kill -9 of the receiver: every 2xx-acknowledged event is in the inbox', async () => {
  const reference = referenceProjections(data);
  let receiver = inst.start('serve');
  await inst.listening(receiver);
  const worker = inst.start('worker');
  const sender = new Sender(() => inst.base);
  const sending = sender.send(data.deliveries);

  const checks: string[] = [];
  for (const share of [0.25, 0.6]) {
    await until(
      async () => sender.figures.acked >= share * data.events.length,
      `${share * 100} % acknowledged`,
      120_000,
      20,
    );
    receiver.signal('SIGKILL');
    await receiver.waitForExit(5_000);
    // The promise, checked at the moment of the crash: nothing acknowledged is missing.
    const acked = [...sender.ackedIds];
    const missing = await inst.missingFromInbox(acked);
    checks.push(`${acked.length} acked/${missing.length} missing`);
    expect(missing, 'acknowledged but not stored').toEqual([]);
    receiver = inst.start('serve');
    await inst.listening(receiver);
  }
  await sending;
  const seconds = await inst.settled(data.events.length, lost);
  await inst.announced(lost);
  const c = await inst.counts();
  report('receiver kill -9 x2', {
    events: data.events.length,
    acked: sender.figures.acked,
    refusedWhileDown: sender.figures.refused,
    atCrash: checks.join(', '),
    stored: c.inbox,
    projected: c.processed,
    lostFlagged: (await inst.lostFlagged()).size,
    lostPlanted: lost.length,
    secondsToSettle: seconds,
  });
  expect(await inst.missingFromInbox(sender.ackedIds)).toEqual([]);
  expect(c).toMatchObject({ inbox: data.events.length, processed: data.events.length, failed: 0 });
  expect(c.mismatches).toEqual({ reversal_lost: lost.length });
  expect(await inst.dump()).toEqual(await reference);
  expect(inst.duplicateAlerts()).toBe(0);
  expect(worker.running).toBe(true);
});
