import { didYouMean, closest } from './did-you-mean.js';

/** One problem a pipeline lint found, at a JSON pointer into the pipeline file. */
export interface LintFinding {
  severity: 'error' | 'warning';
  /** JSON pointer (RFC 6901) of what is wrong, e.g. `/services/1/config/where/path`. */
  path: string;
  message: string;
}

type Schema = Record<string, unknown> | boolean;

/** A JSON pointer made of its tokens (`~` and `/` escaped). */
export function pointer(...tokens: Array<string | number>): string {
  return tokens.map((t) => `/${String(t).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function hasType(v: unknown, type: string): boolean {
  const t = typeOf(v);
  return t === type || (type === 'number' && t === 'integer');
}

const show = (v: unknown): string => JSON.stringify(v);

/** Follows a local `$ref` (`#/$defs/x`) within `root`. */
function deref(schema: Schema, root: Schema): Schema {
  let s = schema;
  for (let hops = 0; isObject(s) && typeof s.$ref === 'string' && hops < 32; hops++) {
    const ref = s.$ref as string;
    if (!ref.startsWith('#')) return true; // a remote schema: nothing to say about it here
    let target: unknown = root;
    for (const token of ref.slice(1).split('/').filter(Boolean)) {
      target = isObject(target) ? target[token.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    }
    s = (target ?? true) as Schema;
  }
  return s;
}

/**
 * Explains why `value` does not match `schema`, as findings that name the JSON path and what was
 * meant: an unknown property gets the closest allowed name ("did you mean where?") and the
 * `required` error it caused is left out; an enum or a `const` discriminator lists the allowed
 * values; of `oneOf` branches, the one the value meant (its `kind`, its required properties) is
 * explained instead of all of them. Covers the keywords signalbus' own schemas use; empty when
 * the value matches.
 */
export function explainSchema(schema: Schema, value: unknown, path: string, root: Schema = schema): LintFinding[] {
  const s = deref(schema, root);
  if (s === true) return [];
  if (s === false) return [errorAt(path, 'is not allowed here')];
  const out: LintFinding[] = [];
  if ('const' in s && value !== s.const) out.push(errorAt(path, `must be ${show(s.const)}, got ${show(value)}`));
  if (Array.isArray(s.enum) && !s.enum.some((e) => e === value)) {
    const allowed = s.enum as unknown[];
    const hint = typeof value === 'string' ? didYouMean(value, allowed.filter((a): a is string => typeof a === 'string')) : '';
    out.push(errorAt(path, `must be one of ${allowed.map(show).join(', ')}, got ${show(value)}${hint}`));
  }
  if (typeof s.type === 'string' && !hasType(value, s.type)) return [...out, errorAt(path, `must be ${article(s.type)}, got ${typeOf(value)}`)];
  for (const key of ['oneOf', 'anyOf'] as const) {
    if (Array.isArray(s[key])) out.push(...explainBranches(s[key] as Schema[], key, value, path, root));
  }
  if (Array.isArray(s.allOf)) for (const part of s.allOf as Schema[]) out.push(...explainSchema(part, value, path, root));
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength) out.push(errorAt(path, s.minLength === 1 ? 'must not be empty' : `must be at least ${s.minLength} characters`));
    if (typeof s.maxLength === 'number' && value.length > s.maxLength) out.push(errorAt(path, `must be at most ${s.maxLength} characters`));
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) out.push(errorAt(path, `${show(value)} must match the pattern ${s.pattern}`));
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) out.push(errorAt(path, `must be >= ${s.minimum}, got ${value}`));
    if (typeof s.maximum === 'number' && value > s.maximum) out.push(errorAt(path, `must be <= ${s.maximum}, got ${value}`));
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) out.push(errorAt(path, `must have at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`));
    if (s.uniqueItems === true) {
      const seen = new Set<string>();
      value.forEach((v, i) => { const k = JSON.stringify(v); if (seen.has(k)) out.push(errorAt(`${path}/${i}`, `${k} is listed twice`)); seen.add(k); });
    }
    if (s.items !== undefined) value.forEach((v, i) => out.push(...explainSchema(s.items as Schema, v, `${path}/${i}`, root)));
  }
  if (isObject(value)) out.push(...explainObject(s, value, path, root));
  return out;
}

