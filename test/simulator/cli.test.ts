import { describe, expect, it } from 'vitest';
import { runSimulatorCli, type Simulator } from '../../src/simulator/index.js';

describe('runSimulatorCli', () => {
  it('listens, prints the URL, and stops when aborted', async () => {
    const lines: string[] = [];
    const ac = new AbortController();
    let sim: Simulator | undefined;
    const done = runSimulatorCli({
      port: 0,
      realtime: false,
      logger: false,
      print: (l) => lines.push(l),
      signal: ac.signal,
      onReady: async (s) => {
        sim = s;
        const res = await fetch(`${s.url}/_sim/health`);
        expect(res.status).toBe(200);
        ac.abort();
      },
    });
    await done;
    expect(lines[0]).toBe(`Stripe simulator listening on ${sim?.url}`);
    await expect(fetch(`${sim?.url}/_sim/health`)).rejects.toThrow();
  });
});
