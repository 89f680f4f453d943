import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';
import { createTestDatabase, redisUrl } from '../support/db.js';

describe('recon demo', () => {
  it('plays the day through simulator, receiver, workers and sweep, and finds exactly the planted mismatches', async () => {
    const db = await createTestDatabase();
    await db.close();
    const lines: string[] = [];
    const r = await runDemo({
      databaseUrl: db.url,
      redisUrl: redisUrl(),
      transfers: 120,
      print: (l) => lines.push(l),
    });
    const out = lines.join('\n');
    expect(r.found.map((m) => m.kind).sort()).toEqual(r.planted.map((p) => p.kind).sort());
    expect(r.ok).toBe(true);
    expect(out).toContain('planted disagreements found, and nothing else');
    expect(out).toContain('# Reconciliation drift report');
    expect(r.planted.map((p) => p.kind).sort()).toEqual([
      'amount_mismatch',
      'currency_mismatch',
      'duplicate_match',
      'missing_in_ledger',
      'missing_in_stripe',
      'missing_in_stripe',
      'reversal_canceled',
      'reversal_lost',
      'stuck_processing',
    ]);
  });
});
