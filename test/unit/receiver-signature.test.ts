import { describe, expect, it } from 'vitest';
import { parseEventEnvelope } from '../../src/inbox/envelope.js';
import { HANDLED_EVENT_TYPES, isHandledEventType } from '../../src/domain/event-types.js';
import { signatureTimestamp, verifyStripeSignature } from '../../src/receiver/signature.js';
import {
  TEST_WEBHOOK_SECRET as S1,
  TEST_WEBHOOK_SECRET_ROTATED as S2,
  loadFixtureEvent,
  makeEvent,
  signedRequest,
} from '../support/events.js';

const NOW = 1_763_800_000;
const TOL = 300;

function check(body: string, header: string | undefined, secrets = [S1, S2]) {
  return verifyStripeSignature(body, header, secrets, TOL, NOW * 1000);
}

describe('verifyStripeSignature', () => {
  const body = JSON.stringify(makeEvent('transfer.created', { id: 'tr_1' }));
  const sign = (secret: string, timestamp = NOW) =>
    signedRequest(body, secret, { timestamp }).headers['stripe-signature'];

  it.each([
    { name: 'current secret', header: () => sign(S1), want: 'ok' },
    { name: 'rotated secret', header: () => sign(S2), want: 'ok' },
    {
      name: 'both signatures (rotation)',
      header: () => `${sign(S1)},v1=${sign(S2).split('v1=')[1]}`,
      want: 'ok',
    },
    { name: 'missing header', header: () => undefined, want: 'missing_header' },
    { name: 'unknown secret', header: () => sign('whsec_other'), want: 'bad_signature' },
    { name: 'no v1', header: () => `t=${NOW},v0=abc`, want: 'bad_signature' },
    { name: 'no timestamp', header: () => sign(S1).replace(/^t=\d+,/, ''), want: 'bad_header' },
    {
      name: 'junk timestamp',
      header: () => sign(S1).replace(/^t=\d+/, `t=${NOW}abc`),
      want: 'bad_header',
    },
    { name: 'two timestamps', header: () => `t=${NOW},${sign(S1)}`, want: 'bad_header' },
    { name: 'at the past edge', header: () => sign(S1, NOW - TOL), want: 'ok' },
    { name: 'stale', header: () => sign(S1, NOW - TOL - 1), want: 'stale' },
    { name: 'at the future edge', header: () => sign(S1, NOW + TOL), want: 'ok' },
    { name: 'future', header: () => sign(S1, NOW + TOL + 1), want: 'future' },
  ])('$name → $want', ({ header, want }) => {
    const r = check(body, header());
    expect(r.ok ? 'ok' : r.reason).toBe(want);
  });

  it('fails on a body changed after signing', () => {
    expect(check(body + ' ', sign(S1))).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('never accepts with no secrets configured', () => {
    expect(check(body, sign(S1), [])).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('never echoes the header or a secret in its message', () => {
    const header = sign('whsec_other');
    const r = check(body, header);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).not.toContain(header.split('v1=')[1]);
      expect(r.message).not.toContain(S1);
    }
  });

  it('signatureTimestamp reads exactly one numeric t=', () => {
    expect(signatureTimestamp('t=12,v1=a')).toBe(12);
    expect(signatureTimestamp('v1=a')).toBeNull();
    expect(signatureTimestamp('t=-1,v1=a')).toBeNull();
  });
});

describe('parseEventEnvelope', () => {
  const good = makeEvent('transfer.created', { id: 'tr_1' }, { account: 'acct_123' });
  it.each([
    { name: 'not JSON', body: '{"id":', want: /not valid JSON/ },
    { name: 'array', body: '[1]', want: /not a Stripe event/ },
    { name: 'string', body: '"evt"', want: /not a Stripe event/ },
    {
      name: 'other object',
      body: JSON.stringify({ ...good, object: 'charge' }),
      want: /object is not/,
    },
    { name: 'no id', body: JSON.stringify({ ...good, id: undefined }), want: /id/ },
    { name: 'id with colon', body: JSON.stringify({ ...good, id: 'evt_a:b' }), want: /id/ },
    { name: 'no type', body: JSON.stringify({ ...good, type: undefined }), want: /type/ },
    { name: 'type with NUL', body: JSON.stringify({ ...good, type: 'a.\u0000' }), want: /type/ },
    { name: 'no created', body: JSON.stringify({ ...good, created: undefined }), want: /created/ },
    {
      name: 'ISO created',
      body: JSON.stringify({ ...good, created: '2026-01-01T00:00:00Z' }),
      want: /created/,
    },
    { name: 'no data.object', body: JSON.stringify({ ...good, data: {} }), want: /data.object/ },
    { name: 'bad account', body: JSON.stringify({ ...good, account: 42 }), want: /account/ },
  ])('refuses $name', ({ body, want }) => {
    const r = parseEventEnvelope(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(want);
  });

  it('keeps the payload verbatim and classifies handled and unknown types', () => {
    const body = JSON.stringify(good, null, 2);
    const r = parseEventEnvelope(body);
    expect(r).toMatchObject({
      ok: true,
      event: {
        id: good.id,
        type: 'transfer.created',
        account: 'acct_123',
        status: 'pending',
        payload: body,
      },
    });
    const other = parseEventEnvelope(JSON.stringify(makeEvent('charge.refunded', { id: 'ch_1' })));
    expect(other).toMatchObject({ ok: true, event: { status: 'ignored', account: null } });
  });

  it.each(HANDLED_EVENT_TYPES)('fixture %s parses as a pending event', (type) => {
    const ev = loadFixtureEvent(type);
    expect(isHandledEventType(ev.type)).toBe(true);
    expect(parseEventEnvelope(JSON.stringify(ev))).toMatchObject({
      ok: true,
      event: { type, status: 'pending' },
    });
  });
});
