import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createReport } from '../../src/reports/store.js';
import {
  AUTH,
  createTestRuntime,
  insertCreditReversal,
  insertTransferReversal,
} from '../unit/ledger/support.js';

let t: Awaited<ReturnType<typeof createTestRuntime>>;
let app: FastifyInstance;
const T0 = Date.UTC(2026, 10, 20, 12);
const sec = (ms: number) => Math.floor(ms / 1000);

beforeAll(async () => {
  t = await createTestRuntime();
  app = await buildApp(t.rt);
  // 12 transfer reversals (even ones on acct_1, odd on the platform) and 3 credit reversals.
  for (let i = 0; i < 12; i++) {
    await insertTransferReversal(t.rt.pool, {
      id: `trr_${String(i).padStart(2, '0')}`,
      transfer: `tr_${i}`,
      amount: 100 + i,
      createdMs: T0 + i * 60_000,
      account: i % 2 ? null : 'acct_1',
    });
  }
  for (let i = 0; i < 3; i++) {
    await insertCreditReversal(t.rt.pool, {
      id: `credrev_${i}`,
      receivedCredit: `rc_${i}`,
      amount: 500,
      status: i === 0 ? 'processing' : 'posted',
      createdMs: T0 + 30_000 + i * 60_000,
    });
  }
  const post = await app.inject({
    method: 'POST',
    url: '/api/ledger/entries',
    headers: AUTH,
    payload: {
      entries: Array.from({ length: 4 }, (_, i) => ({
        id: `le_${i}`,
        kind: 'transfer_reversal',
        stripe_id: `trr_0${i}`,
        amount: 100 + i,
        currency: 'usd',
        account: i === 3 ? null : 'acct_1',
      })),
    },
  });
  expect(post.statusCode).toBe(200);
  await createReport(t.rt.prisma);
  await createReport(t.rt.prisma);
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

const get = (url: string) => app.inject({ method: 'GET', url, headers: AUTH });

describe('GET /api/reversals', () => {
  it('lists every kind newest first and pages without gaps or repeats', async () => {
    const first = (await get('/api/reversals?limit=6')).json();
    expect(first).toMatchObject({ object: 'list', url: '/api/reversals', has_more: true });
    expect(first.data[0]).toMatchObject({ id: 'trr_11', kind: 'transfer_reversal' });
    const seen: string[] = first.data.map((r: { id: string }) => r.id);
    let last = first;
    while (last.has_more) {
      last = (await get(`/api/reversals?limit=6&starting_after=${seen.at(-1)}`)).json();
      seen.push(...last.data.map((r: { id: string }) => r.id));
    }
    expect(seen).toHaveLength(15);
    expect(new Set(seen).size).toBe(15);
    const back = (await get(`/api/reversals?limit=3&ending_before=${seen[6]}`)).json();
    expect(back.data.map((r: { id: string }) => r.id)).toEqual(seen.slice(3, 6));
  });

  it('filters by kind, status, account (platform included) and created range', async () => {
    const ids = async (qs: string) =>
      (await get(`/api/reversals?limit=100&${qs}`))
        .json()
        .data.map((r: { id: string }) => r.id)
        .sort();
    expect(await ids('kind=credit_reversal')).toEqual(['credrev_0', 'credrev_1', 'credrev_2']);
    expect(await ids('kind=credit_reversal&status=processing')).toEqual(['credrev_0']);
    expect(await ids('kind=transfer_reversal&account=acct_1')).toHaveLength(6);
    expect(await ids('kind=transfer_reversal&account=platform')).toEqual([
      'trr_01',
      'trr_03',
      'trr_05',
      'trr_07',
      'trr_09',
      'trr_11',
    ]);
    expect(await ids(`created[gte]=${sec(T0 + 120_000)}&created[lt]=${sec(T0 + 240_000)}`)).toEqual(
      ['credrev_2', 'trr_02', 'trr_03'],
    );
  });

  it('rejects bad parameters with a 400 in Stripe shape', async () => {
    for (const qs of [
      'kind=refund',
      'limit=0',
      'limit=101',
      'colour=red',
      'created[gte]=yesterday',
    ]) {
      const r = await get(`/api/reversals?${qs}`);
      expect(r.statusCode, qs).toBe(400);
      expect(r.json().error.type).toBe('invalid_request_error');
    }
    expect((await get('/api/reversals?starting_after=trr_nope')).statusCode).toBe(400);
    expect(
      (await get('/api/reversals?starting_after=trr_01&ending_before=trr_02')).statusCode,
    ).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/reversals' })).statusCode).toBe(401);
  });
});

describe('GET /api/ledger/entries', () => {
  it('lists, filters and retrieves entries', async () => {
    const all = (await get('/api/ledger/entries?limit=2')).json();
    expect(all).toMatchObject({ object: 'list', url: '/api/ledger/entries', has_more: true });
    expect(all.data[0]).toMatchObject({ object: 'ledger_entry', currency: 'usd', source: 'api' });
    const platform = (await get('/api/ledger/entries?account=platform')).json();
    expect(platform.data.map((e: { id: string }) => e.id)).toEqual(['le_3']);
    const one = await get('/api/ledger/entries/le_2');
    expect(one.json()).toMatchObject({ id: 'le_2', amount: 102, stripe_id: 'trr_02' });
    const missing = await get('/api/ledger/entries/le_nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('resource_missing');
  });
});

describe('GET /api/reports', () => {
  it('lists reports newest first with their totals', async () => {
    const r = (await get('/api/reports')).json();
    expect(r).toMatchObject({ object: 'list', url: '/api/reports', has_more: false });
    expect(r.data).toHaveLength(2);
    expect(r.data[0]).toMatchObject({ object: 'report', totals: { open: 0 } });
    expect(r.data[0].created_at >= r.data[1].created_at).toBe(true);
    const next = (await get(`/api/reports?starting_after=${r.data[0].id}`)).json();
    expect(next.data.map((x: { id: string }) => x.id)).toEqual([r.data[1].id]);
  });
});
