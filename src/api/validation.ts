import type { z } from 'zod';
import { ValidationError } from '../errors.js';

/**
 * A zod failure as the API's 400: every issue as `{param, message}` (an unknown parameter named
 * as such), the first one in the message. `what` names the input when an issue has no path.
 */
export function invalidInput(error: z.ZodError, what: 'query' | 'body'): ValidationError {
  const details = error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ param: k, message: 'unknown parameter' }))
      : [{ param: i.path.join('.') || what, message: i.message }],
  );
  const first = details[0];
  return new ValidationError(
    first ? `invalid ${first.param}: ${first.message}` : `invalid ${what}`,
    details,
  );
}
