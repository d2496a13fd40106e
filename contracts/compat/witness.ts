/**
 * Counterexamples for JSON Schema verdicts: instances the writer schema accepts and the reader
 * rejects. The candidates come from both schemas (their bounds and one past them, enum values,
 * formats, property names, array lengths), combined at random with a seeded generator, and ajv
 * decides. Finding one proves a change breaking; finding none proves nothing, so a breaking
 * verdict without one rests on the rule the checker applied.
 */
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { createAjv } from '../json-schema-validator.js';
import { directionsOf } from './check.js';
import { jsonSchemaReads } from './json-schema.js';
import type { CompatibilityMode, JsonSchema } from './types.js';

type Obj = { [keyword: string]: unknown };

/** A value the writer accepts and the reader rejects, with ajv's reason. */
export interface Counterexample {
  instance: unknown;
  /** The reader's first validation error, as `pointer message`. */
  reason: string;
}

export interface WitnessOptions {
  /** How many candidate instances to try (default 2000). */
  tries?: number;
  /** Seed of the candidate generator (default fixed, so a run is repeatable). */
  seed?: number;
}

/**
 * Looks for an instance valid under `writer` and invalid under `reader`.
 * @example findCounterexample({ type: 'number' }, { type: 'integer' }) // { instance: 0.5, reason: '/ must be integer' }
 */
export function findCounterexample(writer: JsonSchema, reader: JsonSchema, options: WitnessOptions = {}): Counterexample | undefined {
  const ajv = (sharedAjv ??= createAjv());
  const [w, r] = [stripId(writer), stripId(reader)];
  let validWriter: ValidateFunction, validReader: ValidateFunction;
  try {
    validWriter = ajv.compile(w);
    validReader = ajv.compile(r);
  } catch {
    return undefined;
  } finally {
    // One ajv serves every call (creating one costs more than the search); it forgets these schemas.
    for (const s of [w, r]) if (typeof s === 'object') ajv.removeSchema(s);
  }
  const sampler = new Sampler([writer, reader], options.seed ?? 0x5eed);
  const tries = options.tries ?? 2000;
  const seen = new Set<string>();
  const test = (v: unknown): Counterexample | undefined => {
    const key = JSON.stringify(v);
    if (key === undefined || seen.has(key)) return undefined;
    seen.add(key);
    if (!validWriter(v) || validReader(v)) return undefined;
    const e = validReader.errors?.[0];
    return { instance: v, reason: e ? `${e.instancePath || '/'} ${e.message ?? e.keyword}` : 'rejected' };
  };
  // The writer's own candidates first (most are valid under it), then the reader's (its edges).
  for (let i = 0; i < tries; i++) {
    const found = test(sampler.sample(i % 3 === 2 ? reader : writer, i % 3 === 2 ? reader : writer, 0));
    if (found) return found;
  }
  return undefined;
}

/**
 * Why a JSON Schema change breaks under a mode: per failing direction, an instance one side
 * accepts and the other rejects, or, when the search finds none, that the verdict rests on the
 * rules the checker applied. `contracts diff` prints these lines; `assertCompatible` adds them.
 */
export function explainJsonBreak(previous: JsonSchema, next: JsonSchema, mode: CompatibilityMode): string[] {
  const lines: string[] = [];
  for (const direction of directionsOf(mode)) {
    const [writer, reader] = direction === 'backward' ? [previous, next] : [next, previous];
    if (jsonSchemaReads(writer, reader, direction).length === 0) continue;
    const [writes, reads] = direction === 'backward' ? ['old', 'new'] : ['new', 'old'];
    const example = findCounterexample(writer, reader);
    if (example) lines.push(`${direction} example: ${JSON.stringify(example.instance)} is valid under the ${writes} schema and rejected by the ${reads} (${example.reason})`);
    else lines.push(`${direction}: no example instance found; the verdict rests on the rules listed (some, such as pattern-changed, are reported because they cannot be proved safe)`);
  }
  return lines;
}

let sharedAjv: ReturnType<typeof createAjv> | undefined;

/** Both schemas are compiled by one ajv: an `$id` they share would collide. */
function stripId(s: JsonSchema): JsonSchema {
  if (typeof s !== 'object' || s === null || s.$id === undefined) return s;
  const { $id: _id, ...rest } = s;
  return rest;
}

const FORMAT_SAMPLES: Record<string, string[]> = {
  'date-time': ['2025-11-13T08:00:00Z', '2025-11-13T08:00:00.123+01:00'],
  date: ['2025-11-13'], time: ['08:00:00Z'], email: ['x@y.io'], uri: ['https://example.com/a'],
  'uri-reference': ['/a/b', 'https://example.com'], uuid: ['123e4567-e89b-12d3-a456-426614174000'],
  hostname: ['example.com'], ipv4: ['192.0.2.1'], ipv6: ['2001:db8::1'], duration: ['P1D'],
};
const STRINGS = ['', 'a', 'ab', 'b', 'abc', 'x-1', 'A', '0', '12', 'ä', 'hello world', ...Object.values(FORMAT_SAMPLES).flat()];
const NUMBERS = [0, 1, -1, 2, 0.5, -0.5, 2.5, 3, 7, 10, 100, 1e9, -1e9, 1.5e-7];
const SCALARS: unknown[] = [null, true, false, 0, 1, -1, 0.5, 'a', '', 'b'];

