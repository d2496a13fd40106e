/**
 * JSON Schema compatibility as a subset test: a reader schema R reads a writer schema W's data
 * when every instance valid under W is valid under R. BACKWARD(old→new) is reads(W=old, R=new);
 * FORWARD(old→new) is reads(W=new, R=old). The rules are conservative: what they cannot prove
 * safe (a changed `pattern`, a changed `not`) they report.
 *
 * Rule names describe the change from the old schema to the new, so the same finding is named
 * from the side that made it: in a backward check a reader type missing from the writer is
 * `type-narrowed`, in a forward check `type-widened`.
 */
import type { BreakingChange, Direction, JsonSchema } from './types.js';

type Obj = { [keyword: string]: unknown };

interface Context {
  writerRoot: JsonSchema;
  readerRoot: JsonSchema;
  direction: Direction;
  changes: BreakingChange[];
  /** Pairs of (writer, reader) schema objects already compared: breaks `$ref` cycles. */
  seen: Map<object, Set<object>>;
}

const ALL_TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'] as const;

/**
 * Breaking changes that stop `reader` from reading data written under `writer`.
 * @example jsonSchemaReads({ type: 'integer' }, { type: 'number' }, 'backward') // []
 */
export function jsonSchemaReads(writer: JsonSchema, reader: JsonSchema, direction: Direction): BreakingChange[] {
  const ctx: Context = { writerRoot: writer, readerRoot: reader, direction, changes: [], seen: new Map() };
  reads(writer, reader, '', ctx);
  return dedupe(ctx.changes);
}

function report(ctx: Context, path: string, backwardRule: string, forwardRule: string, message: string): void {
  ctx.changes.push({ rule: ctx.direction === 'backward' ? backwardRule : forwardRule, path, message, category: 'read' });
}

function dedupe(changes: BreakingChange[]): BreakingChange[] {
  const seen = new Set<string>();
  return changes.filter((c) => {
    const key = `${c.rule}\u0000${c.path}\u0000${c.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ------------------------------------------------------------------ normalising

/** Follows local `$ref`s (`#/$defs/x`, `#/definitions/x`); sibling keywords are kept. */
function deref(s: JsonSchema, root: JsonSchema, depth = 0): JsonSchema {
  if (typeof s !== 'object' || s === null || typeof s.$ref !== 'string' || depth > 32) return s;
  const target = resolvePointer(root, s.$ref);
  if (target === undefined) return s; // external refs are compared as opaque values
  const { $ref: _ref, ...siblings } = s;
  const resolved = deref(target, root, depth + 1);
  if (Object.keys(siblings).every((k) => ANNOTATIONS.has(k))) return resolved;
  // Both the target and the siblings apply: as allOf, not a merge in which a sibling replaces a target's keyword.
  return typeof resolved === 'boolean' ? (resolved ? siblings : false) : { allOf: [resolved, siblings] };
}

function resolvePointer(root: JsonSchema, ref: string): JsonSchema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let at: unknown = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Obj)[token];
  }
  return typeof at === 'boolean' || (at !== null && typeof at === 'object') ? (at as JsonSchema) : undefined;
}

/**
 * Folds `allOf` into one schema: properties and required merged, types intersected, and each
 * member's `additionalProperties` applied to the properties the other members declare (as JSON
 * Schema does). Other keywords: the first member that has one wins.
 */
