import { invalidParam, StripeApiError } from './errors.js';
import type { Params } from './params.js';

export interface StripeList<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

export const PAGE_PARAMS = ['limit', 'starting_after', 'ending_before'] as const;

/**
 * Cursor pagination over rows already filtered and sorted newest first.
 * `starting_after` pages towards older rows; `ending_before` towards newer ones, still returned
 * newest first, which is what the SDK's backwards auto-pagination expects.
 */
export function paginate<T extends { id: string }>(
  rows: T[],
  p: Params,
  url: string,
  resource: string,
): StripeList<T> {
  const limit = p.int('limit') ?? 10;
  if (limit < 1 || limit > 100) {
    throw invalidParam(
      limit < 1
        ? 'This value must be greater than or equal to 1.'
        : 'This value must be less than or equal to 100.',
      'limit',
      'parameter_invalid_integer',
    );
  }
  const after = p.str('starting_after');
  const before = p.str('ending_before');
  if (after && before) {
    throw invalidParam(
      'You may only specify one of these parameters: ending_before, starting_after.',
      'ending_before',
      'parameters_exclusive',
    );
  }
  const indexOf = (id: string, param: string): number => {
    const i = rows.findIndex((r) => r.id === id);
    if (i === -1) {
      throw new StripeApiError(
        400,
        'invalid_request_error',
        `No such ${resource}: '${id}'`,
        'resource_missing',
        param,
        true,
      );
    }
    return i;
  };
  if (before) {
    const end = indexOf(before, 'ending_before');
    const start = Math.max(0, end - limit);
    return { object: 'list', data: rows.slice(start, end), has_more: start > 0, url };
  }
  const start = after ? indexOf(after, 'starting_after') + 1 : 0;
  const data = rows.slice(start, start + limit);
  return { object: 'list', data, has_more: start + limit < rows.length, url };
}
