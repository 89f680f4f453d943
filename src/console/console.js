// The operator console: plain browser JavaScript, no framework, no build step, nothing loaded
// from elsewhere. It holds no data itself; everything comes from the token-protected /api with
// the token the operator typed once, kept in this tab's sessionStorage (never in a URL).
// Every piece of data reaches the page through textContent, never as HTML.

import { formatMoney } from './money.js';

const KEY = 'recon.operatorToken';
const main = document.getElementById('main');
const KINDS = [
  'missing_in_ledger',
  'missing_in_stripe',
  'amount_mismatch',
  'currency_mismatch',
  'status_mismatch',
  'stuck_processing',
  'reversal_lost',
  'reversal_canceled',
  'over_reversed',
  'transfer_total_drift',
  'duplicate_match',
];
const SEVERITIES = ['critical', 'high', 'medium', 'low'];
/** Age filter (GET /api/mismatches?min_age=): first seen at least this long ago. */
const AGES = [
  ['', 'Any'],
  ['1h', '1 hour or more'],
  ['1d', '1 day or more'],
  ['7d', '7 days or more'],
  ['30d', '30 days or more'],
];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, init = {}) {
  const token = sessionStorage.getItem(KEY);
  const res = await fetch(path, {
    ...init,
    headers: {
      authorization: `Bearer ${token}`,
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

/** The product's one money formatter (the server's own file): `$2,953.49`, `€3.50`, `CHF 12.34`. */
function money(amount, currency) {
  if (amount === null || amount === undefined || !currency) return '—';
  return formatMoney(amount, currency);
}

/** A duration in the console's short words: `7 min`, `5 h`, `9 d`. */
function duration(ms) {
  const s = Math.max(0, ms / 1000);
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}
const age = (iso) => duration(Date.now() - Date.parse(iso));
/** First seen: the object's own time (what the message's "for 9 days" counts from). */
const firstSeen = (m) => m.object_first_seen_at ?? m.first_seen_at;
const utc = (iso) => new Date(iso).toUTCString();

const badge = (sev) => el('span', { class: `badge sev-${sev}` }, sev);

/**
 * The object in Stripe's dashboard, in test or live mode as the object itself says (`livemode`),
 * under its connected account when it has one. Transfers (and a transfer reversal, through its
 * transfer) have their own page; Treasury objects are found by the dashboard's search.
 */
function dashboardLink(id, livemode, account, transfer) {
  if (!id) return null;
  const base = `https://dashboard.stripe.com${account ? `/${account}` : ''}${livemode ? '' : '/test'}`;
  const tr = id.startsWith('tr_') ? id : id.startsWith('trr_') ? transfer : null;
  const path = tr
    ? `/connect/transfers/${encodeURIComponent(tr)}`
    : `/search?query=${encodeURIComponent(id)}`;
  return el(
    'a',
    { href: `${base}${path}`, target: '_blank', rel: 'noopener noreferrer' },
    `Open in Stripe (${livemode ? 'live' : 'test'} mode) ↗`,
  );
}

function showError(err) {
  if (err instanceof ApiError && err.status === 401) {
    sessionStorage.removeItem(KEY);
    return renderLogin('That token was not accepted.');
  }
  main.replaceChildren(el('p', { class: 'error', role: 'alert' }, err.message));
}

function renderLogin(message) {
  document.getElementById('logout').hidden = true;
  const input = el('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const form = el(
    'form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        sessionStorage.setItem(KEY, input.value.trim());
        try {
          await api('/api/mismatches?limit=1');
          route();
        } catch (err) {
          showError(err);
        }
      },
    },
    el('label', { for: 'token' }, 'Operator token', input),
    message ? el('p', { class: 'error', role: 'alert' }, message) : null,
    el('button', { type: 'submit' }, 'Sign in'),
  );
  main.replaceChildren(
    el(
      'section',
      { class: 'card login' },
      el('h1', {}, 'Sign in'),
      el('p', { class: 'muted' }, 'Enter your operator token. It stays in this tab only.'),
      form,
    ),
  );
  input.focus();
}

function select(name, label, options, value) {
  return el(
    'label',
    {},
    label,
    el(
      'select',
      { name },
      el('option', { value: '' }, 'Any'),
      options.map((o) => el('option', { value: o, selected: o === value }, o)),
    ),
  );
}

async function renderList(params) {
  const q = new URLSearchParams(params);
  // The open list is what still needs someone: open and not acknowledged, unless asked otherwise.
  if (!q.has('status')) q.set('status', 'open');
  if (!q.has('acknowledged')) q.set('acknowledged', 'false');
  if (q.get('acknowledged') === 'any') q.delete('acknowledged');
  q.set('limit', q.get('limit') ?? '25');
  const list = await api(`/api/mismatches?${q}`);
  const form = el(
    'form',
    {
      class: 'filters',
      'aria-label': 'Filter mismatches',
      onsubmit: (e) => {
        e.preventDefault();
        const next = new URLSearchParams();
        for (const [k, v] of new FormData(e.target)) if (v) next.set(k, String(v));
        if (!next.has('acknowledged')) next.set('acknowledged', 'any');
        location.hash = `#/?${next}`;
      },
    },
    select('status', 'Status', ['open', 'resolved'], q.get('status')),
    select('kind', 'Kind', KINDS, q.get('kind')),
    select('severity', 'Severity', SEVERITIES, q.get('severity')),
    el(
      'label',
      {},
      'Acknowledged',
      el(
        'select',
        { name: 'acknowledged' },
        [
          ['false', 'No'],
          ['true', 'Yes'],
          ['any', 'Any'],
        ].map(([v, text]) =>
          el('option', { value: v, selected: v === (q.get('acknowledged') ?? 'any') }, text),
        ),
      ),
    ),
    el(
      'label',
      {},
      'Account',
      el('input', { name: 'account', value: q.get('account') ?? '', placeholder: 'acct_…' }),
    ),
    el(
      'label',
      {},
      'Currency',
      el('input', {
        name: 'currency',
        value: q.get('currency') ?? '',
        placeholder: 'usd',
        maxlength: 3,
        size: 4,
        pattern: '[A-Za-z]{3}',
      }),
    ),
    el(
      'label',
      {},
      'Age',
      el(
        'select',
        { name: 'min_age' },
        AGES.map(([v, text]) =>
          el('option', { value: v, selected: v === (q.get('min_age') ?? '') }, text),
        ),
      ),
    ),
    el('button', { type: 'submit' }, 'Apply filters'),
  );
  const rows = list.data.map((m) =>
    el(
      'tr',
      {},
      el('td', {}, badge(m.severity)),
      el('td', {}, el('a', { href: `#/mismatches/${m.id}` }, m.kind)),
      el('td', { class: 'opt' }, el('code', {}, m.object_id ?? m.ledger_entry_id ?? '—')),
      el('td', { class: 'opt' }, m.account ?? 'platform'),
      el('td', { class: 'num' }, money(m.amount_at_risk, m.currency)),
      el('td', { class: 'num', title: `First seen ${utc(firstSeen(m))}` }, age(firstSeen(m))),
      el('td', { class: 'opt' }, m.acknowledged_at ? 'Acknowledged' : ''),
    ),
  );
  const page = (key, id, text) => {
    const p = new URLSearchParams(q);
    p.delete('starting_after');
    p.delete('ending_before');
    p.set(key, id);
    return el('a', { href: `#/?${p}` }, text);
  };
  const cursorUsed = q.has('starting_after') || q.has('ending_before');
  main.replaceChildren(
    el('h1', {}, 'Mismatches'),
    form,
    list.data.length
      ? el(
          'div',
          { class: 'table-wrap' },
          el(
            'table',
            {},
            el(
              'caption',
              { class: 'muted', style: 'text-align:left;padding:8px 12px' },
              `${list.data.length} shown${list.has_more ? ', more on the next page' : ''}`,
            ),
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                el('th', { scope: 'col' }, 'Severity'),
                el('th', { scope: 'col' }, 'Kind'),
                el('th', { scope: 'col', class: 'opt' }, 'Object'),
                el('th', { scope: 'col', class: 'opt' }, 'Account'),
                el('th', { scope: 'col', class: 'num' }, 'At risk'),
                el('th', { scope: 'col', class: 'num' }, 'Age'),
                el('th', { scope: 'col', class: 'opt' }, 'Acknowledged'),
              ),
            ),
            el('tbody', {}, rows),
          ),
        )
      : el('p', { class: 'card muted' }, 'No mismatches match these filters.'),
    el(
      'nav',
      { class: 'pager', 'aria-label': 'Pages' },
      cursorUsed && list.data[0] ? page('ending_before', list.data[0].id, '← Newer') : null,
      list.has_more && list.data.length
        ? page('starting_after', list.data.at(-1).id, 'Older →')
        : null,
    ),
  );
}

