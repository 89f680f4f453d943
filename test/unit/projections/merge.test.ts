import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  mapCreditReversal,
  mapDebitReversal,
  mapTransfer,
} from '../../../src/projections/mappers.js';
import {
  compareIds,
  mergeCreditReversal,
  mergeDebitReversal,
  mergeHistory,
  mergeTransfer,
} from '../../../src/projections/merge.js';
import { creditReversal, debitReversal, transfer } from '../../support/projection-objects.js';

const at = (s: number, id: string) => ({ account: null, snapshotAt: s * 1000, snapshotId: id });

describe('merge rules', () => {
  it('orders ids by code unit (like COLLATE "C"), not by locale', () => {
    expect(compareIds('evt_B', 'evt_a')).toBeLessThan(0);
    expect(compareIds('evt_a', 'evt_a')).toBe(0);
  });

  it('transfer: newest snapshot, but amount_reversed never decreases and reversed never unsets', () => {
    const older = mapTransfer(
      transfer({ id: 'tr_1', amount_reversed: 900, reversed: true }),
      at(2, 'evt_b'),
    );
    const newer = mapTransfer(
      transfer({ id: 'tr_1', amount_reversed: 100, metadata: { x: '1' } }),
      at(3, 'evt_a'),
    );
    const m = mergeTransfer(older, newer);
    expect(m).toMatchObject({
      amount_reversed: 900,
      reversed: true,
      metadata: { x: '1' },
      snapshot_id: 'evt_a',
    });
    expect(mergeTransfer(newer, older)).toEqual(m);
  });

  it('credit reversal: status moves up only; other fields from the newest snapshot', () => {
    const posted = mapCreditReversal(
      creditReversal({ id: 'credrev_1', status: 'posted' }),
      at(5, 'evt_1'),
    );
    const later = mapCreditReversal(
      creditReversal({ id: 'credrev_1', status: 'processing', metadata: { k: 'v' } }),
      at(9, 'evt_2'),
    );
    const m = mergeCreditReversal(posted, later);
    expect(m).toMatchObject({
      status: 'posted',
      status_rank: 3,
      status_raw: 'processing',
      metadata: { k: 'v' },
    });
    expect(mergeCreditReversal(later, posted)).toEqual(m);
  });

  it('equal-rank finals tie-break by the newer snapshot', () => {
    const canceled = mapCreditReversal(
      creditReversal({ id: 'credrev_1', status: 'canceled' }),
      at(5, 'evt_1'),
    );
    const posted = mapCreditReversal(
      creditReversal({ id: 'credrev_1', status: 'posted' }),
      at(6, 'evt_0'),
    );
    expect(mergeCreditReversal(canceled, posted).status).toBe('posted');
    expect(mergeCreditReversal(posted, canceled).status).toBe('posted');
  });

  it('an unknown status never displaces a known one', () => {
    const won = mapDebitReversal(
      debitReversal({ id: 'debrev_1', status: 'succeeded' }),
      at(5, 'evt_1'),
    );
    const odd = mapDebitReversal(
      debitReversal({ id: 'debrev_1', status: 'disputed_again' }),
      at(9, 'evt_2'),
    );
    const m = mergeDebitReversal(won, odd);
    expect(m).toMatchObject({ status: 'won', status_raw: 'disputed_again' });
  });

  it('initial_credit_granted only goes true', () => {
    const granted = mapDebitReversal(debitReversal({ id: 'debrev_1' }), {
      ...at(5, 'evt_1'),
      initialCreditGranted: true,
    });
    const later = mapDebitReversal(
      debitReversal({ id: 'debrev_1', status: 'failed' }),
      at(9, 'evt_2'),
    );
    expect(mergeDebitReversal(granted, later).initial_credit_granted).toBe(true);
  });

  it('history keeps the earliest observing event', () => {
    const h = (c: number, id: string) => ({
      object_type: 'credit_reversal' as const,
      object_id: 'credrev_1',
      to_status: 'posted',
      to_status_raw: 'posted',
      event_id: id,
      event_created: c,
    });
    expect(mergeHistory(h(5, 'evt_b'), h(5, 'evt_a')).event_id).toBe('evt_a');
    expect(mergeHistory(h(4, 'evt_z'), h(5, 'evt_a')).event_id).toBe('evt_z');
  });

  it('merging is order-independent (fast-check)', () => {
    const snap = fc.record({
      s: fc.integer({ min: 0, max: 3 }),
      id: fc.constantFrom('evt_a', 'evt_B', 'evt_c'),
      status: fc.constantFrom('processing', 'posted', 'canceled', 'weird'),
      meta: fc.constantFrom('x', 'y'),
    });
    fc.assert(
      fc.property(
        fc.array(snap, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
        (snaps, keys) => {
          // One snapshot key per distinct content, as with real events.
          const rows = snaps.map((x, i) =>
            mapCreditReversal(
              creditReversal({ id: 'credrev_1', status: x.status, metadata: { m: x.meta } }),
              at(x.s, `${x.id}${i}`),
            ),
          );
          const a = rows.reduce(mergeCreditReversal);
          const shuffled = rows
            .map((r, i) => ({ r, k: keys[i] ?? 0 }))
            .sort((p, q) => p.k - q.k)
            .map((p) => p.r);
          const b = shuffled.reduce(mergeCreditReversal);
          expect(b).toEqual(a);
        },
      ),
    );
  });
});
