/**
 * Field paths looked up in a contract's JSON Schema, without data: what `lint` needs to tell a
 * misspelled field (`temprature`) from a real one before any message flows.
 */

type Schema = Record<string, unknown> | boolean;

/** Where a path led: a declared field, a field a closed schema cannot have, or one an open schema does not declare. */
export type FieldLookup =
  | { status: 'found' }
  | { status: 'missing' | 'undeclared'; /** index of the first segment not found */ at: number; /** fields declared at that level */ known: string[] };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function deref(schema: Schema, root: Schema): Schema {
  let s = schema;
  for (let hops = 0; isObject(s) && typeof s.$ref === 'string' && hops < 32; hops++) {
    const ref = s.$ref as string;
    if (!ref.startsWith('#')) return true;
    let target: unknown = root;
    for (const token of ref.slice(1).split('/').filter(Boolean)) target = isObject(target) ? target[token.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    s = (target ?? true) as Schema;
  }
  return s;
}

/** The schemas a value at this level may match: the node and its allOf / anyOf / oneOf branches. */
function alternatives(schema: Schema, root: Schema, depth = 0): Schema[] {
  const s = deref(schema, root);
  if (!isObject(s) || depth > 16) return [s];
  const out: Schema[] = [s];
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    if (Array.isArray(s[key])) for (const b of s[key] as Schema[]) out.push(...alternatives(b, root, depth + 1));
  }
  return out;
}

/**
 * Follows `segments` (`['window', 'end']`) through `schema`: properties, `$ref`, combinators,
 * array `items` for numeric segments, `additionalProperties` and `patternProperties` schemas.
 * A level is closed when it says `additionalProperties: false` (or `unevaluatedProperties: false`).
 *
 * @example lookupField(readingSchema, ['temprature']) // { status: 'missing', at: 0, known: ['deviceId', 'ts', 'temperature', …] }
 */
export function lookupField(schema: Schema, segments: readonly string[], root: Schema = schema): FieldLookup {
  let level: Schema[] = [schema];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const next: Schema[] = [];
    const known: string[] = [];
    let open = false;
    for (const alt of level.flatMap((s) => alternatives(s, root))) {
      if (alt === true) { open = true; continue; }
      if (alt === false) continue;
      const properties = isObject(alt.properties) ? alt.properties as Record<string, Schema> : {};
      known.push(...Object.keys(properties));
      if (Object.hasOwn(properties, segment)) { next.push(properties[segment]!); continue; }
      if (/^\d+$/.test(segment) && (isObject(alt.items) || alt.items === true)) { next.push(alt.items as Schema); continue; }
      if (isObject(alt.patternProperties)) {
        const hit = Object.entries(alt.patternProperties).find(([p]) => new RegExp(p, 'u').test(segment));
        if (hit) { next.push(hit[1] as Schema); continue; }
      }
      if (isObject(alt.additionalProperties)) { next.push(alt.additionalProperties as Schema); continue; }
      if (!isObject(alt.properties) && ['allOf', 'anyOf', 'oneOf'].some((k) => Array.isArray(alt[k]))) continue; // its branches decide
      const closed = alt.additionalProperties === false || alt.unevaluatedProperties === false;
      // A level without properties of its own (a combinator's wrapper, a typed leaf) says nothing either way.
      if (!closed && (isObject(alt.properties) || alt.type === 'object' || alt.type === undefined)) open = true;
    }
    if (next.length === 0) return { status: open ? 'undeclared' : 'missing', at: i, known: [...new Set(known)] };
    level = next;
  }
  return { status: 'found' };
}
