import { ContractInvalidError, OptionsInvalidError, validateSubject } from '../../core/index.js';
import { compileFieldPath, readPath, type FieldPath } from '../filter/field-path.js';

/**
 * A subject with `{path}` placeholders (`alerts.{deviceId}`), compiled once. Each placeholder is
 * a dotted path into the object handed to `render`; its value becomes one subject token, with
 * characters a token cannot hold (including `.`) replaced by `_` so a value can never add tokens.
 *
 * @example compileSubjectTemplate('alerts.{deviceId}', 'output').render({ deviceId: 'd-7' }) // 'alerts.d-7'
 */
export interface SubjectTemplate {
  readonly source: string;
  /** The placeholders, in order. */
  readonly fields: readonly string[];
  /** Throws ContractInvalidError (dead-letters the message) when a placeholder's value is missing. */
  render(values: unknown): string;
  /** `render(withKey(values, keyAs, key))` without copying `values`: `{<keyAs>}` reads `key`. */
  renderKeyed(values: unknown, keyAs: string, key: string): string;
}

// Subjects made from one placeholder value, kept per template (bounded): every message of a key
// then carries the same string, whose hash the Bus' and transports' subject maps compute once.
const MAX_CACHED_SUBJECTS = 10_000;

const PLACEHOLDER = /\{([^{}]*)\}/g;

export function compileSubjectTemplate(template: unknown, field: string): SubjectTemplate {
  if (typeof template !== 'string' || template.length === 0) {
    throw new OptionsInvalidError(`${field} must be a non-empty subject (placeholders like {deviceId} allowed)`, { details: { field } });
  }
  const literals: string[] = [];
  const paths: FieldPath[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    literals.push(template.slice(last, m.index));
    names.push(m[1]!);
    paths.push(compileFieldPath(m[1], `${field} placeholder {${m[1]}}`));
    last = m.index! + m[0].length;
  }
  literals.push(template.slice(last));
  const probe = literals.reduce((acc, lit, i) => acc + lit + (i < paths.length ? 'x' : ''), '');
  try { validateSubject(probe); } catch (cause) {
    throw new OptionsInvalidError(`${field} "${template}" does not make a valid subject: ${(cause as Error).message}`, { cause, details: { field } });
  }
  if (paths.length === 0) return { source: template, fields: names, render: () => template, renderKeyed: () => template };
  const token = (v: unknown, i: number): string => {
    if (v === undefined || v === null || v === '' || typeof v === 'object') {
      throw new ContractInvalidError(`the subject template ${template} needs a scalar value for {${names[i]}}`, { details: { field: names[i] } });
    }
    return toSubjectToken(String(v));
  };
  /** The value of placeholder `i`: `key` stands in for the top-level field `keyAs` (as in `withKey`). */
  const valueAt = (values: unknown, i: number, keyAs: string | undefined, key: string | undefined): unknown => {
    const path = paths[i]!;
    if (keyAs === undefined || path[0] !== keyAs) return readPath(values, path);
    return path.length === 1 ? key : undefined;
  };
  if (paths.length === 1) {
    const [before, after] = literals as [string, string];
    const made = new Map<unknown, string>();
    const subjectOf = (v: unknown): string => {
      let subject = made.get(v);
      if (subject === undefined) {
        subject = before + token(v, 0) + after;
        if (made.size >= MAX_CACHED_SUBJECTS) made.clear();
        made.set(v, subject);
      }
      return subject;
    };
    return {
      source: template,
      fields: names,
      render: (values) => subjectOf(readPath(values, paths[0]!)),
      renderKeyed: (values, keyAs, key) => subjectOf(valueAt(values, 0, keyAs, key)),
    };
  }
  const renderAll = (values: unknown, keyAs: string | undefined, key: string | undefined): string => {
    let out = literals[0]!;
    for (let i = 0; i < paths.length; i++) out += token(valueAt(values, i, keyAs, key), i) + literals[i + 1]!;
    return out;
  };
  return {
    source: template,
    fields: names,
    render: (values) => renderAll(values, undefined, undefined),
    renderKeyed: (values, keyAs, key) => renderAll(values, keyAs, key),
  };
}

/**
 * `data` plus `[keyAs]: key`, the values a subject template reads. Copied with Object.assign:
 * `{ ...data, [keyAs]: key }` costs ~10 µs in V8 (Node 20), as adding to a spread clone is slow.
 * @example compileSubjectTemplate('alerts.{deviceId}', 'output').render(withKey(alertData, 'deviceId', 'd-7'))
 */
export function withKey(data: object, keyAs: string, key: string): Record<string, unknown> {
  const out = Object.assign({}, data) as Record<string, unknown>;
  out[keyAs] = key;
  return out;
}

function isTokenChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)
    || c === 95 || c === 45 || c === 126 || c === 58 || c === 64 || c === 61;
}

/** `value` as one subject token: unchanged when it already is one (the usual case, no allocation). */
export function toSubjectToken(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (!isTokenChar(value.charCodeAt(i))) return value.replace(/[^A-Za-z0-9_\-~:@=]/g, '_');
  }
  return value;
}

const CONTEXT_OK = /^[A-Za-z0-9._/-]+$/;
const contextCache = new Map<string, string>();

/**
 * A metric field context (DESIGN.md section 7) for a contract name or subject: the name itself
 * when it is valid, else made valid, so that counting a metric can never fail a message.
 */
export function metricContext(name: string | undefined): string {
  if (name === undefined || name === '') return 'unknown';
  let c = contextCache.get(name);
  if (c === undefined) {
    c = CONTEXT_OK.test(name) ? name : name.replace(/[^A-Za-z0-9._/-]/g, '_');
    if (contextCache.size > 1000) contextCache.clear();
    contextCache.set(name, c);
  }
  return c;
}

/** The `dataschema` URN of a contract version (DESIGN.md section 2). */
export function dataschemaOf(type: string, version: string): string {
  return `urn:signalbus:contract:${type}:${version}`;
}

/** The version in a `dataschema` URN, or undefined. */
export function versionOfDataschema(dataschema: unknown): string | undefined {
  if (typeof dataschema !== 'string' || !dataschema.startsWith('urn:signalbus:contract:')) return undefined;
  const at = dataschema.lastIndexOf(':');
  return at > 0 ? dataschema.slice(at + 1) : undefined;
}
