import { describe, expect, it } from 'vitest';
import {
  headline,
  logFields,
  notificationId,
  slackPayload,
  webhookBody,
  type Notification,
} from '../../../src/alerts/messages.js';
import type { MismatchJson } from '../../../src/alerts/mismatch-json.js';
import {
  computeSignature,
  signatureHeader,
  verifySignature,
} from '../../../src/alerts/signature.js';

function mm(i: number, over: Partial<MismatchJson> = {}): MismatchJson {
  return {
    id: `mm_${i}`,
    object: 'mismatch',
    fingerprint: `reversal_lost:debrev_${i}:-`,
    kind: 'reversal_lost',
    severity: 'critical',
    status: 'open',
    object_type: 'debit_reversal',
    object_id: `debrev_${i}`,
    ledger_entry_id: `le_${i}`,
    account: 'acct_1',
    currency: 'usd',
    amount_at_risk: 1_000,
    expected: { status: 'won' },
    actual: { status: 'lost' },
    message: `Debit reversal debrev_${i} was lost <&>`,
    first_seen_at: '2026-11-22T03:00:00.000Z',
    last_seen_at: '2026-11-22T03:00:00.000Z',
    resolved_at: null,
    resolution_reason: null,
    reopened_count: 0,
    acknowledged_at: null,
    acknowledged_note: null,
    ...over,
  };
}

const note = (n: number, type: Notification['type'] = 'mismatch.opened'): Notification => ({
  id: 'ntf_1',
  type,
  created: 1_700_000_000,
  mismatches: Array.from({ length: n }, (_, i) => mm(i)),
});

describe('signature', () => {
  const body = '{"id":"ntf_1"}';
  it('verifies what it signs, within the tolerance, with the right key only', () => {
    const h = signatureHeader('k', body, 1_700_000_000);
    expect(h).toBe(`t=1700000000,v1=${computeSignature('k', 1_700_000_000, body)}`);
    expect(verifySignature(h, body, 'k', { nowSec: 1_700_000_100 })).toBe(true);
    expect(verifySignature(h, body, 'other', { nowSec: 1_700_000_100 })).toBe(false);
    expect(verifySignature(h, `${body} `, 'k', { nowSec: 1_700_000_100 })).toBe(false);
    expect(verifySignature(h, body, 'k', { nowSec: 1_700_000_301 })).toBe(false);
    expect(verifySignature(h, body, 'k', { nowSec: 1_699_999_699 })).toBe(false);
    expect(verifySignature(undefined, body, 'k')).toBe(false);
    expect(verifySignature('t=x,v1=zz', body, 'k')).toBe(false);
  });
  it('accepts any of several v1 values (key rotation on the receiving side)', () => {
    const h = `${signatureHeader('k', body, 1_700_000_000)},v1=${'0'.repeat(64)}`;
    expect(verifySignature(h, body, 'k', { nowSec: 1_700_000_000 })).toBe(true);
  });
});

describe('messages', () => {
  it('the generic webhook body is {id, type, created, mismatches, summary?}', () => {
    expect(JSON.parse(webhookBody(note(2)))).toEqual({
      id: 'ntf_1',
      type: 'mismatch.opened',
      created: 1_700_000_000,
      mismatches: [mm(0), mm(1)],
    });
  });

  it('Slack gets text plus at most 50 blocks, whatever the burst', () => {
    const p = slackPayload(note(500));
    expect(p.text).toBe('500 new reconciliation mismatches (500 critical) — $5,000.00 at risk');
    expect(p.blocks.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(p.blocks)).toContain('…and 480 more');
    expect(JSON.stringify(p.blocks)).toContain('&lt;&amp;&gt;');
  });

  it('words each type', () => {
    expect(headline(note(1, 'mismatch.resolved'))).toBe('1 reconciliation mismatch resolved');
    expect(headline(note(3, 'mismatch.escalated'))).toMatch(
      /^3 reconciliation mismatches escalated/,
    );
    expect(
      headline({
        ...note(0, 'sweep.completed'),
        summary: {
          sweep_run_id: 's',
          report_id: 'r',
          open: 4,
          new: 1,
          resolved: 2,
          open_by_severity: { critical: 4 },
          open_by_kind: { reversal_lost: 4 },
          amount_at_risk: [{ currency: 'eur', amount: 250 }],
          objects_fetched: 10,
          events_recovered: 3,
        },
      }),
    ).toBe('Sweep completed: 4 open mismatches (1 new, 2 resolved) — 2.50 EUR at risk');
  });

  it('a failed sweep says why in one line, on every sink', () => {
    const n: Notification = {
      ...note(0, 'sweep.failed'),
      failure: {
        sweep_run_id: 'swp_1',
        error: 'Stripe rejects STRIPE_API_KEY (401: wrong, rolled or revoked; not retried)',
      },
    };
    expect(headline(n)).toBe(
      'Sweep failed: Stripe rejects STRIPE_API_KEY (401: wrong, rolled or revoked; not retried)',
    );
    expect(JSON.parse(webhookBody(n))).toMatchObject({
      type: 'sweep.failed',
      mismatches: [],
      failure: { sweep_run_id: 'swp_1' },
    });
    const blocks = JSON.stringify(slackPayload(n).blocks);
    expect(blocks).toContain('sweep swp_1');
    expect(blocks).toContain('401: wrong, rolled or revoked');
    expect(logFields(n)).toMatchObject({ alert: { type: 'sweep.failed', failure: n.failure } });
  });

  it('ids are stable for the same content and differ otherwise', () => {
    expect(notificationId('mismatch.opened', ['a', 'b'])).toBe(
      notificationId('mismatch.opened', ['b', 'a']),
    );
    expect(notificationId('mismatch.opened', ['a'])).not.toBe(
      notificationId('mismatch.resolved', ['a']),
    );
    expect(notificationId('mismatch.opened', ['a'])).toMatch(/^ntf_[0-9a-f]{24}$/);
  });

  it('the log line names mismatches without their free text', () => {
    const f = logFields(note(1)) as { alert: { mismatches: Array<Record<string, unknown>> } };
    expect(f.alert.mismatches[0]).toEqual({
      id: 'mm_0',
      kind: 'reversal_lost',
      severity: 'critical',
      object_id: 'debrev_0',
      ledger_entry_id: 'le_0',
      amount_at_risk: 1_000,
      currency: 'usd',
    });
  });
});
