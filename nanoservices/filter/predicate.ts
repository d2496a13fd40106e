import { OptionsInvalidError } from '../../core/index.js';
import { compileFieldPath, readPath } from './field-path.js';

export type Scalar = string | number | boolean | null;

/**
 * A test of one field. Every operator given must hold. Semantics, chosen to be predictable:
 * - a missing path (`undefined`) fails every operator except `exists: false`, including `ne`;
 * - `null` is a value: it `exists`, equals only `null`, and fails every ordering operator;
 * - `gt gte lt lte` compare numbers with numbers and strings with strings (so ISO timestamps
 *   order correctly); any other pairing is false, never coerced;
 * - `eq ne in` use strict equality (`1` is not `"1"`).
 */
export interface FieldCondition {
  /** Dotted path from the envelope, e.g. `data.temperature` or `tenant`. */
  path: string;
  eq?: Scalar;
  ne?: Scalar;
  gt?: number | string;
  gte?: number | string;
  lt?: number | string;
  lte?: number | string;
  in?: Scalar[];
  exists?: boolean;
}

/** `all: []` is true and `any: []` is false (the identities of and/or). */
export type Predicate = FieldCondition | { all: Predicate[] } | { any: Predicate[] } | { not: Predicate };

/** A compiled predicate: call it with the envelope (or any object the paths start from). */
export type CompiledPredicate = (root: unknown) => boolean;

const OPERATORS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists'] as const;
const ORDERING = new Set(['gt', 'gte', 'lt', 'lte']);
const always = () => true;
const never = () => false;

function fail(message: string, field: string): never {
  throw new OptionsInvalidError(`${field}: ${message}`, { details: { field } });
}

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * Compiles a declarative predicate once into a function of plain comparisons; errors name the
 * config path (`where.all[1].gt`).
 *
 * @example
 * const plausible = compilePredicate({ path: 'data.temperature', gte: -50, lte: 150 });
 * plausible({ data: { temperature: 21 } }) // true
 */
export function compilePredicate(predicate: Predicate, field = 'where'): CompiledPredicate {
  if (predicate === null || typeof predicate !== 'object' || Array.isArray(predicate)) fail('must be an object', field);
  const keys = Object.keys(predicate);
  if ('all' in predicate || 'any' in predicate) {
    const op = 'all' in predicate ? 'all' : 'any';
    if (keys.length !== 1) fail(`"${op}" stands alone; found also ${keys.filter((k) => k !== op).join(', ')}`, field);
    const list = (predicate as Record<string, unknown>)[op];
    if (!Array.isArray(list)) fail(`"${op}" must be an array of predicates`, `${field}.${op}`);
    const parts = list.map((p, i) => compilePredicate(p as Predicate, `${field}.${op}[${i}]`));
    return op === 'all' ? allOf(parts) : anyOf(parts);
  }
  if ('not' in predicate) {
    if (keys.length !== 1) fail(`"not" stands alone; found also ${keys.filter((k) => k !== 'not').join(', ')}`, field);
    const inner = compilePredicate(predicate.not, `${field}.not`);
    return (root) => !inner(root);
  }
  return compileCondition(predicate as FieldCondition, keys, field);
}

function allOf(parts: CompiledPredicate[]): CompiledPredicate {
  if (parts.length === 0) return always;
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2) { const [a, b] = parts as [CompiledPredicate, CompiledPredicate]; return (r) => a(r) && b(r); }
  return (root) => {
    for (let i = 0; i < parts.length; i++) if (!parts[i]!(root)) return false;
    return true;
  };
}

function anyOf(parts: CompiledPredicate[]): CompiledPredicate {
  if (parts.length === 0) return never;
  if (parts.length === 1) return parts[0]!;
  return (root) => {
    for (let i = 0; i < parts.length; i++) if (parts[i]!(root)) return true;
    return false;
  };
}

type ValueTest = (value: unknown) => boolean;