function mergeAllOf(s: Obj, root: JsonSchema): JsonSchema {
  if (!Array.isArray(s.allOf)) return s;
  const { allOf, ...base } = s;
  const parts: Obj[] = [base];
  for (const member of allOf as JsonSchema[]) {
    const m = deref(member, root);
    const mm = typeof m === 'boolean' ? m : mergeAllOf(m, root);
    if (mm === false) return false;
    if (mm !== true) parts.push(mm);
  }
  const props: Record<string, JsonSchema> = {};
  for (const p of parts) {
    for (const [k, v] of Object.entries((p.properties as Record<string, JsonSchema> | undefined) ?? {})) props[k] = k in props ? { allOf: [props[k]!, v] } : v;
  }
  const closers: JsonSchema[] = [];
  for (const p of parts) {
    // A member's own unevaluatedProperties (its allOf already merged) sees just what the member declares, as additionalProperties would.
    const extra = (p.additionalProperties ?? (p !== base ? p.unevaluatedProperties : undefined)) as JsonSchema | undefined;
    if (extra === undefined) continue;
    closers.push(extra);
    const own = (p.properties as Obj | undefined) ?? {};
    for (const k of Object.keys(props)) if (!(k in own) && extra !== true) props[k] = extra === false ? false : { allOf: [props[k]!, extra] };
  }
  // unevaluatedProperties sees only properties nothing else evaluated; an additionalProperties
  // anywhere evaluates them all, so it then has nothing left to judge.
  if (base.unevaluatedProperties !== undefined && closers.length === 0) closers.push(base.unevaluatedProperties as JsonSchema);
  const out: Obj = Object.assign({}, ...[...parts].reverse());
  delete out.unevaluatedProperties;
  delete out.additionalProperties;
  let types: Set<string> | undefined;
  for (const p of parts) {
    if (p.type === undefined) continue;
    const t = new Set(typesOf(p));
    if (t.has('number')) t.add('integer');
    types = types ? new Set([...types].filter((x) => t.has(x))) : t;
  }
  if (types) {
    if (types.size === 0) return false;
    out.type = [...types];
  }
  if (Object.keys(props).length) out.properties = props;
  const required = [...new Set(parts.flatMap((p) => (p.required as string[] | undefined) ?? []))];
  if (required.length) out.required = required;
  if (closers.includes(false)) out.additionalProperties = false;
  else if (closers.length === 1) out.additionalProperties = closers[0];
  else if (closers.length > 1) out.additionalProperties = { allOf: closers };
  return out;
}

/**
 * The properties a schema and its allOf members evaluate, each as `true`; undefined when some part
 * has additionalProperties (which evaluates every property, leaving unevaluatedProperties nothing).
 */
function evaluatedProperties(s: Obj, root: JsonSchema, depth = 0): { properties: Record<string, JsonSchema>; patterns: Record<string, JsonSchema> } | undefined {
  const out = { properties: {} as Record<string, JsonSchema>, patterns: {} as Record<string, JsonSchema> };
  if (s.additionalProperties !== undefined || (depth > 0 && s.unevaluatedProperties !== undefined)) return undefined;
  for (const k of Object.keys((s.properties as Obj | undefined) ?? {})) out.properties[k] = true;
  for (const k of Object.keys((s.patternProperties as Obj | undefined) ?? {})) out.patterns[k] = true;
  for (const member of (s.allOf as JsonSchema[] | undefined) ?? []) {
    const m = deref(member, root);
    if (typeof m === 'boolean' || depth > 16) continue;
    const inner = evaluatedProperties(m, root, depth + 1);
    if (!inner) return undefined;
    Object.assign(out.properties, inner.properties);
    Object.assign(out.patterns, inner.patterns);
  }
  return out;
}

/** The alternatives a schema allows: its `anyOf`/`oneOf` branches (each with the base keywords), or itself. */
function branches(s: Obj, root: JsonSchema, side: 'writer' | 'reader'): JsonSchema[] {
  const alts = (Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined) as JsonSchema[] | undefined;
  if (!alts) return [s];
  const { anyOf: _a, oneOf: _o, ...base } = s;
  const baseIsEmpty = Object.keys(base).every((k) => ANNOTATIONS.has(k));
  return alts.map((b) => {
    const d = deref(b, root);
    if (typeof d === 'boolean') return d ? base : false;
    if (baseIsEmpty) return d;
    // The base and the alternative both apply: a writer's are merged (types intersected), a
    // reader's kept apart as allOf, which `reads` checks member by member (exact, where a merge
    // that let the alternative's keywords replace the base's would make the reader look wider).
    return side === 'writer' ? mergeAllOf({ allOf: [base, d] }, root) : { allOf: [base, d] };
  });
}

function typesOf(s: Obj): Set<string> {
  if (typeof s.type === 'string') return new Set([s.type]);
  if (Array.isArray(s.type)) return new Set(s.type as string[]);
  const values = enumOf(s);
  if (values) return new Set(values.map(jsonType));
  return new Set(ALL_TYPES);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** All the values of a set of types, when they are finite (boolean and null): `type: boolean` spells `enum: [true, false]`. */
function valuesOfTypes(types: Set<string>): unknown[] | undefined {
  if (![...types].every((t) => t === 'boolean' || t === 'null')) return undefined;
  return [...types].flatMap((t) => (t === 'boolean' ? [true, false] : [null]));
}

function enumOf(s: Obj): unknown[] | undefined {
  if (Array.isArray(s.enum)) return s.enum;
  if ('const' in s) return [s.const];
  return undefined;
}

const stable = (v: unknown): string => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));

