/**
 * Alerts carry mismatches exactly as `GET /api/mismatches` shows them, through the API's own
 * serializer, so a receiver can follow an alert into the API.
 */
export {
  toApiMismatch as mismatchJson,
  type ApiMismatch as MismatchJson,
  type MismatchRow,
} from '../reconciliation/mismatch-record.js';
