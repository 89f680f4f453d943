/**
 * Stripe's form encoding (`metadata[order_id]=6735`, `expand[0]=x`, `expand[]=x`,
 * `created[gte]=1`), used for POST bodies and GET query strings alike.
 *
 * The parser yields strings and plain objects only: `a[]=x&a[]=y` becomes `{a: {0: 'x', 1: 'y'}}`.
 * Whether a value is a list is decided by the parameter reader, never here, so a metadata key
 * that happens to be numeric (`metadata[7]=x`) stays a key.
 */
export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

const MAX_DEPTH = 8;

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** `a[b][]` → `['a', 'b', '']`; null when the key is malformed. */
function splitKey(key: string): string[] | null {
  const open = key.indexOf('[');
  if (open === -1) return [key];
  const segments = [key.slice(0, open)];
  let rest = key.slice(open);
  while (rest.length > 0) {
    const m = /^\[([^\]]*)\]/.exec(rest);
    if (!m) return null;
    segments.push(m[1] ?? '');
    rest = rest.slice(m[0].length);
  }
  return segments;
}

function createNode(): FormObject {
  // No prototype: a `__proto__` segment must stay an ordinary key.
  return Object.create(null) as FormObject;
}

export function parseForm(body: string): FormObject {
  const root = createNode();
  if (!body) return root;
  for (const pair of body.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    const segments = splitKey(rawKey);
    if (!segments || segments.length > MAX_DEPTH || !segments[0]) continue;
    let node = root;
    for (let i = 0; i < segments.length; i++) {
      let seg = segments[i] ?? '';
      // `[]` appends: its index is the number of entries so far.
      if (seg === '' && i > 0) seg = String(Object.keys(node).length);
      const last = i === segments.length - 1;
      if (last) {
        node[seg] = value;
      } else {
        const child = node[seg];
        if (typeof child === 'object') node = child;
        else {
          const fresh = createNode();
          node[seg] = fresh;
          node = fresh;
        }
      }
    }
  }
  return root;
}

/** An object whose keys are all 0..n-1 read as a list, in index order. */
export function asList(v: FormValue | undefined): FormValue[] | null {
  if (v === undefined) return null;
  if (typeof v === 'string') return null;
  const keys = Object.keys(v);
  if (!keys.every((k) => /^\d+$/.test(k))) return null;
  return keys
    .map(Number)
    .sort((a, b) => a - b)
    .map((k) => v[String(k)] as FormValue);
}

/** Deterministic JSON (sorted keys) for comparing two requests' parameters. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}
