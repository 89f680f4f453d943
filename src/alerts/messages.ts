import { createHash } from 'node:crypto';
import { formatMoney } from '../domain/money.js';
import type { MismatchJson } from './mismatch-json.js';

export const NOTIFICATION_TYPES = [
  'mismatch.opened',
  'mismatch.escalated',
  'mismatch.resolved',
  'sweep.completed',
  'sweep.failed',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** What a drift report says, in the few numbers a `sweep.completed` alert carries. */
export interface SweepSummary {
  sweep_run_id: string | null;
  report_id: string;
  open: number;
  new: number;
  resolved: number;
  open_by_severity: Record<string, number>;
  open_by_kind: Record<string, number>;
  amount_at_risk: { currency: string; amount: number }[];
  objects_fetched: number;
  events_recovered: number;
}

/**
 * One message to every sink. `id` is fixed when the notification is built and travels with each
 * delivery job, so every retry of it carries the same id (receivers dedupe on it).
 */
export interface Notification {
  id: string;
  type: NotificationType;
  /** Unix seconds. */
  created: number;
  mismatches: MismatchJson[];
  summary?: SweepSummary;
  /** `sweep.failed`: which run, and the one line saying why (e.g. Stripe rejects the key). */
  failure?: { sweep_run_id: string; error: string };
}

/**
 * A deterministic id: the same set of mismatches at the same severities (or the same report)
 * yields the same id, so even a claim retried after a lost commit cannot look like a new alert.
 */
export function notificationId(type: NotificationType, parts: string[]): string {
  const h = createHash('sha256')
    .update(type)
    .update('\n')
    .update([...parts].sort().join('\n'))
    .digest('hex');
  return `ntf_${h.slice(0, 24)}`;
}

const SEVERITY_ICON: Record<string, string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':white_circle:',
};

/** Σ amount at risk per currency, by currency code, formatted ("5.00 EUR, $12.34"). */
export function atRiskText(
  items: { currency: string | null; amount_at_risk: number | null }[],
): string {
  const sums = new Map<string, number>();
  for (const m of items) {
    if (m.currency && m.amount_at_risk)
      sums.set(m.currency, (sums.get(m.currency) ?? 0) + m.amount_at_risk);
  }
  return [...sums.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([c, a]) => formatMoney(a, c))
    .join(', ');
}

function countBy<T>(items: T[], key: (t: T) => string): string {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return [...m.entries()].map(([k, n]) => `${n} ${k}`).join(', ');
}

/** One plain-text sentence, used as Slack's `text` fallback and as the log line's message. */
export function headline(n: Notification): string {
  const count = n.mismatches.length;
  const plural = count === 1 ? '' : 'es';
  const risk = atRiskText(n.mismatches);
  const riskText = risk ? ` — ${risk} at risk` : '';
  switch (n.type) {
    case 'mismatch.opened':
      return `${count} new reconciliation mismatch${plural} (${countBy(n.mismatches, (m) => m.severity)})${riskText}`;
    case 'mismatch.escalated':
      return `${count} reconciliation mismatch${plural} escalated (${countBy(n.mismatches, (m) => m.severity)})${riskText}`;
    case 'mismatch.resolved':
      return `${count} reconciliation mismatch${plural} resolved`;
    case 'sweep.completed': {
      const s = n.summary;
      if (!s) return 'sweep completed';
      const amount = s.amount_at_risk.map((a) => formatMoney(a.amount, a.currency)).join(', ');
      return `Sweep completed: ${s.open} open mismatch${s.open === 1 ? '' : 'es'} (${s.new} new, ${s.resolved} resolved)${amount ? ` — ${amount} at risk` : ''}`;
    }
    case 'sweep.failed':
      return `Sweep failed: ${n.failure?.error ?? 'see the worker log'}`;
  }
}

