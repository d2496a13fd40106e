/**
 * Generated JSON Schema evolutions for the semantic oracle: a random schema, then a copy with a
 * few edits at random places (types, bounds, enums, properties, content models, arrays, unions)
 * (also wrapping one in allOf with another) and re-spellings that keep the meaning (type list ↔ anyOf, const ↔ enum, items ↔ prefixItems,
 * inline ↔ $ref). Every schema generated compiles under the project's ajv.
 */
import fc from 'fast-check';
import type { JsonSchema } from '../../contracts/index.js';

type Obj = { [keyword: string]: unknown };
const KEYS = ['a', 'b', 'c', 'd'] as const;

const leaf: fc.Arbitrary<JsonSchema> = fc.oneof(
  fc.constant({}),
  fc.constantFrom<JsonSchema>({ type: 'string' }, { type: 'integer' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }, { type: ['string', 'null'] }, { type: ['integer', 'string'] }),
  fc.record({ type: fc.constantFrom('number', 'integer'), minimum: fc.integer({ min: -3, max: 3 }), exclusiveMaximum: fc.integer({ min: 4, max: 9 }), multipleOf: fc.constantFrom(0.5, 1, 2) }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('string'), minLength: fc.integer({ min: 0, max: 2 }), maxLength: fc.integer({ min: 3, max: 6 }), pattern: fc.constantFrom('^a', '^[a-z]+$'), format: fc.constantFrom('date-time', 'email') }, { requiredKeys: ['type'] }),
  fc.record({ enum: fc.uniqueArray(fc.constantFrom<unknown>('a', 'b', 'c', 1, 2, null, true), { minLength: 1, maxLength: 4 }) }),
  fc.record({ const: fc.constantFrom<unknown>('a', 1, null) }),
);

export const { node: schemaArb } = fc.letrec<{ node: JsonSchema; object: JsonSchema; array: JsonSchema; union: JsonSchema }>((tie) => ({
  node: fc.oneof({ maxDepth: 3, depthSize: 'small' }, leaf, tie('object'), tie('array'), tie('union')),
  object: fc.record({
    type: fc.constant('object'),
    properties: fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 3 }),
    required: fc.subarray([...KEYS], { maxLength: 2 }),
    additionalProperties: fc.oneof(fc.boolean(), tie('node')),
    maxProperties: fc.integer({ min: 1, max: 5 }),
  }, { requiredKeys: ['type', 'properties'] }) as fc.Arbitrary<JsonSchema>,
  array: fc.record({ type: fc.constant('array'), items: tie('node'), prefixItems: fc.array(tie('node'), { maxLength: 2 }), minItems: fc.integer({ min: 0, max: 2 }), maxItems: fc.integer({ min: 1, max: 4 }), uniqueItems: fc.boolean() }, { requiredKeys: ['type'] }) as fc.Arbitrary<JsonSchema>,
  union: fc.oneof(
    fc.record({ anyOf: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ oneOf: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ type: fc.constant('object'), propertyNames: fc.constantFrom({ maxLength: 1 }, { pattern: '^[ab]' }), dependentRequired: fc.constantFrom({ a: ['b'] }, { c: ['a'] }) }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('array'), contains: tie('node'), maxContains: fc.integer({ min: 1, max: 2 }) }, { requiredKeys: ['type', 'contains'] }),
    fc.record({ allOf: fc.array(tie('node'), { minLength: 1, maxLength: 2 }), unevaluatedProperties: fc.constant(false) }, { requiredKeys: ['allOf'] }),
  ) as fc.Arbitrary<JsonSchema>,
}));

/** Every subschema position of a schema, as a getter and a setter. */
function positions(root: Obj): Array<{ get: () => JsonSchema; set: (s: JsonSchema) => void }> {
  const out: Array<{ get: () => JsonSchema; set: (s: JsonSchema) => void }> = [];
  const walk = (get: () => JsonSchema, set: (s: JsonSchema) => void, depth: number) => {
    out.push({ get, set });
    const s = get();
    if (depth > 6 || typeof s !== 'object' || s === null) return;
    const props = s.properties as Record<string, JsonSchema> | undefined;
    if (props) for (const k of Object.keys(props)) walk(() => props[k]!, (v) => { props[k] = v; }, depth + 1);
    if (s.items !== undefined) walk(() => s.items as JsonSchema, (v) => { s.items = v; }, depth + 1);
    if (typeof s.additionalProperties === 'object') walk(() => s.additionalProperties as JsonSchema, (v) => { s.additionalProperties = v; }, depth + 1);
    for (const k of ['anyOf', 'allOf', 'prefixItems'] as const) {
      const xs = s[k] as JsonSchema[] | undefined;
      if (Array.isArray(xs)) xs.forEach((_, i) => walk(() => xs[i]!, (v) => { xs[i] = v; }, depth + 1));
    }
  };
  const holder = { s: root as JsonSchema };
  walk(() => holder.s, (v) => { holder.s = v; Object.keys(root).forEach((k) => delete root[k]); Object.assign(root, typeof v === 'object' ? v : { not: {} }); }, 0);
  return out;
}

