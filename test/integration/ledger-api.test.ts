import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { AUTH, createTestRuntime, insertCreditReversal } from '../unit/ledger/support.js';

let t: Awaited<ReturnType<typeof createTestRuntime>>;
let app: FastifyInstance;
beforeAll(async () => {
  t = await createTestRuntime();
  app = await buildApp(t.rt);
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

const post = (entries: unknown, headers: Record<string, string> = AUTH) =>
  app.inject({ method: 'POST', url: '/api/ledger/entries', headers, payload: { entries } });

const entry = (id: string, patch: Record<string, unknown> = {}) => ({
  id,
  kind: 'credit_reversal',
  parent_id: 'rc_api1',
  amount: 1000,
  currency: 'usd',
  ...patch,
});

/** Units waiting in the reconcile outbox (written in the ledger write's own transaction). */
async function queuedUnits(): Promise<string[]> {
  const { rows } = await t.rt.pool.query<{ unit_key: string }>(
    'SELECT unit_key FROM reconcile_outbox ORDER BY unit_key',
  );
  return rows.map((r) => r.unit_key);
}

describe('POST /api/ledger/entries', () => {
  it('needs the operator token', async () => {
    const r = await post([entry('le_x')], {});
    expect(r.statusCode).toBe(401);
  });

  it('reports created, then unchanged, then updated, per entry', async () => {
    const first = await post([
      entry('le_a1'),
      entry('le_a2', { stripe_id: 'credrev_a2', expected_status: 'posted' }),
    ]);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({
      results: [
        { id: 'le_a1', result: 'created' },
        { id: 'le_a2', result: 'created' },
      ],
    });
    const again = await post([
      entry('le_a1'),
      entry('le_a2', { stripe_id: 'credrev_a2', expected_status: 'posted' }),
    ]);
    expect(again.json().results.map((r: { result: string }) => r.result)).toEqual([
      'unchanged',
      'unchanged',
    ]);

    // Same meaning, different spelling: still unchanged (currency is normalised).
    const same = await post([entry('le_a1', { currency: 'USD' })]);
    expect(same.json().results[0].result).toBe('unchanged');

    const { rows: before } = await t.rt.pool.query(
      `SELECT updated_at FROM ledger_entries WHERE id = 'le_a2'`,
    );
    const upd = await post([
      entry('le_a1'),
      entry('le_a2', { stripe_id: 'credrev_a2', expected_status: 'canceled' }),
    ]);
    expect(upd.json().results).toEqual([
      { id: 'le_a1', result: 'unchanged' },
      { id: 'le_a2', result: 'updated' },
    ]);
    const { rows } = await t.rt.pool.query(
      `SELECT expected_status, expected_status_raw, updated_at FROM ledger_entries WHERE id = 'le_a2'`,
    );
    expect(rows[0]).toMatchObject({ expected_status: 'canceled', expected_status_raw: 'canceled' });
    expect(rows[0].updated_at.getTime()).toBeGreaterThanOrEqual(before[0].updated_at.getTime());
  });

  it('is atomic: any invalid entry → 400 listing every one, nothing written', async () => {
    const r = await post([
      entry('le_b1'),
      entry('le_b2', { amount: 0 }),
      entry('le_b3', { currency: 'dollars', parent_id: 'tr_1' }),
      entry('le_b1', { amount: 5 }),
      { kind: 'credit_reversal' },
    ]);
    expect(r.statusCode).toBe(400);
    const body = r.json();
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/4 invalid entries; nothing was written/);
    expect(body.error.details).toEqual([
      { index: 1, id: 'le_b2', field: 'amount', message: 'must be greater than 0' },
      {
        index: 2,
        id: 'le_b3',
        field: 'currency',
        message: 'must be a three-letter ISO currency code',
      },
      {
        index: 2,
        id: 'le_b3',
        field: 'parent_id',
        message: 'must start with rc_ for a credit_reversal',
      },
      {
        index: 3,
        id: 'le_b1',
        field: 'id',
        message: 'duplicate id in this request (first at index 0)',
      },
      expect.objectContaining({ index: 4, id: null, field: 'id' }),
      expect.objectContaining({ index: 4, id: null, field: 'amount' }),
      expect.objectContaining({ index: 4, id: null, field: 'currency' }),
      expect.objectContaining({ index: 4, id: null, field: 'stripe_id' }),
    ]);
    const { rows } = await t.rt.pool.query(`SELECT id FROM ledger_entries WHERE id LIKE 'le_b%'`);
    expect(rows).toEqual([]);
  });

  it('rejects more than 1000 entries and a body without entries', async () => {
    const many = Array.from({ length: 1_001 }, (_, i) => entry(`le_many${i}`));
    expect((await post(many)).statusCode).toBe(400);
    const r = await app.inject({
      method: 'POST',
      url: '/api/ledger/entries',
      headers: AUTH,
      payload: { nope: 1 },
    });
    expect(r.statusCode).toBe(400);
  });

  it('accepts 1000 entries in one request', async () => {
    const many = Array.from({ length: 1_000 }, (_, i) =>
      entry(`le_k${String(i).padStart(4, '0')}`, { parent_id: `rc_k${i % 50}` }),
    );
    const r = await post(many);
    expect(r.statusCode).toBe(200);
    expect(r.json().results.filter((x: { result: string }) => x.result === 'created')).toHaveLength(
      1_000,
    );
  });

  it('marks every affected unit in the reconcile outbox, including the unit an entry moved from', async () => {
    await t.rt.pool.query('DELETE FROM reconcile_outbox');
    // A projected reversal decides the unit of an entry that names it, whatever its parent_id says.
    await insertCreditReversal(t.rt.pool, {
      id: 'credrev_q1',
      receivedCredit: 'rc_q_proj',
      amount: 100,
      status: 'posted',
      createdMs: Date.now(),
    });
    await post([
      entry('le_q1', { parent_id: 'rc_q1' }),
      entry('le_q2', { parent_id: undefined, stripe_id: 'credrev_q_unknown' }),
      entry('le_q3', { parent_id: undefined, stripe_id: 'credrev_q1' }),
    ]);
    expect(await queuedUnits()).toEqual(['credrev_q_unknown', 'rc_q1', 'rc_q_proj']);

    await t.rt.pool.query('DELETE FROM reconcile_outbox');
    await post([entry('le_q1', { parent_id: 'rc_q2' })]);
    expect(await queuedUnits()).toEqual(['rc_q1', 'rc_q2']);

    // Unchanged entries enqueue nothing.
    await t.rt.pool.query('DELETE FROM reconcile_outbox');
    await post([entry('le_q1', { parent_id: 'rc_q2' })]);
    expect(await queuedUnits()).toEqual([]);
  });
});