/** Random instances shaped by a set of schemas: values at and just past their bounds, their enums, their property names. */
class Sampler {
  private state: number;
  private readonly names: string[];
  private readonly numbers: number[];
  private readonly strings: string[];
  private readonly enums: unknown[];

  constructor(private readonly roots: JsonSchema[], seed: number) {
    this.state = seed >>> 0;
    const names = new Set<string>(['zz']), numbers = new Set<number>(NUMBERS), strings = new Set<string>(STRINGS), enums: unknown[] = [];
    const walk = (s: unknown, depth: number) => {
      if (depth > 12 || s === null || typeof s !== 'object') return;
      if (Array.isArray(s)) { for (const x of s) walk(x, depth + 1); return; }
      const o = s as Obj;
      for (const k of ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']) {
        if (o[k] && typeof o[k] === 'object') for (const [name, sub] of Object.entries(o[k] as Obj)) { if (k === 'properties') names.add(name); walk(sub, depth + 1); }
      }
      for (const n of (o.required as string[] | undefined) ?? []) names.add(n);
      for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']) {
        const v = o[k];
        if (typeof v === 'number') for (const d of [v, v - 1, v + 1, v - 0.5, v + 0.5, v * 2, v * 3]) numbers.add(d);
      }
      for (const k of ['minLength', 'maxLength']) {
        const v = o[k];
        if (typeof v === 'number') for (const n of [v - 1, v, v + 1]) if (n >= 0) strings.add('a'.repeat(n));
      }
      if (typeof o.format === 'string') for (const f of FORMAT_SAMPLES[o.format] ?? []) strings.add(f);
      if (Array.isArray(o.enum)) enums.push(...o.enum);
      if ('const' in o) enums.push(o.const);
      for (const [k, v] of Object.entries(o)) if (k !== 'properties' && k !== '$defs' && k !== 'definitions' && k !== 'enum' && k !== 'const') walk(v, depth + 1);
    };
    for (const r of roots) walk(r, 0);
    this.names = [...names];
    this.numbers = [...numbers];
    this.strings = [...strings];
    this.enums = enums;
  }

  private random(): number {
    // mulberry32
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)]!;
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  /** A value for `schema` (whose `$ref`s resolve in `root`); sometimes deliberately off its shape. */
  sample(schema: JsonSchema, root: JsonSchema, depth: number): unknown {
    if (depth > 5) return this.pick(SCALARS);
    const s = this.deref(schema, root);
    if (s === false || s === true || this.chance(0.04)) return this.any(depth);
    if (Array.isArray(s.enum) && s.enum.length && this.chance(0.85)) return this.pick(s.enum);
    if ('const' in s && this.chance(0.85)) return s.const;
    const alternatives = [...((s.anyOf as JsonSchema[]) ?? []), ...((s.oneOf as JsonSchema[]) ?? [])];
    const members = (s.allOf as JsonSchema[] | undefined) ?? [];
    if (alternatives.length && this.chance(0.6)) {
      const { anyOf: _a, oneOf: _o, ...base } = s;
      const alt = this.deref(this.pick(alternatives), root);
      return this.sample(typeof alt === 'boolean' ? (alt ? base : false) : { ...base, ...alt }, root, depth);
    }
    if (members.length && this.chance(0.6)) {
      // A value for one member, completed with the others' properties.
      const merged: Obj = { ...s };
      delete merged.allOf;
      for (const m of members) {
        const d = this.deref(m, root);
        if (typeof d === 'object') {
          Object.assign(merged, { ...d, ...merged, properties: { ...(d.properties as Obj), ...(merged.properties as Obj) }, required: [...((d.required as string[]) ?? []), ...((merged.required as string[]) ?? [])] });
        }
      }
      return this.sample(merged, root, depth);
    }
    const types = typeof s.type === 'string' ? [s.type] : Array.isArray(s.type) ? (s.type as string[]) : this.impliedTypes(s);
    switch (this.pick(types)) {
      case 'null': return null;
      case 'boolean': return this.chance(0.5);
      case 'integer': return this.integer(s);
      case 'number': return this.chance(0.5) ? this.integer(s) : this.number(s);
      case 'string': return this.string(s);
      case 'array': return this.array(s, root, depth);
      case 'object': return this.object(s, root, depth);
      default: return this.any(depth);
    }
  }

  private impliedTypes(s: Obj): string[] {
    const has = (...ks: string[]) => ks.some((k) => k in s);
    const t: string[] = [];
    if (has('properties', 'required', 'additionalProperties', 'patternProperties', 'unevaluatedProperties', 'minProperties', 'maxProperties')) t.push('object');
    if (has('items', 'prefixItems', 'minItems', 'maxItems', 'uniqueItems', 'contains')) t.push('array');
    if (has('minLength', 'maxLength', 'pattern', 'format')) t.push('string');
    if (has('minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf')) t.push('number');
    return t.length ? t : ['null', 'boolean', 'integer', 'number', 'string', 'array', 'object'];
  }

  private any(depth: number): unknown {
    if (depth < 3 && this.chance(0.15)) return [this.pick(SCALARS)];
    if (depth < 3 && this.chance(0.15)) return { [this.pick(this.names)]: this.pick(SCALARS) };
    if (this.enums.length && this.chance(0.3)) return this.pick(this.enums);
    return this.pick([...SCALARS, this.pick(this.numbers), this.pick(this.strings)]);
  }

  private integer(s: Obj): number {
    const n = this.chance(0.7) ? this.pick(this.numbers) : Math.floor(this.random() * 21) - 10;
    const m = typeof s.multipleOf === 'number' && this.chance(0.7) ? s.multipleOf * Math.round(n / s.multipleOf) : n;
    return Number.isInteger(m) && this.chance(0.9) ? m : Math.round(m);
  }

  private number(s: Obj): number {
    const n = this.pick(this.numbers);
    return typeof s.multipleOf === 'number' && this.chance(0.5) ? s.multipleOf * Math.round(n / s.multipleOf) : n;
  }

  private string(s: Obj): string {
    if (typeof s.format === 'string' && FORMAT_SAMPLES[s.format] && this.chance(0.7)) return this.pick(FORMAT_SAMPLES[s.format]!);
    if (typeof s.pattern === 'string' && this.chance(0.5)) {
      const fitting = this.strings.filter((x) => { try { return new RegExp(s.pattern as string, 'u').test(x); } catch { return false; } });
      if (fitting.length) return this.pick(fitting);
    }
    return this.pick(this.strings);
  }

  private array(s: Obj, root: JsonSchema, depth: number): unknown[] {
    const prefix = (Array.isArray(s.prefixItems) ? s.prefixItems : []) as JsonSchema[];
    const min = typeof s.minItems === 'number' ? s.minItems : 0;
    const max = typeof s.maxItems === 'number' ? s.maxItems : Math.max(min, prefix.length) + 3;
    const length = Math.max(0, this.pick([min, max, max + 1, min - 1, prefix.length, prefix.length + 1, Math.floor(this.random() * (max + 2))]));
    const out: unknown[] = [];
    for (let i = 0; i < Math.min(length, 8); i++) {
      if (i > 0 && this.chance(0.15)) { out.push(structuredClone(out[i - 1])); continue; } // duplicates, for uniqueItems
      out.push(this.sample(prefix[i] ?? ((s.items ?? true) as JsonSchema), root, depth + 1));
    }
    return out;
  }

  private object(s: Obj, root: JsonSchema, depth: number): Record<string, unknown> {
    const props = (s.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((s.required as string[] | undefined) ?? []);
    const out: Record<string, unknown> = {};
    for (const [name, sub] of Object.entries(props)) {
      if (required.has(name) ? this.chance(0.97) : this.chance(0.6)) out[name] = this.sample(sub, root, depth + 1);
    }
    for (const name of required) if (!(name in out) && this.chance(0.97)) out[name] = this.any(depth + 1);
    // Names the schema does not declare (the other schema's, or none): open content models carry them.
    const extras = this.chance(0.5) ? 0 : 1 + Math.floor(this.random() * 2);
    for (let i = 0; i < extras; i++) {
      const name = this.pick(this.names);
      if (name in out) continue;
      const extra = s.additionalProperties ?? s.unevaluatedProperties;
      out[name] = typeof extra === 'object' && extra !== null && this.chance(0.7) ? this.sample(extra as JsonSchema, root, depth + 1) : this.sampleFromAnyRoot(name, depth + 1);
    }
    return out;
  }

  /** A value for a property as some schema of the set declares it (or any value). */
  private sampleFromAnyRoot(name: string, depth: number): unknown {
    for (const r of this.roots) {
      const found = findProperty(r, name);
      if (found !== undefined && this.chance(0.6)) return this.sample(found, r, depth);
    }
    return this.any(depth);
  }

  private deref(s: JsonSchema, root: JsonSchema, hops = 0): Obj | boolean {
    if (typeof s !== 'object' || s === null) return s;
    if (typeof s.$ref !== 'string' || hops > 16 || !s.$ref.startsWith('#')) return s;
    let at: unknown = root;
    for (const raw of s.$ref.slice(1).split('/').slice(1)) at = (at as Obj | undefined)?.[decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~')];
    if (at === undefined) return s;
    const { $ref: _r, ...siblings } = s;
    const target = this.deref(at as JsonSchema, root, hops + 1);
    if (typeof target === 'boolean') return target && Object.keys(siblings).length ? siblings : target;
    return { ...target, ...siblings };
  }
}

function findProperty(s: unknown, name: string, depth = 0): JsonSchema | undefined {
  if (depth > 8 || s === null || typeof s !== 'object') return undefined;
  const o = s as Obj;
  const props = o.properties as Record<string, JsonSchema> | undefined;
  if (props && name in props) return props[name];
  for (const v of Object.values(o)) {
    const found = findProperty(v, name, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
