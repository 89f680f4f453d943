import { SEVERITIES } from '../domain/types.js';
import {
  LIST_LIMIT,
  READING_NOTES,
  age,
  keyNumbers,
  money,
  riskText,
  sinceText,
  title,
} from './format.js';
import type { ReportBody, ReportMismatch } from './schema.js';

/** A standalone page: inline CSS and SVG, no script, no external asset (mail it, archive it). */

const esc = (s: string | number | null | undefined): string =>
  String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

const SEVERITY_COLOR: Record<string, string> = {
  critical: '#b42318',
  high: '#c4320a',
  medium: '#b54708',
  low: '#475467',
};

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#101828;background:#f9fafb;margin:0;padding:24px}
main{max-width:1200px;margin:0 auto}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:28px 0 8px}
.sub{color:#475467;margin:0 0 20px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{background:#fff;border:1px solid #eaecf0;border-radius:8px;padding:12px 14px}
.card .label{color:#475467;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:20px;font-weight:600;margin-top:2px;word-break:break-word}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
.panel{background:#fff;border:1px solid #eaecf0;border-radius:8px;padding:12px 14px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaecf0;vertical-align:top}
th{font-size:12px;color:#475467;text-transform:uppercase;letter-spacing:.04em;background:#f2f4f7}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f2f4f7;padding:1px 4px;border-radius:4px}
.sev{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.msg{color:#344054;max-width:420px}
.empty{color:#667085;font-style:italic}
.more{color:#475467;margin-top:6px}
.notes{color:#344054;max-width:900px}
footer{color:#667085;font-size:12px;margin-top:32px}
`;

function sev(s: string): string {
  return `<span class="sev" style="background:${SEVERITY_COLOR[s] ?? '#475467'}">${esc(s)}</span>`;
}

const codeOr = (s: string | null) => (s ? `<code>${esc(s)}</code>` : '');

/** Bars of open mismatches per report, oldest left; the newest bar is this report. */
export function renderChart(history: ReportBody['history'], width = 640, height = 180): string {
  const pad = { top: 16, right: 12, bottom: 30, left: 40 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const max = Math.max(1, ...history.map((p) => p.open));
  const step = history.length ? w / history.length : w;
  const bar = Math.max(2, Math.min(40, step * 0.7));
  // Nightly reports are labelled by day; several on one day (manual sweeps) by time.
  const days = new Set(history.map((p) => p.created_at.slice(0, 10)));
  const label = (iso: string) =>
    days.size === history.length ? iso.slice(5, 10) : iso.slice(5, 16).replace('T', ' ');
  const parts: string[] = [];
  for (const frac of [0, 0.5, 1]) {
    const y = pad.top + h - frac * h;
    parts.push(
      `<line x1="${pad.left}" x2="${pad.left + w}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eaecf0"/>`,
      `<text x="${pad.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#667085">${Math.round(frac * max)}</text>`,
    );
  }
  history.forEach((p, i) => {
    const bh = (p.open / max) * h;
    const x = pad.left + i * step + (step - bar) / 2;
    const y = pad.top + h - bh;
    const last = i === history.length - 1;
    parts.push(
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bar.toFixed(1)}" height="${Math.max(bh, p.open ? 1 : 0).toFixed(1)}" rx="2" fill="${last ? '#175cd3' : '#84adff'}"><title>${esc(p.created_at.slice(0, 16).replace('T', ' '))}: ${p.open} open</title></rect>`,
    );
    if (history.length <= 12 || last || i === 0) {
      parts.push(
        `<text x="${(x + bar / 2).toFixed(1)}" y="${height - 10}" text-anchor="middle" font-size="10" fill="#667085">${esc(label(p.created_at))}</text>`,
      );
    }
    if (last || history.length <= 12) {
      parts.push(
        `<text x="${(x + bar / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="11" fill="#101828">${p.open}</text>`,
      );
    }
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Open mismatches over the last ${history.length} reports" width="100%" viewBox="0 0 ${width} ${height}" style="max-width:${width}px">${parts.join('')}</svg>`;
}

function list(items: ReportMismatch[], withReason: boolean, empty: string): string {
  if (!items.length) return `<p class="empty">${esc(empty)}</p>`;
  const shown = items.slice(0, LIST_LIMIT);
  const rows = shown
    .map(
      (m) => `<tr>
<td>${sev(m.severity)}</td><td>${esc(m.kind)}</td><td>${codeOr(m.object_id)}</td><td>${codeOr(m.ledger_entry_id)}</td>
<td>${m.account ? codeOr(m.account) : 'platform'}</td><td class="num">${esc(riskText(m))}</td>
<td>${esc(age(m))}</td>${withReason ? `<td>${esc(m.resolution_reason)}</td>` : ''}<td class="msg">${esc(m.message)}</td></tr>`,
    )
    .join('\n');
  const more = items.length - shown.length;
  return `<table><thead><tr><th>Severity</th><th>Kind</th><th>Object</th><th>Ledger entry</th><th>Account</th><th class="num">At risk</th><th>Age</th>${withReason ? '<th>Resolution</th>' : ''}<th>Message</th></tr></thead>
<tbody>${rows}</tbody></table>${more > 0 ? `<p class="more">…and ${more} more (see the CSV format).</p>` : ''}`;
}

function small(head: string[], rows: string[][], numericFrom = 1): string {
  return `<table><thead><tr>${head.map((h, i) => `<th${i >= numericFrom ? ' class="num"' : ''}>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td${i >= numericFrom ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
}

export function renderHtml(body: ReportBody): string {
  const fresh = body.open.filter((m) => m.change === 'new');
  const still = body.open.filter((m) => m.change === 'open');
  const cards = keyNumbers(body)
    .map(
      ([k, v]) =>
        `<div class="card"><div class="label">${esc(k)}</div><div class="value">${esc(v)}</div></div>`,
    )
    .join('');
  const kinds = Object.entries(body.open_by_kind)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title(body))}</title><style>${CSS}</style></head>
<body><main>
<h1>${esc(title(body))}</h1>
<p class="sub">Report <code>${esc(body.id)}</code>${body.sweep_run_id ? ` · sweep <code>${esc(body.sweep_run_id)}</code>` : ''} · ${esc(sinceText(body))}</p>
<section class="cards">${cards}</section>
<h2>Open mismatches over the last ${body.history.length} report${body.history.length === 1 ? '' : 's'}</h2>
<div class="panel">${renderChart(body.history)}</div>
<div class="grid2">
<section><h2>Open by severity</h2>${small(
    ['Severity', 'Count'],
    [...SEVERITIES].reverse().map((s) => [sev(s), String(body.open_by_severity[s])]),
  )}</section>
<section><h2>Open by kind</h2>${
    kinds.length
      ? small(
          ['Kind', 'Count'],
          kinds.map(([k, n]) => [esc(k), String(n)]),
        )
      : '<p class="empty">None open.</p>'
  }</section>
<section><h2>Open by account</h2>${
    body.open_by_account.length
      ? small(
          ['Account', 'Count', 'At risk'],
          body.open_by_account.map((a) => [
            a.account ? codeOr(a.account) : 'platform',
            String(a.count),
            esc(a.amount_at_risk.map((x) => money(x.amount, x.currency)).join(', ')),
          ]),
        )
      : '<p class="empty">None open.</p>'
  }</section>
<section><h2>Amount at risk</h2>${
    body.amount_at_risk.length
      ? small(
          ['Currency', 'At risk', 'Count'],
          body.amount_at_risk.map((a) => [
            esc(a.currency.toUpperCase()),
            esc(money(a.amount, a.currency)),
            String(a.count),
          ]),
        )
      : '<p class="empty">Nothing at risk.</p>'
  }</section>
</div>
<h2>New (${fresh.length})</h2>${list(fresh, false, 'No new mismatches.')}
<h2>Resolved (${body.resolved.length})</h2>${list(body.resolved, true, 'Nothing resolved.')}
<h2>Still open (${still.length})</h2>${list(still, false, 'Nothing carried over.')}
<h2>How to read this</h2>
<ul class="notes">${READING_NOTES.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
<footer>Generated ${esc(body.created_at)} by recon.</footer>
</main></body></html>
`;
}
