import { describe, expect, it } from 'vitest';
import {
  MicroBatcher,
  MicroBatcherClosedError,
  MicroBatcherOverloadedError,
} from '../../src/receiver/micro-batcher.js';

/** A flush whose batches we can see and release by hand. */
function gatedFlush() {
  const batches: number[][] = [];
  const gates: Array<() => void> = [];
  const flush = async (items: number[]) => {
    batches.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    return items.map((n) => n * 10);
  };
  const releaseNext = async () => {
    for (let i = 0; i < 100 && gates.length === 0; i++) await new Promise((r) => setImmediate(r));
    gates.shift()?.();
  };
  return { batches, flush, releaseNext };
}

describe('MicroBatcher', () => {
  it('flushes a lone item without waiting for company', async () => {
    const b = new MicroBatcher<number, number>({ flush: async (xs) => xs.map((x) => x + 1) });
    await expect(b.add(1)).resolves.toBe(2);
  });

  it('gathers items added in the same tick into one flush', async () => {
    const seen: number[][] = [];
    const b = new MicroBatcher<number, number>({
      flush: async (xs) => (seen.push(xs), xs),
    });
    await Promise.all([b.add(1), b.add(2), b.add(3)]);
    expect(seen).toEqual([[1, 2, 3]]);
  });

  it('piles items that arrive during a flush into the next one', async () => {
    const g = gatedFlush();
    const b = new MicroBatcher<number, number>({ flush: g.flush });
    const first = b.add(1);
    await new Promise((r) => setImmediate(r));
    const later = [b.add(2), b.add(3), b.add(4)];
    await g.releaseNext();
    await expect(first).resolves.toBe(10);
    await g.releaseNext();
    await expect(Promise.all(later)).resolves.toEqual([20, 30, 40]);
    expect(g.batches).toEqual([[1], [2, 3, 4]]);
  });

  it('caps the batch size', async () => {
    const seen: number[] = [];
    const b = new MicroBatcher<number, number>({
      flush: async (xs) => (seen.push(xs.length), xs),
      maxBatchSize: 4,
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => b.add(i)));
    expect(seen).toEqual([4, 4, 2]);
  });

  it('rejects only the batch whose flush failed', async () => {
    let calls = 0;
    const b = new MicroBatcher<number, number>({
      flush: async (xs) => {
        if (calls++ === 0) throw new Error('boom');
        return xs;
      },
    });
    const a = b.add(1);
    await expect(a).rejects.toThrow('boom');
    await expect(b.add(2)).resolves.toBe(2);
  });

  it('rejects a batch whose flush returns the wrong number of results', async () => {
    const b = new MicroBatcher<number, number>({ flush: async () => [] });
    await expect(b.add(1)).rejects.toThrow(/0 results for 1 items/);
  });

  it('refuses items beyond maxPending', async () => {
    const g = gatedFlush();
    const b = new MicroBatcher<number, number>({ flush: g.flush, maxPending: 2 });
    const inFlight = b.add(1);
    await new Promise((r) => setImmediate(r));
    const waiting = [b.add(2), b.add(3)];
    await expect(b.add(4)).rejects.toBeInstanceOf(MicroBatcherOverloadedError);
    await g.releaseNext();
    await g.releaseNext();
    await expect(Promise.all([inFlight, ...waiting])).resolves.toEqual([10, 20, 30]);
  });

  it('close() flushes what is pending, then refuses new items', async () => {
    const g = gatedFlush();
    const b = new MicroBatcher<number, number>({ flush: g.flush });
    const first = b.add(1);
    await new Promise((r) => setImmediate(r));
    const second = b.add(2);
    const closed = b.close();
    await expect(b.add(3)).rejects.toBeInstanceOf(MicroBatcherClosedError);
    await g.releaseNext();
    await g.releaseNext();
    await closed;
    await expect(Promise.all([first, second])).resolves.toEqual([10, 20]);
    expect(b.pending + b.inFlight).toBe(0);
  });

  it('runs up to maxConcurrentFlushes at once', async () => {
    const g = gatedFlush();
    const b = new MicroBatcher<number, number>({
      flush: g.flush,
      maxBatchSize: 1,
      maxConcurrentFlushes: 2,
    });
    const all = [b.add(1), b.add(2), b.add(3)];
    await new Promise((r) => setImmediate(r));
    expect(b.inFlight).toBe(2);
    expect(b.pending).toBe(1);
    await g.releaseNext();
    await g.releaseNext();
    await g.releaseNext();
    await expect(Promise.all(all)).resolves.toEqual([10, 20, 30]);
  });
});
