import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSimulator } from '../../src/simulator/index.js';
import type { Simulator, SimulatorOptions } from '../../src/simulator/index.js';

export const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
export const SECRET = 'whsec_test_simulator_secret';

/** A simulator with a fixed seed and clock; the caller closes it. */
export function startSim(opts: SimulatorOptions = {}): Promise<Simulator> {
  return createSimulator({ seed: 42, startTime: T0, ...opts });
}

export interface Delivery {
  body: string;
  headers: IncomingHttpHeaders;
  status: number;
}

export interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Status to answer for the n-th request (0-based); 200 by default. */
  respond: (n: number, body: string) => number;
  close(): Promise<void>;
}

/** A webhook endpoint that records what it gets. */
export async function startReceiver(
  respond: (n: number, body: string) => number = () => 200,
): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const r: Partial<Receiver> = { deliveries, respond };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = (r.respond as Receiver['respond'])(deliveries.length, body);
      deliveries.push({ body, headers: req.headers, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return r as Receiver;
}

export function eventsOf(
  r: Receiver,
): Array<{ id: string; type: string; data: { object: { id: string } } }> {
  return r.deliveries
    .filter((d) => d.status >= 200 && d.status < 300)
    .map(
      (d) => JSON.parse(d.body) as { id: string; type: string; data: { object: { id: string } } },
    );
}

/** Sets up a FinancialAccount and returns it with the SDK client. */
export async function treasuryFixture(sim: Simulator, stripeAccount?: string) {
  const stripe = sim.stripe(stripeAccount ? { stripeAccount } : {});
  const fa = await stripe.treasury.financialAccounts.create({
    supported_currencies: ['usd'],
    features: {},
  });
  return { stripe, fa };
}