function explainObject(s: Record<string, unknown>, value: Record<string, unknown>, path: string, root: Schema): LintFinding[] {
  const out: LintFinding[] = [];
  const properties = isObject(s.properties) ? s.properties as Record<string, Schema> : {};
  const known = Object.keys(properties);
  const unknown = Object.keys(value).filter((k) => !Object.hasOwn(properties, k));
  // A misspelled property also leaves its right spelling missing: one finding says both.
  const meant = new Set(unknown.map((k) => closest(k, known)).filter((k): k is string => k !== undefined && !Object.hasOwn(value, k)));
  for (const name of Array.isArray(s.required) ? s.required as string[] : []) {
    if (!Object.hasOwn(value, name) && !meant.has(name)) out.push(errorAt(path || '/', `missing "${name}"`));
  }
  if (typeof s.minProperties === 'number' && Object.keys(value).length < s.minProperties) {
    out.push(errorAt(path || '/', `needs at least ${s.minProperties} properties`));
  }
  for (const [k, v] of Object.entries(value)) {
    const at = `${path}${pointer(k)}`;
    if (s.propertyNames !== undefined) {
      const names = explainSchema(s.propertyNames as Schema, k, at, root);
      if (names.length > 0) out.push(errorAt(at, `property name: ${names[0]!.message}`));
    }
    if (Object.hasOwn(properties, k)) { out.push(...explainSchema(properties[k]!, v, at, root)); continue; }
    if (s.additionalProperties === false) {
      const hint = didYouMean(k, known);
      out.push(errorAt(at, `unknown property "${k}"${hint || ` (allowed: ${known.join(', ')})`}`));
    } else if (s.additionalProperties !== undefined && s.additionalProperties !== true) {
      out.push(...explainSchema(s.additionalProperties as Schema, v, at, root));
    }
  }
  return out;
}

/**
 * A `oneOf`/`anyOf` the value fails: explains the branch it meant. A branch is meant when its
 * `const` discriminator (`kind: "tumbling"`) equals the value's; with no such match the
 * discriminator itself is wrong and the finding lists its allowed values. Without a
 * discriminator, a branch whose required properties are all present, else the closest branch.
 */
function explainBranches(branches: Schema[], key: 'oneOf' | 'anyOf', value: unknown, path: string, root: Schema): LintFinding[] {
  const explained = branches.map((b) => explainSchema(b, value, path, root));
  const matching = explained.filter((e) => e.length === 0).length;
  if (matching === 1 || (key === 'anyOf' && matching > 1)) return [];
  if (matching > 1) return [errorAt(path || '/', `matches ${matching} of the alternatives; it must match exactly one`)];
  const resolved = branches.map((b) => deref(b, root));
  if (isObject(value)) {
    const discriminator = discriminatorOf(resolved);
    if (discriminator !== undefined) {
      const allowed = resolved.map((b) => ((b as { properties: Record<string, { const: unknown }> }).properties[discriminator]!.const));
      const chosen = allowed.findIndex((a) => a === value[discriminator]);
      if (chosen >= 0) return explained[chosen]!;
      const got = value[discriminator];
      const at = `${path}${pointer(discriminator)}`;
      if (got === undefined) return [errorAt(path || '/', `missing "${discriminator}" (one of ${allowed.map(show).join(', ')})`)];
      const hint = typeof got === 'string' ? didYouMean(got, allowed.filter((a): a is string => typeof a === 'string')) : '';
      return [errorAt(at, `must be one of ${allowed.map(show).join(', ')}, got ${show(got)}${hint}`)];
    }
    const complete = resolved.findIndex((b, i) => isObject(b) && Array.isArray(b.required) && (b.required as string[]).every((r) => Object.hasOwn(value, r)) && explained[i]!.length > 0);
    if (complete >= 0) return explained[complete]!;
  }
  // Branches of another type than the value (`false` against an object) are no candidates.
  const candidates = explained.map((e, i) => ({ e, b: resolved[i]! })).filter(({ b }) => !isObject(b)
    || ((typeof b.type !== 'string' || hasType(value, b.type)) && (!('const' in b) || typeOf(b.const) === typeOf(value))));
  if (candidates.length === 0) {
    const types = [...new Set(resolved.map(describe))];
    return [errorAt(path || '/', `must be ${types.join(' or ')}, got ${show(value)}`)];
  }
  candidates.sort((a, b) => a.e.length - b.e.length);
  return candidates[0]!.e;
}

/** A property every branch declares with a `const` (the `kind` of a window or a rule). */
function discriminatorOf(branches: Schema[]): string | undefined {
  const first = branches[0];
  if (!isObject(first) || !isObject(first.properties)) return undefined;
  return Object.keys(first.properties).find((p) => branches.every((b) => isObject(b) && isObject(b.properties)
    && isObject((b.properties as Record<string, unknown>)[p]) && 'const' in ((b.properties as Record<string, Record<string, unknown>>)[p]!)));
}

function describe(s: Schema): string {
  if (!isObject(s)) return 'anything';
  if ('const' in s) return show(s.const);
  if (typeof s.type === 'string') return article(s.type);
  return 'a value of another shape';
}

function article(type: string): string {
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

export function errorAt(path: string, message: string): LintFinding {
  return { severity: 'error', path: path || '/', message };
}

export function warningAt(path: string, message: string): LintFinding {
  return { severity: 'warning', path: path || '/', message };
}