/** True when a schema puts no constraint on data (true, {}, or only annotations). */
function isAny(s: JsonSchema): boolean {
  if (s === true) return true;
  if (s === false) return false;
  return Object.keys(s).every((k) => ANNOTATIONS.has(k));
}
/** Keywords the subset test compares; a reader keyword outside these and ANNOTATIONS must equal the writer's. */
const MODELLED = new Set(['type', 'enum', 'const', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength',
  'pattern', 'format', 'properties', 'required', 'additionalProperties', 'unevaluatedProperties', 'patternProperties', 'minProperties', 'maxProperties',
  'items', 'prefixItems', 'minItems', 'maxItems', 'uniqueItems', 'anyOf', 'oneOf', 'allOf', '$ref', 'not', 'contentMediaType', 'contentEncoding', 'contentSchema']);
const ANNOTATIONS = new Set(['title', 'description', 'examples', 'default', '$comment', 'deprecated', 'readOnly', 'writeOnly', '$schema', '$id', '$defs', 'definitions', '$anchor']);

// ------------------------------------------------------------------ the subset test

function reads(writerIn: JsonSchema, readerIn: JsonSchema, path: string, ctx: Context): void {
  let w = deref(writerIn, ctx.writerRoot);
  let r = deref(readerIn, ctx.readerRoot);
  if (r === true || w === false) return;
  if (r === false) {
    report(ctx, path, 'schema-closed', 'schema-opened', 'the reader accepts nothing here');
    return;
  }
  if (w === true) w = {};
  if (typeof r === 'object' && typeof w === 'object') {
    let pairs = ctx.seen.get(w);
    if (!pairs) { pairs = new Set(); ctx.seen.set(w, pairs); }
    if (pairs.has(r)) return;
    pairs.add(r);
  }
  w = mergeAllOf(w, ctx.writerRoot);
  if (Array.isArray(r.allOf)) {
    // Each member of a reader's allOf validates the instance on its own (a member's
    // additionalProperties sees only its own properties): the writer must satisfy every one.
    // A base unevaluatedProperties judges what no part evaluated: checked as its own schema
    // that declares every property the parts declare (as anything) and closes the rest.
    const { allOf, unevaluatedProperties, ...base } = r;
    for (const member of [base, ...(allOf as JsonSchema[])]) reads(w, member, path, ctx);
    if (unevaluatedProperties !== undefined) {
      const closure = evaluatedProperties(r, ctx.readerRoot);
      if (closure) reads(w, { properties: closure.properties, patternProperties: closure.patterns, additionalProperties: unevaluatedProperties }, path, ctx);
    }
    return;
  }
  r = mergeAllOf(r, ctx.readerRoot);
  if (w === false || r === true || isAny(r)) return;
  if (r === false) {
    report(ctx, path, 'schema-closed', 'schema-opened', 'the reader accepts nothing here');
    return;
  }
  if (w === true) w = {};

  const wAlts = branches(w, ctx.writerRoot, 'writer');
  const rAlts = branches(r, ctx.readerRoot, 'reader');
  if (wAlts.length === 1 && wAlts[0] === w && rAlts.length === 1 && rAlts[0] === r) return readsObject(w, r, path, ctx);
  // Every writer alternative must be read by some reader alternative (`oneOf` is read as `anyOf`).
  // One that no reader alternative reads whole may still be read piece by piece: a type list is
  // a union of its types and an enum a union of its values, as in Confluent's loader.
  const fits = (wb: JsonSchema): boolean => rAlts.some((rb) => {
    const probe: Context = { ...ctx, changes: [], seen: new Map() };
    reads(wb, rb, path, probe);
    return probe.changes.length === 0;
  }) || (() => {
    const pieces = typeof wb === 'object' ? splitAlternative(wb) : [];
    return pieces.length > 1 && pieces.every(fits);
  })();
  // A reader's oneOf rejects data that two alternatives accept: read as anyOf only when its
  // alternatives cannot overlap (disjoint types, or distinct constants), or the writer's is the same.
  if (Array.isArray(r.oneOf) && r.oneOf.length > 1 && stable(w.oneOf) !== stable(r.oneOf) && !exclusive(rAlts)) {
    report(ctx, path, 'one-of-not-exclusive', 'one-of-not-exclusive', 'the reader\'s oneOf alternatives may overlap, so data one of them reads may match two and be rejected');
  }
  wAlts.forEach((wb, i) => {
    if (rAlts.length === 1) return reads(wb, rAlts[0]!, path, ctx);
    if (!fits(wb)) report(ctx, path, 'union-narrowed', 'union-widened', `writer alternative ${i} is not read by any reader alternative`);
  });
}

