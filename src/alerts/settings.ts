import type { Config } from '../config/config.js';
import type { MismatchKind, Severity } from '../domain/types.js';

export const SINK_NAMES = ['slack', 'webhook', 'log'] as const;
export type SinkName = (typeof SINK_NAMES)[number];

export interface AlertSettings {
  kinds: readonly MismatchKind[];
  minSeverity: Severity;
  groupWindowMs: number;
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
  /** The sinks configured by env, in delivery order. */
  sinks: SinkName[];
  slackUrl?: string;
  webhookUrl?: string;
  webhookSecret?: string;
}

export function alertSettings(config: Config): AlertSettings {
  const sinks: SinkName[] = [];
  if (config.SLACK_WEBHOOK_URL) sinks.push('slack');
  if (config.ALERT_WEBHOOK_URL) sinks.push('webhook');
  if (config.ALERT_LOG) sinks.push('log');
  return {
    kinds: config.ALERT_KINDS,
    minSeverity: config.ALERT_MIN_SEVERITY,
    groupWindowMs: config.ALERT_GROUP_WINDOW,
    attempts: config.ALERT_ATTEMPTS,
    backoffMs: config.ALERT_BACKOFF,
    timeoutMs: config.ALERT_TIMEOUT,
    sinks,
    slackUrl: config.SLACK_WEBHOOK_URL,
    webhookUrl: config.ALERT_WEBHOOK_URL,
    webhookSecret: config.ALERT_WEBHOOK_SECRET,
  };
}
