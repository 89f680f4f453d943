import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/simulator/clock.js';
import type { Simulator } from '../../src/simulator/index.js';
import { SECRET, startReceiver, startSim, T0, type Receiver } from './support.js';

let sim: Simulator;
let receiver: Receiver | undefined;
afterEach(async () => {
  await sim.close();
  await receiver?.close();
});

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${sim.url}/_sim${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('/_sim admin surface', () => {
  it('advances the clock, registers endpoints, sets chaos, reports stats and waits for idle', async () => {
    sim = await startSim();
    receiver = await startReceiver();
    expect((await admin('GET', '/clock')).body.now_ms).toBe(T0);
    expect((await admin('POST', '/advance', { days: 2, ms: 5 })).body.now_ms).toBe(
      T0 + 2 * DAY_MS + 5,
    );
    expect(sim.now()).toBe(T0 + 2 * DAY_MS + 5);
    expect((await admin('POST', '/advance', {})).status).toBe(400);
    expect(
      (await admin('POST', '/webhook_endpoints', { url: receiver.url, secret: SECRET })).status,
    ).toBe(200);
    expect(
      (await admin('POST', '/webhook_endpoints', { url: receiver.url, secret: 'nope' })).status,
    ).toBe(400);
    expect((await admin('POST', '/chaos', { duplicateRate: 1 })).status).toBe(200);
    await sim
      .stripe({ stripeAccount: 'acct_a1' })
      .transfers.create({ amount: 1, currency: 'usd', destination: 'acct_d1' });
    const idle = await admin('POST', '/idle');
    expect(idle.body).toMatchObject({ eventsCreated: 1, duplicated: 1, deliveriesSucceeded: 2 });
    expect((await admin('GET', '/stats')).body).toEqual(sim.stats());
    expect(((await admin('GET', '/accounts')).body.connected as string[]).sort()).toEqual([
      'acct_a1',
      'acct_d1',
    ]);
    expect((await admin('GET', '/nope')).status).toBe(404);
  });
});
