import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { Mismatch } from '../../src/domain/types.js';
import { persistMismatches } from '../../src/reconciliation/persist.js';
import { AUTH, createTestRuntime } from '../unit/ledger/support.js';

let t: Awaited<ReturnType<typeof createTestRuntime>>;
let app: FastifyInstance;
const T0 = Date.UTC(2026, 10, 20, 12);

const mm = (i: number, over: Partial<Mismatch> = {}): Mismatch & { unitKey: string } => ({
  fingerprint: `missing_in_ledger:credrev_${i}:-`,
  kind: 'missing_in_ledger',
  severity: 'high',
  objectType: 'credit_reversal',
  objectId: `credrev_${i}`,
  ledgerEntryId: null,
  account: i % 2 ? 'acct_odd' : null,
  currency: 'usd',
  amountAtRisk: 100 * i,
  expected: null,
  actual: { amount: 100 * i },
  message: `Credit reversal credrev_${i} has no matching ledger entry.`,
  unitKey: `rc_${i}`,
  ...over,
});

beforeAll(async () => {
  t = await createTestRuntime();
  app = await buildApp(t.rt);
  // 25 mismatches first seen one second apart; #24 becomes a reversal_lost, #0..4 are resolved.
  for (let i = 0; i < 25; i++) {
    const over =
      i === 24
        ? {
            kind: 'reversal_lost' as const,
            severity: 'critical' as const,
            fingerprint: 'reversal_lost:debrev_24:-',
            objectType: 'debit_reversal' as const,
            objectId: 'debrev_24',
          }
        : {};
    await persistMismatches(t.rt, [`rc_${i}`], [mm(i, over)], T0 + i * 1_000);
  }
  for (let i = 0; i < 5; i++) await persistMismatches(t.rt, [`rc_${i}`], [], T0 + 60_000);
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

const get = (url: string, headers = AUTH) => app.inject({ method: 'GET', url, headers });

describe('GET /api/mismatches', () => {
  it('is a Stripe list, newest first, 10 by default', async () => {
    const r = await get('/api/mismatches');
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ object: 'list', url: '/api/mismatches', has_more: true });
    expect(body.data).toHaveLength(10);
    expect(body.data[0]).toMatchObject({
      object: 'mismatch',
      kind: 'reversal_lost',
      severity: 'critical',
      status: 'open',
      object_type: 'debit_reversal',
      object_id: 'debrev_24',
      ledger_entry_id: null,
      currency: 'usd',
      amount_at_risk: 2_400,
      first_seen_at: new Date(T0 + 24_000).toISOString(),
      resolved_at: null,
      acknowledged_at: null,
    });
    const firsts = body.data.map((m: { first_seen_at: string }) => m.first_seen_at);
    expect([...firsts].sort().reverse()).toEqual(firsts);
  });

  it('pages with starting_after and ending_before without gaps or repeats', async () => {
    const seen: string[] = [];
    let url = '/api/mismatches?limit=7';
    for (;;) {
      const body = (await get(url)).json();
      seen.push(...body.data.map((m: { id: string }) => m.id));
      if (!body.has_more) break;
      url = `/api/mismatches?limit=7&starting_after=${body.data.at(-1).id}`;
    }
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    expect([...seen].sort().reverse()).toEqual(seen);

    const back = (await get(`/api/mismatches?limit=3&ending_before=${seen[10]}`)).json();
    expect(back.data.map((m: { id: string }) => m.id)).toEqual(seen.slice(7, 10));
    expect(back.has_more).toBe(true);
  });

  it.each([
    ['status=resolved', 5],
    ['status=open', 20],
    ['kind=reversal_lost', 1],
    ['severity=high&status=open', 19],
    ['object_id=credrev_3', 1],
    ['account=acct_odd', 12],
    ['account=acct_odd&status=open&kind=missing_in_ledger', 10],
  ])('filters %s', async (q, n) => {
    const body = (await get(`/api/mismatches?limit=100&${q}`)).json();
    expect(body.data).toHaveLength(n);
  });

  it.each([
    'status=closed',
    'kind=nope',
    'severity=extreme',
    'limit=0',
    'limit=101',
    'limit=ten',
    'starting_after=123',
    'colour=blue',
  ])('400 on %s', async (q) => {
    const r = await get(`/api/mismatches?${q}`);
    expect(r.statusCode).toBe(400);
    expect(r.json().error.type).toBe('invalid_request_error');
  });

  it('needs the operator token', async () => {
    expect((await get('/api/mismatches', {} as typeof AUTH)).statusCode).toBe(401);
  });
});

describe('one mismatch', () => {
  it('GET /api/mismatches/:id, 404 when unknown', async () => {
    const [first] = (await get('/api/mismatches?status=resolved&limit=1')).json().data;
    const r = await get(`/api/mismatches/${first.id}`);
    expect(r.json()).toMatchObject({
      id: first.id,
      status: 'resolved',
      resolution_reason: expect.stringMatching(/ledger now has a matching entry/),
    });
    const missing = await get('/api/mismatches/mm_000000000000000000000000');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatchObject({
      type: 'invalid_request_error',
      code: 'resource_missing',
    });
  });

  it('POST /api/mismatches/:id/acknowledge silences it with a note', async () => {
    const [m] = (await get('/api/mismatches?kind=reversal_lost')).json().data;
    const post = (id: string, payload: unknown) =>
      app.inject({
        method: 'POST',
        url: `/api/mismatches/${id}/acknowledge`,
        headers: AUTH,
        payload: payload as object,
      });
    const r = await post(m.id, { note: 'Known: customer authorised the debit, writing it off.' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      id: m.id,
      status: 'open',
      acknowledged_note: 'Known: customer authorised the debit, writing it off.',
    });
    expect(Date.parse(r.json().acknowledged_at)).toBeGreaterThan(0);
    expect((await post(m.id, { note: '' })).statusCode).toBe(400);
    expect((await post(m.id, {})).statusCode).toBe(400);
    expect((await post('mm_000000000000000000000000', { note: 'x' })).statusCode).toBe(404);

    // Seen again: still acknowledged. Resolved, then true again: a new occurrence, not acknowledged.
    const again = mm(24, {
      kind: 'reversal_lost',
      severity: 'critical',
      fingerprint: 'reversal_lost:debrev_24:-',
      objectType: 'debit_reversal',
      objectId: 'debrev_24',
    });
    await persistMismatches(t.rt, ['rc_24'], [again], T0 + 120_000);
    expect((await get(`/api/mismatches/${m.id}`)).json().acknowledged_note).toMatch(/Known/);
    await persistMismatches(t.rt, ['rc_24'], [], T0 + 130_000);
    await persistMismatches(t.rt, ['rc_24'], [again], T0 + 140_000);
    expect((await get(`/api/mismatches/${m.id}`)).json()).toMatchObject({
      status: 'open',
      reopened_count: 1,
      acknowledged_at: null,
    });
  });
});