function side(title, value) {
  return el(
    'section',
    { class: 'card' },
    el('h2', {}, title),
    value
      ? el('pre', {}, JSON.stringify(value, null, 2))
      : el('p', { class: 'muted' }, 'Nothing recorded.'),
  );
}

async function renderMismatch(id) {
  const m = await api(`/api/mismatches/${encodeURIComponent(id)}`);
  let reversal = null;
  let transfer = null;
  if (m.object_id && /^(trr|credrev|debrev)_/.test(m.object_id)) {
    reversal = await api(`/api/reversals/${encodeURIComponent(m.object_id)}`).catch(() => null);
  } else if (m.object_id?.startsWith('tr_')) {
    transfer = await api(`/api/transfers/${encodeURIComponent(m.object_id)}`).catch(() => null);
  }
  const livemode = reversal?.livemode ?? transfer?.livemode ?? false;
  const note = el('textarea', { id: 'note', name: 'note', required: true, maxlength: 2000 });
  const status = el('p', { role: 'status', class: 'muted' });
  const act = async (action, body) => {
    try {
      await api(`/api/mismatches/${encodeURIComponent(id)}/${action}`, {
        method: 'POST',
        body: JSON.stringify(body),
      });
      await renderMismatch(id);
      document.getElementById('main').focus();
    } catch (err) {
      status.className = 'error';
      status.textContent = err.message;
    }
  };
  const ackForm = m.acknowledged_at
    ? el(
        'form',
        {
          onsubmit: (e) => {
            e.preventDefault();
            act('unacknowledge', note.value.trim() ? { note: note.value } : {});
          },
        },
        el(
          'p',
          {},
          `Acknowledged ${new Date(m.acknowledged_at).toUTCString()}: “${m.acknowledged_note}”`,
        ),
        el('label', { for: 'note' }, 'Why un-acknowledge (optional)', note),
        el('button', { type: 'submit', class: 'secondary' }, 'Un-acknowledge'),
        status,
      )
    : el(
        'form',
        {
          onsubmit: (e) => {
            e.preventDefault();
            act('acknowledge', { note: note.value });
          },
        },
        el('label', { for: 'note' }, 'Note (required: why this needs no action)', note),
        el('button', { type: 'submit' }, 'Acknowledge'),
        status,
      );
  if (m.acknowledged_at) note.removeAttribute('required');
  const history = reversal?.status_history ?? [];
  main.replaceChildren(
    el('p', {}, el('a', { href: '#/' }, '← All mismatches')),
    el('h1', {}, badge(m.severity), ' ', m.kind),
    el('p', {}, m.message),
    el(
      'section',
      { class: 'card' },
      el(
        'dl',
        { class: 'facts' },
        el('dt', {}, 'Status'),
        el('dd', {}, m.status),
        el('dt', {}, 'Object'),
        el(
          'dd',
          {},
          el('code', {}, m.object_id ?? '—'),
          ' ',
          dashboardLink(m.object_id, livemode, m.account, reversal?.transfer),
        ),
        el('dt', {}, 'Ledger entry'),
        el('dd', {}, el('code', {}, m.ledger_entry_id ?? '—')),
        el('dt', {}, 'Account'),
        el('dd', {}, m.account ?? 'platform'),
        el('dt', {}, 'Amount at risk'),
        el('dd', {}, money(m.amount_at_risk, m.currency)),
        el('dt', {}, 'First seen'),
        el('dd', {}, `${utc(firstSeen(m))} (${age(firstSeen(m))} ago)`),
        // When the mismatch was raised, if later: a reversal stuck for 9 days opens on day 5.
        age(firstSeen(m)) === age(m.first_seen_at) ? null : el('dt', {}, 'Open since'),
        age(firstSeen(m)) === age(m.first_seen_at)
          ? null
          : el('dd', {}, `${utc(m.first_seen_at)} (${age(m.first_seen_at)} ago)`),
        el('dt', {}, 'Last seen'),
        el('dd', {}, new Date(m.last_seen_at).toUTCString()),
      ),
    ),
    el(
      'div',
      { class: 'grid2' },
      side('Expected (ledger)', m.expected),
      side('Actual (Stripe)', m.actual),
    ),
    el('h2', {}, 'Acknowledgement'),
    el(
      'section',
      { class: 'card' },
      ackForm,
      m.acknowledgements.length
        ? el(
            'ol',
            { class: 'trail', 'aria-label': 'Acknowledgement history' },
            m.acknowledgements.map((a) =>
              el(
                'li',
                {},
                `${new Date(a.created_at).toUTCString()} — ${a.action === 'acknowledge' ? 'Acknowledged' : 'Un-acknowledged'} by ${a.by}${a.note ? `: ${a.note}` : ''}`,
              ),
            ),
          )
        : null,
    ),
    el('h2', {}, 'Status history'),
    history.length
      ? el(
          'ol',
          { class: 'trail card' },
          history.map((h) => el('li', {}, `${h.from ?? '—'} → ${h.to} (${h.event_id})`)),
        )
      : el('p', { class: 'muted' }, 'No status history for this object.'),
    el('h2', {}, 'Matched ledger entries'),
    reversal?.ledger_entries?.length
      ? el(
          'ul',
          { class: 'card' },
          reversal.ledger_entries.map((e) =>
            el('li', {}, el('code', {}, e.id), ` ${money(e.amount, e.currency)}`),
          ),
        )
      : el('p', { class: 'muted' }, 'None matched.'),
    reversal ? side('Stripe snapshot', snapshotOnly(reversal)) : null,
  );
}

