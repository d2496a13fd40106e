import { OptionsInvalidError } from '../../core/index.js';

/** A dotted field path compiled once into its segments (`data.temperature` → ['data', 'temperature']). */
export type FieldPath = readonly string[];

// Reading these would walk into prototypes, never into the message's own data.
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Compiles a dotted path. `field` names the config field in the error when the path is bad.
 * @example readPath({ data: { t: 21 } }, compileFieldPath('data.t', 'where.path')) // 21
 */
export function compileFieldPath(path: unknown, field: string): FieldPath {
  if (typeof path !== 'string' || path.length === 0) {
    throw new OptionsInvalidError(`${field} must be a non-empty dotted field path`, { details: { field } });
  }
  const segments = path.split('.');
  for (const s of segments) {
    if (s.length === 0) throw new OptionsInvalidError(`${field} "${path}" has an empty segment`, { details: { field } });
    if (FORBIDDEN.has(s)) throw new OptionsInvalidError(`${field} "${path}" may not use the segment "${s}"`, { details: { field } });
  }
  return segments;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** The value at `path` under `root`, or undefined when any step is missing or not an object. Own properties only. */
export function readPath(root: unknown, path: FieldPath): unknown {
  let value = root;
  for (let i = 0; i < path.length; i++) {
    if (value === null || typeof value !== 'object') return undefined;
    const segment = path[i]!;
    if (!hasOwn.call(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** Event time in ms from epoch ms or an RFC 3339 string; undefined when it is neither. */
export function eventTime(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string') { const t = Date.parse(v); return Number.isNaN(t) ? undefined : t; }
  return undefined;
}