/** True when no instance can satisfy two of the alternatives: their types are disjoint, or all are distinct constants. */
function exclusive(alts: JsonSchema[]): boolean {
  if (alts.some((a) => typeof a !== 'object')) return false;
  const objs = alts as Obj[];
  const values = objs.map(enumOf);
  if (values.every((v) => v !== undefined)) {
    const all = values.flatMap((v) => v!.map(stable));
    if (new Set(all).size === all.length) return true;
  }
  const seen = new Set<string>();
  for (const o of objs) {
    const types = typesOf(o);
    if (types.has('number')) types.add('integer');
    if (types.has('integer') && seen.has('number')) return false;
    for (const t of types) {
      if (seen.has(t)) return false;
      seen.add(t);
    }
  }
  return true;
}

/** One schema as the union it spells: a type list split by type, else an enum split by value; itself when it is not a union. */
function splitAlternative(s: Obj): JsonSchema[] {
  if (Array.isArray(s.type) && s.type.length > 1) return (s.type as string[]).map((t) => ({ ...s, type: t }));
  const values = enumOf(s);
  if (values && values.length > 1) {
    const { enum: _e, const: _c, ...rest } = s;
    return values.map((v) => ({ ...rest, const: v }));
  }
  return [s];
}

function readsObject(w: Obj, r: Obj, path: string, ctx: Context): void {
  const wTypes = typesOf(w);
  const rTypes = typesOf(r);
  const lost = [...wTypes].filter((t) => !rTypes.has(t) && !(t === 'integer' && rTypes.has('number')));
  if (lost.length > 0) {
    report(ctx, path, 'type-narrowed', 'type-widened', `writer type ${[...wTypes].join('|')} is not all read as ${[...rTypes].join('|')} (${lost.join(', ')} not accepted)`);
  }
  const shared = (t: string) => wTypes.has(t) && (rTypes.has(t) || (t === 'integer' && rTypes.has('number')));

  const rEnum = enumOf(r);
  if (rEnum) {
    const wEnum = enumOf(w) ?? valuesOfTypes(wTypes);
    if (!wEnum) report(ctx, path, 'enum-added', 'enum-removed', `reader allows only ${rEnum.map((v) => JSON.stringify(v)).join(', ')}`);
    else {
      const allowed = new Set(rEnum.map(stable));
      for (const v of wEnum) if (!allowed.has(stable(v))) report(ctx, path, 'enum-value-removed', 'enum-value-added', `value ${JSON.stringify(v)} is not read`);
    }
  }

  if (shared('number') || shared('integer')) {
    lowerBound(w, r, path, ctx);
    upperBound(w, r, path, ctx);
    if (typeof r.multipleOf === 'number') {
      const m = w.multipleOf;
      const ratio = typeof m === 'number' ? m / r.multipleOf : NaN;
      if (!(Number.isFinite(ratio) && Math.abs(ratio - Math.round(ratio)) < 1e-9)) report(ctx, path, 'multiple-of-changed', 'multiple-of-changed', `reader requires a multiple of ${r.multipleOf}`);
    }
  }
  if (shared('string')) {
    countBound(w, r, 'minLength', 'min', path, ctx, 'min-length-tightened', 'min-length-loosened');
    countBound(w, r, 'maxLength', 'max', path, ctx, 'max-length-tightened', 'max-length-loosened');
    if (typeof r.pattern === 'string' && w.pattern !== r.pattern) {
      if (w.pattern === undefined) report(ctx, path, 'pattern-added', 'pattern-removed', `reader requires pattern ${r.pattern}`);
      else report(ctx, path, 'pattern-changed', 'pattern-changed', `pattern ${String(w.pattern)} → ${r.pattern}`);
    }
    if (typeof r.format === 'string' && w.format !== r.format) {
      if (w.format === undefined) report(ctx, path, 'format-added', 'format-removed', `reader requires format ${r.format}`);
      else report(ctx, path, 'format-changed', 'format-changed', `format ${String(w.format)} → ${r.format}`);
    }
  }
  if (shared('object')) readsProperties(w, r, path, ctx);
  if (shared('array')) readsItems(w, r, path, ctx);
  if (r.not !== undefined && stable(w.not) !== stable(r.not)) report(ctx, path, 'not-changed', 'not-changed', 'reader has a different "not"');
  // Keywords the subset test does not model: safe only when the writer has the very same constraint.
  for (const k of Object.keys(r)) {
    if (!MODELLED.has(k) && !ANNOTATIONS.has(k) && stable(w[k]) !== stable(r[k])) report(ctx, path, 'unchecked-keyword-changed', 'unchecked-keyword-changed', `reader has "${k}" ${JSON.stringify(r[k])}, which the checker cannot compare with the writer's ${JSON.stringify(w[k]) ?? '(none)'}`);
  }
}

