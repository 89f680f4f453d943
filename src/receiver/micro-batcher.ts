import { ReconError } from '../errors.js';

/** `add()` after `close()`, or more items waiting than `maxPending`. */
export class MicroBatcherClosedError extends ReconError {}
export class MicroBatcherOverloadedError extends ReconError {}

export interface MicroBatcherOptions<I, O> {
  /**
   * Processes one batch. Must resolve to exactly one result per item, in the same order; a throw
   * (or a wrong-length result) rejects every item of that batch and only that batch.
   */
  flush: (items: I[]) => Promise<O[]>;
  /**
   * Most items per flush; the rest wait for the next one.
   * @defaultValue 500
   */
  maxBatchSize?: number;
  /**
   * Flushes allowed in flight at once. With 1 (group commit), items that arrive during a flush
   * pile into the next batch, which starts as soon as the flush returns.
   * @defaultValue 1
   */
  maxConcurrentFlushes?: number;
  /**
   * Items allowed to wait for a flush; beyond that `add()` rejects with
   * MicroBatcherOverloadedError instead of growing memory without bound.
   * @defaultValue Infinity
   */
  maxPending?: number;
  /** Called after each flush (for metrics), with the batch size and whether it succeeded. */
  onFlush?: (size: number, ok: boolean) => void;
}

interface Waiter<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

/**
 * Adaptive micro-batching (group commit) without timers. When idle, the first `add()` flushes on
 * the next turn of the event loop (`setImmediate`, so everything that arrived in the same I/O
 * phase joins it); while a flush is in flight, new items wait and go together in the next flush,
 * which starts as soon as one returns. Batches therefore grow with load and stay at one item
 * when traffic is light, and no item ever waits on a clock.
 */
export class MicroBatcher<I, O> {
  readonly #flush: (items: I[]) => Promise<O[]>;
  readonly #maxBatchSize: number;
  readonly #maxConcurrent: number;
  readonly #maxPending: number;
  readonly #onFlush: ((size: number, ok: boolean) => void) | undefined;
  #queue: Waiter<I, O>[] = [];
  #inFlight = 0;
  #scheduled = false;
  #closed = false;
  #drained: Array<() => void> = [];

  constructor(opts: MicroBatcherOptions<I, O>) {
    this.#flush = opts.flush;
    this.#maxBatchSize = Math.max(1, opts.maxBatchSize ?? 500);
    this.#maxConcurrent = Math.max(1, opts.maxConcurrentFlushes ?? 1);
    this.#maxPending = opts.maxPending ?? Number.POSITIVE_INFINITY;
    this.#onFlush = opts.onFlush;
  }

  /** Items waiting for a flush (not counting those in flight). */
  get pending(): number {
    return this.#queue.length;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves with this item's result once its batch has been flushed. */
  add(item: I): Promise<O> {
    if (this.#closed) return Promise.reject(new MicroBatcherClosedError('batcher is closed'));
    if (this.#queue.length >= this.#maxPending) {
      return Promise.reject(
        new MicroBatcherOverloadedError(`more than ${this.#maxPending} items waiting for a flush`),
      );
    }
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Stops accepting items, flushes everything already added and waits for in-flight flushes. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#queue.length === 0 && this.#inFlight === 0) return;
    await new Promise<void>((resolve) => {
      this.#drained.push(resolve);
      this.#schedule();
    });
  }

  /** Resolves when nothing is waiting or in flight (items added meanwhile are waited for too). */
  async idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return;
    await new Promise<void>((resolve) => this.#drained.push(resolve));
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxConcurrent || this.#queue.length === 0)
      return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#inFlight < this.#maxConcurrent && this.#queue.length > 0) {
        void this.#run(this.#queue.splice(0, this.#maxBatchSize));
      }
    });
  }

  async #run(batch: Waiter<I, O>[]): Promise<void> {
    this.#inFlight++;
    let ok = false;
    try {
      const results = await this.#flush(batch.map((w) => w.item));
      if (!Array.isArray(results) || results.length !== batch.length) {
        throw new TypeError(
          `flush returned ${Array.isArray(results) ? results.length : typeof results} results for ${batch.length} items`,
        );
      }
      ok = true;
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.#inFlight--;
      try {
        this.#onFlush?.(batch.length, ok);
      } catch {
        // a metrics callback must never break the batcher
      }
      if (this.#queue.length > 0) this.#schedule();
      else if (this.#inFlight === 0) {
        const drained = this.#drained;
        this.#drained = [];
        for (const d of drained) d();
      }
    }
  }
}
