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

/**
 * Text we interpolate (messages, ids, reasons: partly from Stripe metadata and ledger imports)
 * must stay text in a ticket: backslashes, pipes (table breaks), backticks (code spans), Markdown
 * emphasis/link characters and HTML (`<`, `>`, `&`: trackers render inline HTML) are escaped,
 * line breaks flattened.
 */
export const cell = (s: string | null | undefined) =>
  (s ?? '')
    .replace(/\r\n?|\n/g, ' ')
    .replace(/[\\`*_[\]|]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
/**
 * Ids as code spans. Inside a span nothing but a backtick is special (HTML stays literal), so
 * backticks become quotes; a pipe still ends a table cell in GFM, hence `\|`.
 */
export const code = (s: string | null) =>
  s
    ? `\`${s
        .replace(/`/g, "'")
        .replace(/\r\n?|\n/g, ' ')
        .replace(/\|/g, '\\|')}\``
    : '';

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map((h) => (/^(Count|Amount|Open)/.test(h) ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function list(items: ReportMismatch[], withReason: boolean): string {
  const shown = items.slice(0, LIST_LIMIT);
  const head = ['Severity', 'Kind', 'Object', 'Ledger entry', 'Account', 'Amount at risk', 'Age'];
  if (withReason) head.push('Resolution');
  head.push('Message');
  const rows = shown.map((m) => {
    const r = [
      m.severity,
      m.kind,
      code(m.object_id),
      code(m.ledger_entry_id),
      code(m.account),
      cell(riskText(m)),
      cell(age(m)),
    ];
    if (withReason) r.push(cell(m.resolution_reason));
    r.push(cell(m.message));
    return r;
  });
  const more = items.length - shown.length;
  return table(head, rows) + (more > 0 ? `\n\n…and ${more} more (see the CSV format).` : '');
}

/** For tickets: headline numbers, breakdowns, then the lists. */
export function renderMarkdown(body: ReportBody): string {
  const out: string[] = [`# ${title(body)}`, ''];
  // Chat gets the Slack alert (blocks); this format is what one pastes into a ticket.
  out.push(
    '_For tickets: paste this into an issue tracker. Live alerts go to chat as Slack blocks; the CSV has every row for finance._',
    '',
  );
  out.push(
    `Report \`${body.id}\`${body.sweep_run_id ? ` · sweep \`${body.sweep_run_id}\`` : ''} · ${sinceText(body)}`,
    '',
  );
  out.push(
    table(
      ['Measure', 'Value'],
      keyNumbers(body).map(([k, v]) => [k, cell(v)]),
    ),
    '',
  );

  out.push('## Open by severity', '');
  out.push(
    table(
      ['Severity', 'Count'],
      [...SEVERITIES].reverse().map((s) => [s, String(body.open_by_severity[s])]),
    ),
    '',
  );

  out.push('## Open by kind', '');
  const kinds = Object.entries(body.open_by_kind)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  out.push(
    kinds.length
      ? table(
          ['Kind', 'Count'],
          kinds.map(([k, n]) => [k, String(n)]),
        )
      : '_None open._',
    '',
  );

  out.push('## Open by account', '');
  out.push(
    body.open_by_account.length
      ? table(
          ['Account', 'Count', 'Amount at risk'],
          body.open_by_account.map((a) => [
            a.account ? code(a.account) : 'platform',
            String(a.count),
            cell(a.amount_at_risk.map((x) => money(x.amount, x.currency)).join(', ')),
          ]),
        )
      : '_None open._',
    '',
  );

  out.push('## Amount at risk', '');
  out.push(
    body.amount_at_risk.length
      ? table(
          ['Currency', 'Amount at risk', 'Count'],
          body.amount_at_risk.map((a) => [
            a.currency.toUpperCase(),
            cell(money(a.amount, a.currency)),
            String(a.count),
          ]),
        )
      : '_Nothing at risk._',
    '',
  );

  const fresh = body.open.filter((m) => m.change === 'new');
  const still = body.open.filter((m) => m.change === 'open');
  out.push(
    `## New (${fresh.length})`,
    '',
    fresh.length ? list(fresh, false) : '_No new mismatches._',
    '',
  );
  out.push(
    `## Resolved (${body.resolved.length})`,
    '',
    body.resolved.length ? list(body.resolved, true) : '_Nothing resolved._',
    '',
  );
  out.push(
    `## Still open (${still.length})`,
    '',
    still.length ? list(still, false) : '_Nothing carried over._',
    '',
  );
  out.push('## How to read this', '', ...READING_NOTES.map((n) => `- ${cell(n)}`), '');
  return out.join('\n');
}