function mismatchLine(m: MismatchJson, resolved: boolean): string {
  const icon = resolved ? ':white_check_mark:' : (SEVERITY_ICON[m.severity] ?? ':grey_question:');
  const money =
    m.currency && m.amount_at_risk ? ` · ${formatMoney(m.amount_at_risk, m.currency)}` : '';
  const where = [m.object_id, m.ledger_entry_id ? `ledger ${m.ledger_entry_id}` : null, m.account]
    .filter(Boolean)
    .join(' · ');
  const why = resolved && m.resolution_reason ? `\n_resolved: ${m.resolution_reason}_` : '';
  // Slack mrkdwn: escape the three characters it treats specially.
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `${icon} *${m.kind}* (${m.severity})${money}\n${esc(m.message)}\n\`${esc(where || m.id)}\`${esc(why)}`;
}

/** Slack shows at most 50 blocks; beyond this many mismatches the rest are counted, not listed. */
export const SLACK_MAX_LISTED = 20;

export interface SlackPayload {
  text: string;
  blocks: Record<string, unknown>[];
}

/** A Slack incoming-webhook body: `text` (notifications, fallback) plus Block Kit `blocks`. */
export function slackPayload(n: Notification): SlackPayload {
  const text = headline(n);
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: text.slice(0, 150), emoji: true } },
  ];
  if (n.summary) {
    const s = n.summary;
    const sev = Object.entries(s.open_by_severity)
      .filter(([, c]) => c > 0)
      .map(([k, c]) => `${SEVERITY_ICON[k] ?? ''} ${k}: *${c}*`)
      .join('   ');
    const kinds = Object.entries(s.open_by_kind)
      .filter(([, c]) => c > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, c]) => `• ${k}: ${c}`)
      .join('\n');
    blocks.push({
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Open*\n${s.open}` },
        { type: 'mrkdwn', text: `*New / resolved*\n${s.new} / ${s.resolved}` },
        { type: 'mrkdwn', text: `*Objects fetched*\n${s.objects_fetched}` },
        { type: 'mrkdwn', text: `*Events recovered*\n${s.events_recovered}` },
      ],
    });
    if (sev) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: sev } });
    if (kinds)
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text: kinds.slice(0, 2900) } });
  }
  if (n.failure) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `\`${n.failure.error.slice(0, 2800)}\`` },
    });
  }
  const resolved = n.type === 'mismatch.resolved';
  // A sweep summary is numbers only in chat; its webhook body still lists the worst mismatches.
  const listed = n.type === 'sweep.completed' ? [] : n.mismatches;
  for (const m of listed.slice(0, SLACK_MAX_LISTED)) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: mismatchLine(m, resolved).slice(0, 2900) },
    });
  }
  const rest = listed.length - SLACK_MAX_LISTED;
  const footer = [`notification ${n.id}`];
  if (rest > 0)
    footer.unshift(
      `…and ${rest} more (GET /api/mismatches?status=${resolved ? 'resolved' : 'open'})`,
    );
  if (n.summary) footer.push(`report ${n.summary.report_id}`);
  if (n.failure) footer.push(`sweep ${n.failure.sweep_run_id}`);
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: footer.join(' · ') }] });
  return { text, blocks };
}

/** The generic JSON webhook body: `{id, type, created, mismatches, summary?}`. */
export function webhookBody(n: Notification): string {
  const body: Record<string, unknown> = {
    id: n.id,
    type: n.type,
    created: n.created,
    mismatches: n.mismatches,
  };
  if (n.summary) body.summary = n.summary;
  if (n.failure) body.failure = n.failure;
  return JSON.stringify(body);
}

/** Fields of the log sink's line (one line per notification; mismatches by id, kind and severity). */
export function logFields(n: Notification): Record<string, unknown> {
  return {
    alert: {
      id: n.id,
      type: n.type,
      count: n.mismatches.length,
      mismatches: n.mismatches.slice(0, 100).map((m) => ({
        id: m.id,
        kind: m.kind,
        severity: m.severity,
        object_id: m.object_id,
        ledger_entry_id: m.ledger_entry_id,
        amount_at_risk: m.amount_at_risk,
        currency: m.currency,
      })),
      ...(n.summary ? { summary: n.summary } : {}),
      ...(n.failure ? { failure: n.failure } : {}),
    },
  };
}