function compileCondition(c: FieldCondition, keys: string[], field: string): CompiledPredicate {
  if (!('path' in c)) fail('a condition needs "path" (or use all / any / not)', field);
  const path = compileFieldPath(c.path, `${field}.path`);
  const tests: ValueTest[] = [];
  for (const key of keys) {
    if (key === 'path') continue;
    if (!(OPERATORS as readonly string[]).includes(key)) fail(`unknown operator "${key}" (use ${OPERATORS.join(' ')})`, `${field}.${key}`);
    tests.push(compileOperator(key as (typeof OPERATORS)[number], (c as unknown as Record<string, unknown>)[key], `${field}.${key}`));
  }
  if (tests.length === 0) fail(`no operator for path "${c.path}" (use ${OPERATORS.join(' ')})`, field);
  const test = tests.length === 1 ? tests[0]! : (v: unknown) => { for (let i = 0; i < tests.length; i++) if (!tests[i]!(v)) return false; return true; };
  return (root) => test(readPath(root, path));
}

function compileOperator(op: (typeof OPERATORS)[number], operand: unknown, field: string): ValueTest {
  if (op === 'exists') {
    if (typeof operand !== 'boolean') fail('must be true or false', field);
    return operand ? (v) => v !== undefined : (v) => v === undefined;
  }
  if (op === 'in') {
    if (!Array.isArray(operand) || !operand.every(isScalar)) fail('must be an array of strings, finite numbers, booleans or null', field);
    const set = new Set<unknown>(operand);
    return (v) => v !== undefined && set.has(v);
  }
  if (op === 'eq' || op === 'ne') {
    if (!isScalar(operand)) fail('must be a string, finite number, boolean or null', field);
    return op === 'eq' ? (v) => v === operand : (v) => v !== undefined && v !== operand;
  }
  if (ORDERING.has(op)) {
    if (typeof operand === 'number' && Number.isFinite(operand)) return ordering(op, operand, 'number');
    if (typeof operand === 'string') return ordering(op, operand, 'string');
    fail('must be a finite number or a string', field);
  }
  fail(`unknown operator "${op}"`, field);
}

function ordering(op: string, x: number | string, kind: 'number' | 'string'): ValueTest {
  switch (op) {
    case 'gt': return (v) => typeof v === kind && (v as number) > (x as number);
    case 'gte': return (v) => typeof v === kind && (v as number) >= (x as number);
    case 'lt': return (v) => typeof v === kind && (v as number) < (x as number);
    default: return (v) => typeof v === kind && (v as number) <= (x as number);
  }
}

/**
 * JSON Schema definitions of a predicate (recursive through `#/$defs/predicate`); a config schema
 * that holds predicates puts these under its own `$defs`.
 */
export const predicateSchemaDefs = {
  predicate: {
    oneOf: [
      { type: 'object', required: ['all'], additionalProperties: false, properties: { all: { type: 'array', items: { $ref: '#/$defs/predicate' } } } },
      { type: 'object', required: ['any'], additionalProperties: false, properties: { any: { type: 'array', items: { $ref: '#/$defs/predicate' } } } },
      { type: 'object', required: ['not'], additionalProperties: false, properties: { not: { $ref: '#/$defs/predicate' } } },
      {
        type: 'object',
        required: ['path'],
        additionalProperties: false,
        minProperties: 2,
        properties: {
          path: { type: 'string', minLength: 1, pattern: '^[^.]+(\\.[^.]+)*$' },
          eq: { $ref: '#/$defs/scalar' },
          ne: { $ref: '#/$defs/scalar' },
          gt: { $ref: '#/$defs/orderable' },
          gte: { $ref: '#/$defs/orderable' },
          lt: { $ref: '#/$defs/orderable' },
          lte: { $ref: '#/$defs/orderable' },
          in: { type: 'array', items: { $ref: '#/$defs/scalar' } },
          exists: { type: 'boolean' },
        },
      },
    ],
  },
  // anyOf rather than a type list: ajv's strict mode rejects union types by default.
  scalar: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }] },
  orderable: { anyOf: [{ type: 'number' }, { type: 'string' }] },
};
