import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../errors.js';
import { validateLedgerEntry, type LedgerEntryInput } from '../ledger/schema.js';
import { upsertLedgerEntries } from '../ledger/store.js';
import type { Runtime } from '../runtime.js';

export const MAX_ENTRIES_PER_REQUEST = 1_000;

export interface InvalidEntry {
  index: number;
  id: string | null;
  field: string;
  message: string;
}

/**
 * Checks a whole request body. Atomic per request (DESIGN.md "Pinned semantics"): either every
 * entry is valid, or the caller gets every problem — one item per invalid field — and nothing is
 * written. A repeated id within one request is itself invalid (which one should win?).
 */
export function validateLedgerRequest(body: unknown): { entries: LedgerEntryInput[] } {
  const list = (body as { entries?: unknown } | null)?.entries;
  if (!body || typeof body !== 'object' || !Array.isArray(list)) {
    throw new ValidationError('body must be {"entries": [ … ]}', [
      { index: null, id: null, field: 'entries', message: 'must be an array of ledger entries' },
    ]);
  }
  if (list.length === 0 || list.length > MAX_ENTRIES_PER_REQUEST) {
    throw new ValidationError(`entries must hold 1 to ${MAX_ENTRIES_PER_REQUEST} items`, [
      {
        index: null,
        id: null,
        field: 'entries',
        message: `must hold 1 to ${MAX_ENTRIES_PER_REQUEST} items (got ${list.length})`,
      },
    ]);
  }
  const invalid: InvalidEntry[] = [];
  const entries: LedgerEntryInput[] = [];
  const firstIndex = new Map<string, number>();
  list.forEach((raw, index) => {
    const v = validateLedgerEntry(raw);
    const id = v.ok ? v.entry.id : v.id;
    if (!v.ok) {
      for (const i of v.issues) invalid.push({ index, id, field: i.field, message: i.message });
    }
    if (id !== null) {
      const key = id.trim();
      const first = firstIndex.get(key);
      if (first !== undefined) {
        invalid.push({
          index,
          id,
          field: 'id',
          message: `duplicate id in this request (first at index ${first})`,
        });
      } else {
        firstIndex.set(key, index);
      }
    }
    if (v.ok) entries.push(v.entry);
  });
  if (invalid.length > 0) {
    const n = new Set(invalid.map((i) => i.index)).size;
    throw new ValidationError(
      `${n} invalid ${n === 1 ? 'entry' : 'entries'}; nothing was written`,
      invalid,
    );
  }
  return { entries };
}

/** `POST /api/ledger/entries`: bulk, idempotent on the platform's entry id. */
export async function registerLedgerRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.post('/api/ledger/entries', async (req) => {
    const { entries } = validateLedgerRequest(req.body);
    const { results } = await upsertLedgerEntries(rt, entries, 'api');
    return { results };
  });
}
