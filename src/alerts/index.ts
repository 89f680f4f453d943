export { alertSettings, SINK_NAMES, type AlertSettings, type SinkName } from './settings.js';
export {
  NOTIFICATION_TYPES,
  headline,
  logFields,
  slackPayload,
  webhookBody,
  type Notification,
  type NotificationType,
  type SweepSummary,
} from './messages.js';
export { SIGNATURE_HEADER, signatureHeader, verifySignature } from './signature.js';
export {
  alertQueue,
  enqueueSweepFailed,
  enqueueSweepSummary,
  onMismatchChanges,
  scheduleAlertCheck,
  type AlertJobData,
} from './queue.js';
export {
  runAlertCheck,
  runSweepFailed,
  runSweepSummary,
  startAlertWorker,
  type AlertWorker,
  type AlertWorkerOptions,
} from './worker.js';
export { deliver, AlertDeliveryError } from './sinks.js';