function lowerBound(w: Obj, r: Obj, path: string, ctx: Context): void {
  const rb = bound(r, 'minimum', 'exclusiveMinimum', 'min');
  if (!rb) return;
  const wb = bound(w, 'minimum', 'exclusiveMinimum', 'min');
  if (!wb || wb.value < rb.value || (wb.value === rb.value && rb.exclusive && !wb.exclusive)) {
    report(ctx, path, 'minimum-tightened', 'minimum-loosened', `writer minimum ${wb ? describe(wb) : 'none'}, reader minimum ${describe(rb)}`);
  }
}

function upperBound(w: Obj, r: Obj, path: string, ctx: Context): void {
  const rb = bound(r, 'maximum', 'exclusiveMaximum', 'max');
  if (!rb) return;
  const wb = bound(w, 'maximum', 'exclusiveMaximum', 'max');
  if (!wb || wb.value > rb.value || (wb.value === rb.value && rb.exclusive && !wb.exclusive)) {
    report(ctx, path, 'maximum-tightened', 'maximum-loosened', `writer maximum ${wb ? describe(wb) : 'none'}, reader maximum ${describe(rb)}`);
  }
}

/** The effective bound from an inclusive and an exclusive keyword (the tighter one wins). */
function bound(s: Obj, inclusive: string, exclusive: string, side: 'min' | 'max'): { value: number; exclusive: boolean } | undefined {
  const b = rawBound(s, inclusive, exclusive, side);
  if (!b || !onlyIntegers(s)) return b;
  // Over integers, `exclusiveMinimum: 0` and `minimum: 0.5` both spell `minimum: 1`.
  if (side === 'min') return { value: b.exclusive ? Math.floor(b.value) + 1 : Math.ceil(b.value), exclusive: false };
  return { value: b.exclusive ? Math.ceil(b.value) - 1 : Math.floor(b.value), exclusive: false };
}

function onlyIntegers(s: Obj): boolean {
  const types = typesOf(s);
  return types.size === 1 && types.has('integer');
}

function rawBound(s: Obj, inclusive: string, exclusive: string, side: 'min' | 'max'): { value: number; exclusive: boolean } | undefined {
  const inc = typeof s[inclusive] === 'number' ? (s[inclusive] as number) : undefined;
  const exc = typeof s[exclusive] === 'number' ? (s[exclusive] as number) : undefined;
  if (inc === undefined && exc === undefined) return undefined;
  if (inc === undefined) return { value: exc!, exclusive: true };
  if (exc === undefined) return { value: inc, exclusive: false };
  const excTighter = side === 'min' ? exc >= inc : exc <= inc;
  return excTighter ? { value: exc, exclusive: true } : { value: inc, exclusive: false };
}

const describe = (b: { value: number; exclusive: boolean }) => `${b.value}${b.exclusive ? ' (exclusive)' : ''}`;

/** Count bounds (lengths, items, properties): the reader's must not be tighter than the writer's. */
function countBound(w: Obj, r: Obj, keyword: string, side: 'min' | 'max', path: string, ctx: Context, backwardRule: string, forwardRule: string): void {
  const rv = r[keyword];
  if (typeof rv !== 'number') return;
  const wv = w[keyword];
  const ok = typeof wv === 'number' && (side === 'min' ? wv >= rv : wv <= rv);
  if (!ok) report(ctx, path, backwardRule, forwardRule, `writer ${keyword} ${typeof wv === 'number' ? wv : 'none'}, reader ${keyword} ${rv}`);
}

