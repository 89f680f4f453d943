import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  createPhasedProgress,
  describeReading,
  formatEta,
  type PhaseReading,
} from '../../../src/cli/progress.js';
import { sweepPhase } from '../../../src/cli/sweep-phases.js';
import { initialCursor, type SweepCursor, type SweepRun } from '../../../src/sweep/store.js';

/** A stream that records what was written; `tty` decides which renderer createPhasedProgress picks. */
function sink(tty: boolean) {
  const s = new PassThrough() as PassThrough & NodeJS.WriteStream;
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString()));
  Object.assign(s, { isTTY: tty, columns: 160 });
  return { stream: s, text: () => text };
}

describe('describeReading', () => {
  it.each([
    {
      name: 'unknown total: a count, no percentage, no ETA',
      r: { phase: 'validating', value: 1200, total: null, unit: 'rows' },
      eta: 30,
      want: 'validating 1200 rows',
    },
    {
      name: 'known total: count, percentage and ETA',
      r: { phase: 'reconciling', value: 40, total: 100, unit: 'units' },
      eta: 12.4,
      want: 'reconciling 40/100 units (40%), ETA 12s',
    },
    {
      name: 'nothing done yet: no ETA to guess from',
      r: { phase: 'reconciling', value: 0, total: 100, unit: 'units' },
      eta: 5,
      want: 'reconciling 0/100 units (0%)',
    },
    {
      name: 'finished: no ETA',
      r: { phase: 'writing', value: 7, total: 7, unit: 'rows' },
      eta: 0,
      want: 'writing 7/7 rows (100%)',
    },
    {
      name: 'with a detail',
      r: {
        phase: 'listing Stripe objects',
        value: 300,
        total: null,
        unit: 'objects',
        detail: 'account 2 of 3 (acct_1)',
      },
      eta: null,
      want: 'listing Stripe objects 300 objects — account 2 of 3 (acct_1)',
    },
  ] satisfies Array<{ name: string; r: PhaseReading; eta: number | null; want: string }>)(
    '$name',
    ({ r, eta, want }) => {
      expect(describeReading(r, eta)).toBe(want);
    },
  );

  it.each([
    [0, '0s'],
    [42.4, '42s'],
    [185, '3m 05s'],
    [3_725, '1h 02m'],
  ])('formatEta(%s) = %s', (sec, want) => {
    expect(formatEta(sec)).toBe(want);
  });
});

describe('createPhasedProgress without a terminal', () => {
  it('writes a line per phase, at most one every 2 s within one, with an ETA once the total is known', () => {
    const out = sink(false);
    let t = 0;
    const p = createPhasedProgress('sweep', out.stream, () => t);
    p.update({ phase: 'listing', value: 0, total: null, unit: 'objects' });
    t += 500;
    p.update({ phase: 'listing', value: 100, total: null, unit: 'objects' }); // throttled
    t += 500;
    p.update({ phase: 'listing', value: 250, total: null, unit: 'objects' }); // throttled
    p.update({ phase: 'reconciling', value: 0, total: 100, unit: 'units' });
    t += 2_000;
    p.update({ phase: 'reconciling', value: 50, total: 100, unit: 'units' });
    t += 1_000;
    p.update({ phase: 'reconciling', value: 60, total: 100, unit: 'units' }); // throttled
    p.stop();
    expect(out.text().split('\n').filter(Boolean)).toEqual([
      'sweep: listing 0 objects',
      // The phase's last reading is written when the next phase starts.
      'sweep: listing 250 objects',
      'sweep: reconciling 0/100 units (0%)',
      'sweep: reconciling 50/100 units (50%), ETA 2s',
      // 60 done in 3 s: 40 more take 2 s.
      'sweep: reconciling 60/100 units (60%), ETA 2s',
    ]);
  });

  it('measures the rate from the first reading of a phase, not from zero', () => {
    const out = sink(false);
    let t = 0;
    const p = createPhasedProgress('ledger import', out.stream, () => t);
    p.update({ phase: 'writing', value: 1_000, total: 10_000, unit: 'rows' });
    t += 2_000;
    p.update({ phase: 'writing', value: 2_000, total: 10_000, unit: 'rows' });
    expect(out.text()).toContain('writing 2000/10000 rows (20%), ETA 16s');
  });
});

describe('createPhasedProgress on a terminal', () => {
  it('draws one bar per phase; only a phase with a known total gets a bar', () => {
    const out = sink(true);
    const p = createPhasedProgress('sweep', out.stream);
    p.update({ phase: 'listing Stripe objects', value: 10, total: null, unit: 'objects' });
    p.update({ phase: 'reconciling', value: 5, total: 10, unit: 'units' });
    p.update({ phase: 'reconciling', value: 10, total: 10, unit: 'units' });
    p.stop();
    // eslint-disable-next-line no-control-regex
    const screen = out.text().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(screen).toMatch(/sweep: listing Stripe objects 10 objects/);
    expect(screen).not.toMatch(/sweep: \[[^\]]*\] listing/);
    expect(screen).toMatch(/sweep: \[[█░]+\] reconciling 10\/10 units \(100%\)/);
  });
});

describe('sweepPhase', () => {
  const run = (cursor: Partial<SweepCursor>, counts: Partial<SweepRun> = {}): SweepRun => ({
    id: 'sweep_1',
    status: 'running',
    trigger: 'cli',
    account: null,
    since: null,
    cursor: { ...initialCursor(), accounts: [null, 'acct_1A', 'acct_1B'], ...cursor },
    pages_fetched: 0,
    objects_fetched: 0,
    events_recovered: 0,
    units_total: 0,
    units_done: 0,
    mismatches_opened: 0,
    mismatches_resolved: 0,
    created_at: new Date(0),
    started_at: new Date(0),
    heartbeat_at: null,
    finished_at: null,
    error: null,
    report_id: null,
    ...counts,
  });

  it.each([
    {
      name: 'listing: counts objects, no total, says which account',
      r: run({ phase: 'objects', account_index: 1 }, { pages_fetched: 7, objects_fetched: 640 }),
      want: {
        phase: 'listing Stripe objects',
        value: 640,
        total: null,
        detail: 'account 2 of 3 (acct_1A)',
      },
    },
    {
      name: 'events: counts recovered events',
      r: run({ phase: 'events', account_index: 0 }, { pages_fetched: 12, events_recovered: 3 }),
      want: {
        phase: 'recovering missed events',
        value: 3,
        total: null,
        detail: 'account 1 of 3 (platform)',
      },
    },
    {
      name: 'reconciling: units against a known total',
      r: run({ phase: 'reconcile' }, { pages_fetched: 12, units_total: 900, units_done: 300 }),
      want: { phase: 'reconciling', value: 300, total: 900 },
    },
    {
      name: 'done: the report',
      r: run({ phase: 'done' }, { report_id: 'rpt_1' }),
      want: { phase: 'writing the report', total: null, detail: 'rpt_1' },
    },
  ])('$name', ({ r, want }) => {
    expect(sweepPhase(r)).toMatchObject(want);
  });

  it('never grows a total while listing (the old bar ran one page ahead of itself)', () => {
    const totals = [1, 5, 9].map(
      (pages) => sweepPhase(run({ phase: 'objects' }, { pages_fetched: pages })).total,
    );
    expect(totals).toEqual([null, null, null]);
  });
});
