/**
 * What Postgres can store, checked before we try: `text` and `jsonb` refuse the NUL character
 * (U+0000), and jsonb refuses very deep nesting with a stack-depth error. Input from an operator
 * is refused with a 4xx naming the problem; text Stripe sends is kept, with NUL replaced
 * (the raw event stays byte for byte in the inbox).
 */

/** How deep metadata may nest, and how large it may be, on any path we store. */
export const MAX_JSON_DEPTH = 16;
export const MAX_JSON_BYTES = 64 * 1024;

/** U+FFFD, the replacement character, where Stripe text held a NUL. */
const NUL = '\u0000';

export function hasNul(s: string): boolean {
  return s.includes(NUL);
}

export function withoutNul(s: string): string {
  return s.replaceAll(NUL, '\uFFFD');
}

/**
 * Why a JSON value cannot be stored as is (NUL in a key or string, too deep, too large, a
 * non-finite number), or null when it can. Iterative: a hostile 5,000-deep value must not
 * overflow our own stack while we look at it.
 */
export function unstorableJson(
  value: unknown,
  opts: { maxDepth?: number; maxBytes?: number } = {},
): string | null {
  const maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  const maxBytes = opts.maxBytes ?? MAX_JSON_BYTES;
  // Two parallel stacks, not a stack of {value, depth} objects: this walks every event the worker
  // projects, and an object per node was a noticeable share of the worker's garbage.
  const values: unknown[] = [value];
  const depths: number[] = [0];
  let bytes = 0;
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (depth > maxDepth) return `nests deeper than ${maxDepth} levels`;
    if (typeof v === 'string') {
      if (hasNul(v)) return 'contains a NUL character (\\u0000)';
      bytes += v.length;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return 'contains a number that is not finite';
      bytes += 8;
    } else if (Array.isArray(v)) {
      for (const x of v) {
        values.push(x);
        depths.push(depth + 1);
      }
    } else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (hasNul(k)) return 'has a key with a NUL character (\\u0000)';
        bytes += k.length;
        values.push(o[k]);
        depths.push(depth + 1);
      }
    }
    if (bytes > maxBytes) return `is larger than ${maxBytes} bytes`;
  }
  return null;
}

/**
 * A copy of Stripe-sent JSON that Postgres can store: NUL replaced in keys and strings, anything
 * deeper than the limit cut to a marker string. Returns `changed` so the caller can log once.
 */
export function storableCopy(
  value: unknown,
  maxDepth = MAX_JSON_DEPTH,
): { value: unknown; changed: boolean } {
  // The common case costs one walk and no copy.
  if (unstorableJson(value, { maxDepth, maxBytes: Number.POSITIVE_INFINITY }) === null)
    return { value, changed: false };
  let changed = false;
  const copy = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') {
      if (!hasNul(v)) return v;
      changed = true;
      return withoutNul(v);
    }
    if (v === null || typeof v !== 'object') return v;
    if (depth >= maxDepth) {
      changed = true;
      return `[nested deeper than ${maxDepth} levels: see the raw event]`;
    }
    if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const key = hasNul(k) ? ((changed = true), withoutNul(k)) : k;
      out[key] = copy(x, depth + 1);
    }
    return out;
  };
  // Recursion is bounded by maxDepth, so it cannot overflow the stack.
  return { value: copy(value, 0), changed };
}