function readsProperties(w: Obj, r: Obj, path: string, ctx: Context): void {
  const wProps = (w.properties ?? {}) as Record<string, JsonSchema>;
  const rProps = (r.properties ?? {}) as Record<string, JsonSchema>;
  const wRequired = new Set((w.required as string[] | undefined) ?? []);
  for (const name of (r.required as string[] | undefined) ?? []) {
    if (!wRequired.has(name)) report(ctx, `${path}/${name}`, 'required-added', 'required-removed', `"${name}" is required by the reader but optional for the writer`);
  }
  for (const name of Object.keys(wProps)) {
    const at = `${path}/${name}`;
    if (name in rProps) { reads(wProps[name]!, rProps[name]!, at, ctx); continue; }
    const rOther = otherProperty(r, name, ctx.readerRoot);
    if (rOther === false) report(ctx, at, 'property-removed-from-closed-model', 'property-added-to-closed-model', `"${name}" is written but the reader's content model is closed to it`);
    else reads(wProps[name]!, rOther, at, ctx);
  }
  for (const name of Object.keys(rProps)) {
    if (name in wProps) continue;
    const at = `${path}/${name}`;
    const wOther = otherProperty(w, name, ctx.writerRoot);
    if (wOther === false) continue; // the writer never writes it
    if (isAny(wOther)) {
      if (!isAny(deref(rProps[name]!, ctx.readerRoot))) {
        report(ctx, at, 'property-added-to-open-model', 'property-removed-from-open-model', `the writer's open content model may carry "${name}" with any value; the reader constrains it`);
      }
    } else reads(wOther, rProps[name]!, at, ctx);
  }
  const wAdd = additional(w);
  const rAdd = additional(r);
  if (wAdd !== false && !hasPatternProperties(w)) {
    if (rAdd === false) report(ctx, `${path}/{*}`, 'content-model-closed', 'content-model-opened', 'the writer allows other properties; the reader does not');
    else reads(wAdd, rAdd, `${path}/{*}`, ctx);
  }
  countBound(w, r, 'minProperties', 'min', path, ctx, 'min-properties-tightened', 'min-properties-loosened');
  countBound(w, r, 'maxProperties', 'max', path, ctx, 'max-properties-tightened', 'max-properties-loosened');
}

function additional(s: Obj): JsonSchema {
  const a = s.additionalProperties ?? s.unevaluatedProperties;
  return a === undefined ? true : (a as JsonSchema);
}

function hasPatternProperties(s: Obj): boolean {
  return s.patternProperties !== undefined && typeof s.patternProperties === 'object';
}

/** What a schema says about a property it does not declare: a matching patternProperties schema, or additionalProperties. */
function otherProperty(s: Obj, name: string, root: JsonSchema): JsonSchema {
  const patterns = s.patternProperties as Record<string, JsonSchema> | undefined;
  if (patterns) {
    for (const [re, schema] of Object.entries(patterns)) {
      try { if (new RegExp(re, 'u').test(name)) return deref(schema, root); } catch { /* invalid pattern: not a match */ }
    }
  }
  return deref(additional(s), root);
}

function readsItems(w: Obj, r: Obj, path: string, ctx: Context): void {
  const wItems = (w.items ?? true) as JsonSchema;
  const rItems = (r.items ?? true) as JsonSchema;
  const wPrefix = (Array.isArray(w.prefixItems) ? w.prefixItems : []) as JsonSchema[];
  const rPrefix = (Array.isArray(r.prefixItems) ? r.prefixItems : []) as JsonSchema[];
  const wMax = maxItemsOf(w);
  // Positions the writer never fills need no reading: `items: false` after a tuple spells `maxItems`.
  for (let i = 0; i < Math.min(Math.max(wPrefix.length, rPrefix.length), wMax); i++) {
    reads(wPrefix[i] ?? wItems, rPrefix[i] ?? rItems, `${path}/[${i}]`, ctx);
  }
  if (wMax > Math.max(wPrefix.length, rPrefix.length)) reads(wItems, rItems, `${path}/[]`, ctx);
  countBound(w, r, 'minItems', 'min', path, ctx, 'min-items-tightened', 'min-items-loosened');
  const rMax = maxItemsOf(r);
  if (rMax < wMax) report(ctx, path, 'max-items-tightened', 'max-items-loosened', `writer maxItems ${Number.isFinite(wMax) ? wMax : 'none'}, reader maxItems ${rMax}`);
  if (r.uniqueItems === true && w.uniqueItems !== true && wMax > 1) report(ctx, path, 'unique-items-added', 'unique-items-removed', 'the reader requires unique items');
}

/** The most items an array may have: `maxItems`, or the tuple's length when `items` is false. */
function maxItemsOf(s: Obj): number {
  const max = typeof s.maxItems === 'number' ? s.maxItems : Infinity;
  const prefix = Array.isArray(s.prefixItems) ? s.prefixItems.length : 0;
  return s.items === false ? Math.min(max, prefix) : max;
}
