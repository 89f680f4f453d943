import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidEventError, parseEvent, parseEventEnvelope } from '../../../src/inbox/envelope.js';
import { makeEvent } from '../../support/events.js';

describe('parseEvent (stored rows, for the projection)', () => {
  it('reads rows admitted under looser rules: they must not become poison', () => {
    const loose = [
      { id: 'evt_a:b', type: 'transfer.created', created: 1, data: { object: { id: 'tr_1' } } },
      { id: 'evt_1', type: 'Weird Type', created: -5, data: {} },
      { id: 'evt_2', type: 'charge.refunded', created: 1, account: 'not-an-acct' },
      { id: 'evt_3', type: 'transfer.created', created: 1, data: { object: {} }, livemode: 'yes' },
      {
        id: 'evt_4',
        object: 'charge',
        type: 'transfer.created',
        created: 1,
        api_version: 42,
        data: { object: {} },
      },
    ];
    for (const e of loose) {
      expect(parseEvent(JSON.stringify(e))).toMatchObject({ id: e.id });
      expect(parseEvent(e)).toBe(e);
    }
  });

  it.each([
    { name: 'not JSON', payload: '{"id":', id: null, want: /not valid JSON/ },
    { name: 'not an object', payload: '[1]', id: null, want: /not a Stripe event/ },
    { name: 'no id', payload: '{"type":"a.b","created":1}', id: null, want: /id/ },
    { name: 'no type', payload: '{"id":"evt_1","created":1}', id: 'evt_1', want: /type/ },
    {
      name: 'ISO created',
      payload: '{"id":"evt_1","type":"a.b","created":"2026-01-01"}',
      id: 'evt_1',
      want: /created/,
    },
    {
      name: 'a handled type without data.object',
      payload: '{"id":"evt_1","type":"transfer.created","created":1,"data":{}}',
      id: 'evt_1',
      want: /data.object/,
    },
    {
      name: 'a numeric account',
      payload: '{"id":"evt_1","type":"a.b","created":1,"account":42}',
      id: 'evt_1',
      want: /account/,
    },
  ])('poison: $name, with the event id when there is one', ({ payload, id, want }) => {
    let caught: unknown;
    try {
      parseEvent(payload);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidEventError);
    expect((caught as InvalidEventError).eventId).toBe(id);
    expect((caught as InvalidEventError).message).toMatch(want);
  });

  it('accepts every event the inbox admits', () => {
    const good = makeEvent('transfer.created', { id: 'tr_1' }, { account: 'acct_123' });
    const field = fc.constantFrom(
      'id',
      'type',
      'created',
      'account',
      'livemode',
      'api_version',
      'object',
      'data',
    );
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.constant({}),
      fc.constant({ object: {} }),
      fc.constantFrom('evt_1', 'charge.refunded', 'acct_9', 'event', '2024-06-20'),
    );
    fc.assert(
      fc.property(fc.dictionary(field, value), (patch) => {
        const body = JSON.stringify({ ...good, ...patch });
        if (parseEventEnvelope(body).ok) expect(() => parseEvent(body)).not.toThrow();
      }),
      { numRuns: 2_000 },
    );
  });
});
