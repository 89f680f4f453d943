import { UnrecoverableError } from 'bullmq';
import type { Logger } from '../log/logger.js';
import { ReconError } from '../errors.js';
import { logFields, headline, slackPayload, webhookBody, type Notification } from './messages.js';
import type { AlertSettings, SinkName } from './settings.js';
import { signatureHeader } from './signature.js';

/** A sink answered with a status worth retrying (5xx, 408, 429) or did not answer. */
export class AlertDeliveryError extends ReconError {}

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'recon-alerts/1', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw new AlertDeliveryError(`sink unreachable: ${(err as Error).message}`, { cause: err });
  }
  // Drain the body so the connection can be reused; its content is not needed.
  await res.arrayBuffer().catch(() => undefined);
  if (res.ok) return;
  const why = `sink answered ${res.status}`;
  // Other 4xx mean the request itself is wrong (bad URL, payload refused): retrying cannot help,
  // so the delivery goes straight to the failed set where an operator sees it.
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
    throw new UnrecoverableError(why);
  }
  throw new AlertDeliveryError(why);
}

/**
 * Delivers one notification to one sink; throws to make BullMQ retry with backoff. The URL is
 * never logged or put in an error message (a Slack webhook URL is a credential).
 */
export async function deliver(
  sink: SinkName,
  n: Notification,
  settings: AlertSettings,
  log: Logger,
  nowSec: () => number = () => Math.floor(Date.now() / 1000),
): Promise<void> {
  switch (sink) {
    case 'slack': {
      if (!settings.slackUrl) throw new UnrecoverableError('SLACK_WEBHOOK_URL is not set');
      await post(settings.slackUrl, JSON.stringify(slackPayload(n)), {}, settings.timeoutMs);
      return;
    }
    case 'webhook': {
      if (!settings.webhookUrl) throw new UnrecoverableError('ALERT_WEBHOOK_URL is not set');
      const body = webhookBody(n);
      const headers: Record<string, string> = { 'recon-notification-id': n.id };
      // Signed at send time, so a retry hours later still passes the receiver's tolerance.
      if (settings.webhookSecret)
        headers['recon-signature'] = signatureHeader(settings.webhookSecret, body, nowSec());
      await post(settings.webhookUrl, body, headers, settings.timeoutMs);
      return;
    }
    case 'log': {
      const level = n.type === 'mismatch.resolved' ? 'info' : 'warn';
      log[level](logFields(n), headline(n));
      return;
    }
  }
}
