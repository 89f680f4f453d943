import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { Mismatch } from '../../src/domain/types.js';
import { persistMismatches } from '../../src/reconciliation/persist.js';
import { AUTH, createTestRuntime } from '../unit/ledger/support.js';

let t: Awaited<ReturnType<typeof createTestRuntime>>;
let app: FastifyInstance;
let id: string;
const T0 = Date.UTC(2026, 10, 20, 12);

const mismatch: Mismatch & { unitKey: string } = {
  fingerprint: 'amount_mismatch:trr_1:le_1',
  kind: 'amount_mismatch',
  severity: 'high',
  objectType: 'transfer_reversal',
  objectId: 'trr_1',
  ledgerEntryId: 'le_1',
  account: 'acct_1',
  currency: 'usd',
  amountAtRisk: 500,
  expected: { amount: 1_000 },
  actual: { amount: 1_500 },
  message: 'Transfer reversal trr_1 is $15.00 but the ledger entry le_1 says $10.00.',
  unitKey: 'tr_1',
};

beforeAll(async () => {
  t = await createTestRuntime();
  app = await buildApp(t.rt);
  await persistMismatches(t.rt, ['tr_1'], [mismatch], T0);
  const { rows } = await t.rt.pool.query<{ id: string }>('SELECT id FROM mismatches');
  id = rows[0]!.id;
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

const post = (action: string, payload: unknown, mid = id) =>
  app.inject({
    method: 'POST',
    url: `/api/mismatches/${mid}/${action}`,
    headers: AUTH,
    payload: payload as object,
  });
const trailRows = async () =>
  (await t.rt.pool.query('SELECT * FROM mismatch_acknowledgements')).rows.length;

describe('acknowledgement audit trail', () => {
  it('rejects a note holding NUL or other control characters with a 400 and writes nothing', async () => {
    for (const note of ['bad\u0000note', 'bell\u0007']) {
      const r = await post('acknowledge', { note });
      expect(r.statusCode).toBe(400);
      expect(r.json().error).toMatchObject({ type: 'invalid_request_error' });
      expect(r.json().error.message).toMatch(/note/);
    }
    expect((await post('unacknowledge', { note: 'x\u0000' })).statusCode).toBe(400);
    expect(await trailRows()).toBe(0);
    const m = (
      await app.inject({ method: 'GET', url: `/api/mismatches/${id}`, headers: AUTH })
    ).json();
    expect(m).toMatchObject({ acknowledged_at: null, acknowledgements: [] });
  });

  it('un-acknowledging what is not acknowledged is a 400 and writes nothing', async () => {
    const r = await post('unacknowledge', {});
    expect(r.statusCode).toBe(400);
    expect(r.json().error.message).toMatch(/not acknowledged/);
    expect(await trailRows()).toBe(0);
  });

  it('records every acknowledge and un-acknowledge; a second acknowledge keeps the first', async () => {
    const first = await post('acknowledge', { note: 'Refund agreed with the customer.' });
    expect(first.statusCode).toBe(200);
    const ackAt = first.json().acknowledged_at;
    expect(first.json()).toMatchObject({
      acknowledged_note: 'Refund agreed with the customer.',
      acknowledgements: [
        {
          object: 'mismatch_acknowledgement',
          action: 'acknowledge',
          note: 'Refund agreed with the customer.',
          by: 'operator',
        },
      ],
    });

    const second = await post('acknowledge', { note: 'Also seen by finance.\nTicket FIN-12' });
    expect(second.statusCode).toBe(200);
    expect(second.json().acknowledged_at).toBe(ackAt);
    expect(second.json().acknowledged_note).toBe('Refund agreed with the customer.');
    expect(second.json().acknowledgements.map((a: { note: string }) => a.note)).toEqual([
      'Refund agreed with the customer.',
      'Also seen by finance.\nTicket FIN-12',
    ]);

    const un = await post('unacknowledge', { note: 'Customer disputed again.' });
    expect(un.statusCode).toBe(200);
    expect(un.json()).toMatchObject({ acknowledged_at: null, acknowledged_note: null });
    expect(un.json().acknowledgements.map((a: { action: string }) => a.action)).toEqual([
      'acknowledge',
      'acknowledge',
      'unacknowledge',
    ]);
    // Un-acknowledged, the mismatch alerts again (claims skip only acknowledged ones).
    const got = await app.inject({ method: 'GET', url: `/api/mismatches/${id}`, headers: AUTH });
    expect(got.json().acknowledgements).toHaveLength(3);
    const times = got.json().acknowledgements.map((a: { created_at: string }) => a.created_at);
    expect([...times].sort()).toEqual(times);

    // Acknowledged again after an un-acknowledge: a fresh acknowledgement with the new note.
    const again = await post('acknowledge', { note: 'Written off.' });
    expect(again.json()).toMatchObject({ acknowledged_note: 'Written off.' });
    expect(again.json().acknowledgements).toHaveLength(4);
  });

  it('answers 404 for an unknown mismatch and records nothing', async () => {
    const before = await trailRows();
    const r = await post('unacknowledge', {}, 'mm_000000000000000000000000');
    expect(r.statusCode).toBe(404);
    expect(await trailRows()).toBe(before);
  });
});
