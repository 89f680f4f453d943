import { createSimulator } from './simulator.js';
import type { Simulator, SimulatorLogger, SimulatorOptions } from './types.js';

export interface SimulatorCliOptions extends SimulatorOptions {
  /** Move the simulated clock along with the wall clock (Treasury objects settle by themselves). @defaultValue true */
  realtime?: boolean;
  /** Registered at start, e.g. the local receiver. */
  webhookEndpoints?: Array<{ url: string; secret: string }>;
  /** Where the banner goes. @defaultValue console.log */
  print?: (line: string) => void;
  /** Stops the simulator when aborted (besides SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Called once it listens, e.g. to hand the instance to a demo. */
  onReady?: (sim: Simulator) => void | Promise<void>;
}

const consoleLogger: SimulatorLogger = {
  info: (...a) => console.log(...a),
  warn: (...a) => console.warn(...a),
};

/**
 * `recon sim`: listens (port 12111 unless told, stripe-mock's), prints how to point the SDK at
 * it, and stays up until SIGINT/SIGTERM (or `signal`), then closes cleanly.
 */
export async function runSimulatorCli(opts: SimulatorCliOptions = {}): Promise<void> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const sim = await createSimulator({
    ...opts,
    port: opts.port ?? 12111,
    logger: opts.logger ?? consoleLogger,
  });
  for (const e of opts.webhookEndpoints ?? []) sim.addWebhookEndpoint(e);
  print(`Stripe simulator listening on ${sim.url}`);
  print(`  STRIPE_API_BASE=${sim.url}`);
  print(`  STRIPE_API_KEY=${sim.apiKey}`);
  print(`  admin: ${sim.url}/_sim/stats, POST ${sim.url}/_sim/advance {"days":1}`);

  let ticker: NodeJS.Timeout | undefined;
  if (opts.realtime ?? true) {
    let last = Date.now();
    ticker = setInterval(() => {
      const now = Date.now();
      void sim.advance(now - last);
      last = now;
    }, 1_000);
  }
  await opts.onReady?.(sim);

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      opts.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    opts.signal?.addEventListener('abort', stop, { once: true });
    if (opts.signal?.aborted) stop();
  });
  if (ticker) clearInterval(ticker);
  print('Stripe simulator stopping');
  await sim.close();
}
