import { invalidParam } from './errors.js';
import { asList, type FormObject, type FormValue } from './form.js';

export interface CreatedFilter {
  eq?: number;
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

/** `metadata[k]=` unsets k; `metadata=` unsets every key. */
export interface MetadataPatch {
  clearAll: boolean;
  set: Record<string, string>;
  unset: string[];
}

const METADATA_MAX_KEYS = 50;
const METADATA_KEY_MAX = 40;
const METADATA_VALUE_MAX = 500;

/**
 * Typed reads of one request's parameters. Construction rejects parameters the endpoint does
 * not take (`parameter_unknown`), which is how "update accepts only metadata and description"
 * is enforced.
 */
export class Params {
  constructor(
    private readonly raw: FormObject,
    allowed: readonly string[],
  ) {
    for (const key of Object.keys(raw)) {
      if (key !== 'expand' && !allowed.includes(key)) {
        throw invalidParam(`Received unknown parameter: ${key}`, key, 'parameter_unknown');
      }
    }
  }

  has(name: string): boolean {
    return this.raw[name] !== undefined;
  }

  private scalar(name: string, required: boolean): string | undefined {
    const v = this.raw[name];
    if (v === undefined) {
      if (required)
        throw invalidParam(`Missing required param: ${name}.`, name, 'parameter_missing');
      return undefined;
    }
    if (typeof v !== 'string') {
      throw invalidParam(`Invalid ${name}: must be a string`, name);
    }
    return v;
  }

  str(name: string, opts: { required?: boolean; allowEmpty?: boolean } = {}): string | undefined {
    const v = this.scalar(name, opts.required ?? false);
    if (v === '' && !opts.allowEmpty) {
      if (opts.required)
        throw invalidParam(`Missing required param: ${name}.`, name, 'parameter_missing');
      throw invalidParam(
        `You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. You should remove '${name}' from your request or supply a non-empty value.`,
        name,
        'parameter_invalid_empty',
      );
    }
    return v;
  }

  int(name: string, opts: { required?: boolean; min?: number } = {}): number | undefined {
    const v = this.scalar(name, opts.required ?? false);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
      throw invalidParam(`Invalid integer: ${v}`, name, 'parameter_invalid_integer');
    }
    const n = Number(v);
    if (opts.min !== undefined && n < opts.min) {
      throw invalidParam(
        `This value must be greater than or equal to ${opts.min}.`,
        name,
        'parameter_invalid_integer',
      );
    }
    return n;
  }

  bool(name: string): boolean | undefined {
    const v = this.scalar(name, false);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw invalidParam(`Invalid boolean: ${v}`, name);
    return v === 'true';
  }

  oneOf<T extends string>(
    name: string,
    values: readonly T[],
    opts: { required?: boolean } = {},
  ): T | undefined {
    const v = this.str(name, opts);
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) {
      throw invalidParam(`Invalid ${name}: must be one of ${values.join(', ')}`, name);
    }
    return v as T;
  }

  strings(name: string): string[] | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    const list = asList(v);
    if (!list || !list.every((x): x is string => typeof x === 'string')) {
      throw invalidParam(`Invalid array`, name);
    }
    return list;
  }

  object(name: string): FormObject | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    if (typeof v === 'string') throw invalidParam(`Invalid object`, name);
    return v;
  }

  /** `created=<int>` or `created[gt|gte|lt|lte]=<int>`. */
  created(name = 'created'): CreatedFilter | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    const toInt = (s: FormValue | undefined, param: string): number => {
      if (typeof s !== 'string' || !/^\d+$/.test(s)) {
        throw invalidParam(`Invalid integer: ${String(s)}`, param, 'parameter_invalid_integer');
      }
      return Number(s);
    };
    if (typeof v === 'string') return { eq: toInt(v, name) };
    const out: CreatedFilter = {};
    for (const [k, s] of Object.entries(v)) {
      if (k !== 'gt' && k !== 'gte' && k !== 'lt' && k !== 'lte') {
        throw invalidParam(
          `Received unknown parameter: ${name}[${k}]`,
          `${name}[${k}]`,
          'parameter_unknown',
        );
      }
      out[k] = toInt(s, `${name}[${k}]`);
    }
    return out;
  }

  /** Metadata on create: empty values are simply not stored. */
  metadataForCreate(name = 'metadata'): Record<string, string> {
    const patch = this.metadataPatch(name);
    return patch ? applyMetadata({}, patch) : {};
  }

  metadataPatch(name = 'metadata'): MetadataPatch | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    if (typeof v === 'string') {
      if (v !== '') throw invalidParam(`Invalid object`, name);
      return { clearAll: true, set: {}, unset: [] };
    }
    const patch: MetadataPatch = { clearAll: false, set: {}, unset: [] };
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== 'string') {
        throw invalidParam(`Metadata values must be strings (key '${k}')`, `${name}[${k}]`);
      }
      if (k.length > METADATA_KEY_MAX) {
        throw invalidParam(
          `Metadata keys can have up to ${METADATA_KEY_MAX} characters; '${k}' has ${k.length}.`,
          `${name}[${k}]`,
        );
      }
      if (val.length > METADATA_VALUE_MAX) {
        throw invalidParam(
          `Metadata values can have up to ${METADATA_VALUE_MAX} characters (key '${k}').`,
          `${name}[${k}]`,
        );
      }
      if (val === '') patch.unset.push(k);
      else patch.set[k] = val;
    }
    return patch;
  }
}

export function applyMetadata(
  current: Record<string, string>,
  patch: MetadataPatch,
): Record<string, string> {
  const next: Record<string, string> = patch.clearAll ? {} : { ...current };
  for (const k of patch.unset) delete next[k];
  Object.assign(next, patch.set);
  if (Object.keys(next).length > METADATA_MAX_KEYS) {
    throw invalidParam(`Metadata can have up to ${METADATA_MAX_KEYS} keys.`, 'metadata');
  }
  return next;
}

export function matchesCreated(created: number, f: CreatedFilter | undefined): boolean {
  if (!f) return true;
  if (f.eq !== undefined && created !== f.eq) return false;
  if (f.gt !== undefined && !(created > f.gt)) return false;
  if (f.gte !== undefined && !(created >= f.gte)) return false;
  if (f.lt !== undefined && !(created < f.lt)) return false;
  if (f.lte !== undefined && !(created <= f.lte)) return false;
  return true;
}