const TYPES = ['string', 'integer', 'number', 'boolean', 'null', 'object', 'array'];
const VALUES: unknown[] = ['a', 'b', 'c', 'd', 1, 2, 3, null, true];

/** One edit: `kind` picks what, `n` where and with which value. Returns false when it does not apply. */
function edit(root: Obj, kind: number, n: number, fresh: JsonSchema): void {
  const spots = positions(root);
  const spot = spots[n % spots.length]!;
  const s0 = spot.get();
  const s: Obj = typeof s0 === 'object' ? s0 : {};
  const del = (k: string) => { delete s[k]; };
  switch (kind % 23) {
    case 22: spot.set({ allOf: [structuredClone(s0), fresh] }); return;
    case 0: s.type = TYPES[n % TYPES.length]; break;
    case 1: s.type = [TYPES[n % TYPES.length], 'null']; break;
    case 2: del('type'); break;
    case 3: if (typeof s.minimum === 'number') s.minimum += (n % 3) - 1; else s.minimum = (n % 5) - 2; break;
    case 4: if (typeof s.exclusiveMaximum === 'number') del('exclusiveMaximum'); else s.maximum = 3 + (n % 5); break;
    case 5: s.multipleOf = [0.5, 1, 2, 3][n % 4]; break;
    case 6: s.maxLength = n % 6; break;
    case 7: if (s.pattern) del('pattern'); else s.pattern = ['^a', '^[a-z]+$', '^b'][n % 3]; break;
    case 8: if (s.format) del('format'); else s.format = ['date-time', 'email'][n % 2]; break;
    case 9: s.enum = [...new Set([...((s.enum as unknown[]) ?? []), VALUES[n % VALUES.length]])]; del('const'); break;
    case 10: if (Array.isArray(s.enum) && s.enum.length > 1) s.enum = s.enum.filter((_, i) => i !== n % (s.enum as unknown[]).length); break;
    case 11: {
      const props = (s.properties ??= {}) as Record<string, JsonSchema>;
      props[KEYS[n % KEYS.length]!] = fresh;
      if (n % 2) s.required = [...new Set([...((s.required as string[]) ?? []), KEYS[n % KEYS.length]!])];
      break;
    }
    case 12: if (s.properties) { const k = KEYS[n % KEYS.length]!; delete (s.properties as Obj)[k]; s.required = ((s.required as string[]) ?? []).filter((r) => r !== k); } break;
    case 13: { const k = KEYS[n % KEYS.length]!; const req = (s.required as string[]) ?? []; s.required = req.includes(k) ? req.filter((r) => r !== k) : [...req, k]; break; }
    case 14: s.additionalProperties = [true, false, fresh][n % 3]; break;
    case 15: if (s.additionalProperties === false) { del('additionalProperties'); s.unevaluatedProperties = false; } else del('additionalProperties'); break;
    case 16: if (s.maxItems !== undefined) del('maxItems'); else s.maxItems = 1 + (n % 3); break;
    case 17: s.uniqueItems = !(s.uniqueItems === true); break;
    case 18: s.items = fresh; break;
    // Re-spellings that keep the meaning.
    case 19:
      if (Array.isArray(s.type) && !s.anyOf) { const types = s.type as string[]; del('type'); s.anyOf = types.map((t) => ({ type: t })); }
      else if (Array.isArray(s.enum) && s.enum.length === 1) { s.const = s.enum[0]; del('enum'); }
      else if ('const' in s) { s.enum = [s.const]; del('const'); }
      break;
    case 20: if (s.items !== undefined && !s.prefixItems && typeof s.items === 'object') s.prefixItems = [structuredClone(s.items)]; break;
    case 21: {
      // Move the node into $defs behind a $ref (the root's $defs).
      if (spot === spots[0]) break;
      const defs = (root.$defs ??= {}) as Record<string, JsonSchema>;
      const name = `d${Object.keys(defs).length}`;
      defs[name] = structuredClone(s0);
      spot.set({ $ref: `#/$defs/${name}` });
      return;
    }
  }
  if (typeof s0 !== 'object') spot.set(s);
}

/** A schema and an edited copy (one to three edits). */
export const evolutionArb: fc.Arbitrary<{ before: JsonSchema; after: JsonSchema }> = fc.tuple(
  schemaArb, fc.array(fc.tuple(fc.nat(), fc.nat(), schemaArb), { minLength: 1, maxLength: 3 }),
).map(([before, edits]) => {
  const wrapped: Obj = typeof before === 'object' ? structuredClone(before) : {};
  for (const [kind, n, fresh] of edits) edit(wrapped, kind, n, structuredClone(fresh));
  return { before, after: wrapped };
});
