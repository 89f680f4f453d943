import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A validator for test/fixtures/stripe-openapi/schemas.json's own format (a trimmed OpenAPI): required
 * properties, types, enums (plus values the SDK drift block adds), nullable, $ref, items,
 * additionalProperties and expandable ids. Unknown properties are errors too, unless the drift
 * block says the SDK added them.
 */
interface Node {
  type?: string;
  nullable?: boolean;
  enum?: unknown[];
  $ref?: string;
  properties?: Record<string, Node>;
  required?: string[];
  items?: Node;
  additionalProperties?: Node | boolean;
  anyOf?: Node[];
  expandable?: boolean;
  sdk_23_1_0_drift?: {
    fields_added_since_spec?: Record<string, { nullable?: boolean }>;
    enum_values_added_since_spec?: Record<string, string[]>;
  };
}

export interface SchemaDoc {
  schemas: Record<string, Node>;
}

export interface ValidateOptions {
  /** Every property the schema lists must be present, not only `required` ones. */
  requireAll?: boolean;
  /** `schema.property` names allowed to be absent even with `requireAll`. */
  mayOmit?: string[];
  /** Extra enum values accepted, by `schema.property` (documented deviations). */
  extraEnum?: Record<string, string[]>;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Vendored from Stripe's OpenAPI spec (see the README beside it), so a clean clone is enough. */
export const stripeSchemasDir = path.resolve(repoRoot, 'test/fixtures/stripe-openapi');

/** schemas.json plus sdk-schemas.json (objects the spec extract lacks, from stripe-node's types). */
export function loadSchemas(): SchemaDoc {
  const read = (file: string) =>
    JSON.parse(readFileSync(path.join(stripeSchemasDir, file), 'utf8')) as SchemaDoc;
  const spec = read('schemas.json');
  const sdk = read('sdk-schemas.json');
  return { ...spec, schemas: { ...sdk.schemas, ...spec.schemas } };
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function validate(
  doc: SchemaDoc,
  name: string,
  value: unknown,
  opts: ValidateOptions = {},
): string[] {
  const errors: string[] = [];
  const schema = doc.schemas[name];
  if (!schema) return [`no schema named ${name}`];
  checkObject(doc, name, schema, value, '$', errors, opts);
  return errors;
}

function checkObject(
  doc: SchemaDoc,
  schemaName: string,
  schema: Node,
  value: unknown,
  at: string,
  errors: string[],
  opts: ValidateOptions,
): void {
  if (typeOf(value) !== 'object') {
    errors.push(`${at}: expected object, got ${typeOf(value)}`);
    return;
  }
  const obj = value as Record<string, unknown>;
  const props = schema.properties ?? {};
  const added = schema.sdk_23_1_0_drift?.fields_added_since_spec ?? {};
  const required = new Set(schema.required ?? []);
  for (const [prop, node] of Object.entries(props)) {
    const key = `${schemaName}.${prop}`;
    if (!(prop in obj) || obj[prop] === undefined) {
      const mayOmit = opts.mayOmit?.includes(key) || opts.mayOmit?.includes(`${schemaName}.*`);
      if (required.has(prop) || (opts.requireAll && !mayOmit)) {
        errors.push(`${at}.${prop}: missing`);
      }
      continue;
    }
    const extraEnum = [
      ...(schema.sdk_23_1_0_drift?.enum_values_added_since_spec?.[prop] ?? []),
      ...(opts.extraEnum?.[key] ?? []),
    ];
    checkValue(doc, key, node, obj[prop], `${at}.${prop}`, errors, opts, extraEnum);
  }
  for (const prop of Object.keys(obj)) {
    if (!(prop in props) && !(prop in added))
      errors.push(`${at}.${prop}: not in schema ${schemaName}`);
  }
}

function checkValue(
  doc: SchemaDoc,
  key: string,
  node: Node,
  value: unknown,
  at: string,
  errors: string[],
  opts: ValidateOptions,
  extraEnum: string[] = [],
): void {
  if (value === null) {
    if (!node.nullable) errors.push(`${at}: null but not nullable`);
    return;
  }
  if (node.anyOf) {
    const ok = node.anyOf.some((alt) => {
      const e: string[] = [];
      checkValue(doc, key, alt, value, at, e, opts);
      return e.length === 0;
    });
    if (!ok) errors.push(`${at}: matches no anyOf alternative`);
    return;
  }
  if (node.$ref) {
    const ref = doc.schemas[node.$ref];
    // A resource left out of schemas.json on purpose: an id or an object is all we can check.
    if (!ref) {
      if (typeOf(value) !== 'object' && typeOf(value) !== 'string')
        errors.push(`${at}: bad ${node.$ref}`);
      return;
    }
    checkObject(doc, node.$ref, ref, value, at, errors, opts);
    return;
  }
  const t = typeOf(value);
  if (node.expandable && t === 'object') return;
  switch (node.type) {
    case 'integer':
      if (t !== 'integer') errors.push(`${at}: expected integer, got ${t}`);
      break;
    case 'number':
      if (t !== 'integer' && t !== 'number') errors.push(`${at}: expected number, got ${t}`);
      break;
    case 'string':
    case 'boolean':
      if (t !== node.type) errors.push(`${at}: expected ${node.type}, got ${t}`);
      break;
    case 'array':
      if (t !== 'array') errors.push(`${at}: expected array, got ${t}`);
      else if (node.items) {
        (value as unknown[]).forEach((item, i) =>
          checkValue(doc, key, node.items as Node, item, `${at}[${i}]`, errors, opts, extraEnum),
        );
      }
      break;
    case 'object':
      if (t !== 'object') {
        errors.push(`${at}: expected object, got ${t}`);
      } else if (node.properties) {
        checkObject(doc, key, node, value, at, errors, opts);
      } else if (typeof node.additionalProperties === 'object') {
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          checkValue(doc, key, node.additionalProperties, v, `${at}.${k}`, errors, opts);
        }
      }
      break;
    default:
      break;
  }
  if (node.enum && !node.enum.includes(value) && !extraEnum.includes(value as string)) {
    errors.push(`${at}: ${JSON.stringify(value)} not in enum ${node.enum.join('|')}`);
  }
}
