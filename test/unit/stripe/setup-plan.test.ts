import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { HANDLED_EVENT_TYPES } from '../../../src/domain/event-types.js';
import { STRIPE_API_VERSION } from '../../../src/stripe/client.js';
import { maskStripeKey, stripeKeyKind } from '../../../src/stripe/key.js';
import {
  checkEndpoints,
  endpointRole,
  missingEvents,
  planSetup,
} from '../../../src/stripe/setup.js';

const URL_ = 'https://recon.example.com/webhooks/stripe';
let n = 0;

function we(over: Partial<Stripe.WebhookEndpoint> & { connect?: boolean } = {}) {
  return {
    id: `we_${++n}`,
    object: 'webhook_endpoint',
    api_version: STRIPE_API_VERSION,
    application: null,
    created: 1,
    description: null,
    enabled_events: [...HANDLED_EVENT_TYPES],
    livemode: false,
    metadata: {},
    status: 'enabled',
    url: URL_,
    ...over,
  } as Stripe.WebhookEndpoint;
}
const platform = (over = {}) => we({ metadata: { recon_endpoint: 'platform' }, ...over });
const connect = (over = {}) => we({ metadata: { recon_endpoint: 'connect' }, ...over });

describe('planSetup', () => {
  it('creates both when nothing is there; endpoints at other URLs are not ours', () => {
    const plan = planSetup(URL_, [platform({ url: 'https://elsewhere.example/x' })]);
    expect(plan.actions.map((a) => [a.role, a.kind])).toEqual([
      ['platform', 'create'],
      ['connect', 'create'],
    ]);
  });

  it('leaves right endpoints alone; `*` counts as every event', () => {
    const plan = planSetup(URL_, [platform({ enabled_events: ['*'] }), connect()]);
    expect(plan.actions.map((a) => a.kind)).toEqual(['unchanged', 'unchanged']);
  });

  it('updates missing events and a disabled endpoint; replaces one on another API version', () => {
    const p = platform({ enabled_events: ['transfer.created'], status: 'disabled' });
    const c = connect({ api_version: '2024-06-20' });
    const plan = planSetup(URL_, [p, c]);
    expect(plan.actions[0]).toMatchObject({ kind: 'update', role: 'platform', endpoint: p });
    expect((plan.actions[0] as { changes: string[] }).changes).toEqual([
      expect.stringMatching(/^enabled_events \+transfer\.reversed/) as unknown,
      'enable it',
    ]);
    expect(plan.actions[1]).toMatchObject({ kind: 'replace', role: 'connect', endpoint: c });
  });

  it('prefers the endpoint on the pinned version and reports the other as extra', () => {
    const old = connect({ api_version: '2024-06-20' });
    const current = connect();
    const plan = planSetup(URL_, [current, old, platform()]);
    expect(plan.actions[1]).toMatchObject({ kind: 'unchanged', endpoint: current });
    expect(plan.extra).toEqual([old]);
  });

  it('refuses when an endpoint at the URL has no role tag', () => {
    const manual = we();
    expect(() => planSetup(URL_, [manual, platform()])).toThrow(
      new RegExp(`${manual.id} at .* has no metadata recon_endpoint`),
    );
  });

  it('trusts a `connect` field should Stripe ever return one', () => {
    expect(endpointRole(we({ connect: true }))).toBe('connect');
    expect(endpointRole(we({ connect: false, metadata: { recon_endpoint: 'connect' } }))).toBe(
      'platform',
    );
  });
});

describe('checkEndpoints', () => {
  it('names each problem', () => {
    const checks = checkEndpoints([
      platform({ status: 'disabled', api_version: null, enabled_events: ['transfer.created'] }),
    ]);
    expect(checks[0]!.problems).toEqual([
      'it is disabled',
      `its api_version is the account default, recon pins ${STRIPE_API_VERSION}`,
      expect.stringMatching(/^it does not get transfer\.reversed, /) as unknown,
    ]);
    expect(checks[1]!.problems).toEqual([
      'no Connect endpoint (none tagged metadata recon_endpoint=connect)',
    ]);
    expect(missingEvents(connect())).toEqual([]);
  });
});

describe('key kinds', () => {
  it('tells secret from restricted, live from test, and masks', () => {
    expect(stripeKeyKind('rk_live_abc')).toEqual({ kind: 'restricted', mode: 'live' });
    expect(stripeKeyKind('sk_test_abc')).toEqual({ kind: 'secret', mode: 'test' });
    expect(stripeKeyKind('pk_test_abc')).toEqual({ kind: 'unknown', mode: 'unknown' });
    expect(maskStripeKey('rk_live_0123456789wxyz')).toBe('rk_live_…');
  });
});