/** The object as Stripe sent it, without what our API lays over it (shown above already). */
function snapshotOnly(r) {
  const raw = { ...r };
  for (const k of ['status_history', 'ledger_entries', 'mismatches', 'normalized_status'])
    delete raw[k];
  return raw;
}

async function renderReports() {
  const list = await api('/api/reports?limit=30');
  const max = Math.max(1, ...list.data.map((r) => r.totals?.open ?? 0));
  const points = [...list.data].reverse();
  const chart = el(
    'div',
    {
      class: 'card',
      role: 'img',
      'aria-label': `Open mismatches over the last ${points.length} reports`,
    },
    el(
      'div',
      { style: 'display:flex;align-items:end;gap:4px;height:120px' },
      points.map((r) =>
        el('div', {
          title: `${r.created_at}: ${r.totals?.open ?? 0} open`,
          style: `flex:1;background:#533afd;height:${Math.max(2, ((r.totals?.open ?? 0) / max) * 120)}px;border-radius:3px 3px 0 0`,
        }),
      ),
    ),
  );
  main.replaceChildren(
    el('h1', {}, 'Drift reports'),
    chart,
    el(
      'div',
      { class: 'table-wrap', style: 'margin-top:16px' },
      el(
        'table',
        {},
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', { scope: 'col' }, 'Created'),
            el('th', { scope: 'col', class: 'num' }, 'Open'),
            el('th', { scope: 'col', class: 'num' }, 'New'),
            el('th', { scope: 'col', class: 'num' }, 'Resolved'),
            el('th', { scope: 'col' }, 'Download'),
          ),
        ),
        el(
          'tbody',
          {},
          list.data.map((r) =>
            el(
              'tr',
              {},
              el('td', {}, new Date(r.created_at).toUTCString()),
              el('td', { class: 'num' }, r.totals?.open ?? '—'),
              el('td', { class: 'num' }, r.totals?.new ?? '—'),
              el('td', { class: 'num' }, r.totals?.resolved ?? '—'),
              el(
                'td',
                {},
                ['csv', 'md'].map((f) =>
                  el(
                    'button',
                    { type: 'button', class: 'secondary', onclick: () => download(r.id, f) },
                    f.toUpperCase(),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Downloads go through fetch (the token never goes into a link). */
async function download(id, format) {
  const res = await fetch(`/api/reports/${encodeURIComponent(id)}?format=${format}`, {
    headers: { authorization: `Bearer ${sessionStorage.getItem(KEY)}` },
  });
  const url = URL.createObjectURL(await res.blob());
  el('a', { href: url, download: `${id}.${format}` }).click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function route() {
  if (!sessionStorage.getItem(KEY)) return renderLogin();
  const logout = document.getElementById('logout');
  logout.hidden = false;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  try {
    const m = /^\/mismatches\/([A-Za-z0-9_]+)$/.exec(path);
    if (m) await renderMismatch(m[1]);
    else if (path === '/reports') await renderReports();
    else await renderList(new URLSearchParams(query));
  } catch (err) {
    showError(err);
  }
}

document.getElementById('logout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  location.hash = '#/';
  renderLogin();
});
window.addEventListener('hashchange', route);
route();
