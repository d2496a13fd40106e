/**
 * Expected values in a test file: exact JSON values, objects matched as a subset (keys not named
 * are not checked), arrays element by element, and matcher objects whose keys all start with `$`:
 * `{"$gte": 80, "$lt": 90}`, `{"$regex": "^overheat"}`, `{"$exists": true}`, `{"$ne": 0}`.
 *
 * @example matchValue({ value: { $gte: 80 }, rule: 'overheat' }, { value: 85, rule: 'overheat', key: 'd1' }) // []
 */

/** One place where the actual value differs from the expected one. */
export interface Mismatch {
  /** JSON path in the compared value (`/value`, `/window/start`); '' for the whole. */
  path: string;
  expected: string;
  got: string;
}

const OPERATORS = ['$gt', '$gte', '$lt', '$lte', '$regex', '$exists', '$ne'] as const;
type Operator = typeof OPERATORS[number];
const NUMERIC: readonly Operator[] = ['$gt', '$gte', '$lt', '$lte'];

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An object whose keys all start with `$` is a matcher, not data to compare with. */
export function isMatcher(v: unknown): v is Partial<Record<Operator, unknown>> {
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

/** The problem with an expected value, if any (unknown operator, bad operand, bad regex), with its path. */
export function checkMatcherSpec(spec: unknown, path = ''): { path: string; message: string } | undefined {
  if (Array.isArray(spec)) {
    for (const [i, v] of spec.entries()) { const p = checkMatcherSpec(v, `${path}/${i}`); if (p) return p; }
    return undefined;
  }
  if (!isObject(spec)) return undefined;
  if (!isMatcher(spec)) {
    for (const [k, v] of Object.entries(spec)) {
      if (k.startsWith('$')) return { path: `${path}/${k}`, message: `"${k}" mixes a matcher with data keys; put matchers in their own object` };
      const p = checkMatcherSpec(v, `${path}/${k}`); if (p) return p;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(spec)) {
    const at = `${path}/${k}`;
    if (!(OPERATORS as readonly string[]).includes(k)) return { path: at, message: `unknown matcher "${k}" (known: ${OPERATORS.join(' ')})` };
    if (NUMERIC.includes(k as Operator) && (typeof v !== 'number' || !Number.isFinite(v))) return { path: at, message: `${k} takes a number` };
    if (k === '$exists' && typeof v !== 'boolean') return { path: at, message: '$exists takes true or false' };
    if (k === '$regex') {
      if (typeof v !== 'string') return { path: at, message: '$regex takes a string' };
      try { regexOf(v); } catch (err) { return { path: at, message: `$regex: ${(err as Error).message}` }; }
    }
  }
  return undefined;
}

const regexes = new Map<string, RegExp>();

/**
 * True when a group holding an unbounded quantifier (`*`, `+`, `{n,}`) is itself repeated: the
 * shape behind catastrophic backtracking (`(a+)+$`, `(\\w*)*`). JavaScript cannot stop a regex
 * once it runs, so a test file's pattern is refused up front rather than hanging the run.
 */
export function nestedQuantifier(source: string): boolean {
  const groups: boolean[] = [];
  let inClass = false;
  let lastGroupRepeats = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') { i++; lastGroupRepeats = false; continue; }
    if (inClass) { if (c === ']') inClass = false; continue; }
    const unbounded = c === '*' || c === '+' || (c === '{' && /^\{\d+,\}/.test(source.slice(i)));
    if (unbounded) {
      if (lastGroupRepeats) return true;
      if (groups.length > 0) groups[groups.length - 1] = true;
    }
    lastGroupRepeats = false;
    if (c === '[') inClass = true;
    else if (c === '(') groups.push(false);
    else if (c === ')') {
      const repeats = groups.pop() ?? false;
      lastGroupRepeats = repeats;
      if (repeats && groups.length > 0) groups[groups.length - 1] = true;
    }
  }
  return false;
}
function regexOf(source: string): RegExp {
  let r = regexes.get(source);
  if (!r) {
    if (nestedQuantifier(source)) throw new Error(`/${source}/ repeats a group that repeats itself (as in (a+)+), which can backtrack for ever on a near miss; write it without the nesting`);
    r = new RegExp(source, 'u');
    regexes.set(source, r);
  }
  return r;
}

/** Short JSON of a value for a diff line (`undefined` for a missing one). */
export function show(v: unknown, max = 120): string {
  if (v === undefined) return 'undefined';
  if (v instanceof Uint8Array) return `<${v.byteLength} bytes>`;
  let s: string;
  try { s = JSON.stringify(v) ?? String(v); } catch { s = String(v); }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** What a matcher means, for a diff line: `>= 80 and < 90`, `matches /^a/`, `exists`. */
export function describeMatcher(m: Partial<Record<Operator, unknown>>): string {
  const words: Record<Operator, (v: unknown) => string> = {
    $gt: (v) => `> ${v}`, $gte: (v) => `>= ${v}`, $lt: (v) => `< ${v}`, $lte: (v) => `<= ${v}`,
    $regex: (v) => `matches /${v as string}/`, $exists: (v) => (v ? 'exists' : 'absent'), $ne: (v) => `not ${show(v)}`,
  };
  return Object.entries(m).map(([k, v]) => words[k as Operator](v)).join(' and ');
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function matcherHolds(m: Partial<Record<Operator, unknown>>, actual: unknown): boolean {
  for (const [k, v] of Object.entries(m)) {
    switch (k as Operator) {
      case '$exists': if ((actual !== undefined) !== v) return false; break;
      case '$ne': if (deepEqual(v, actual)) return false; break;
      case '$regex': if (typeof actual !== 'string' || !regexOf(v as string).test(actual)) return false; break;
      case '$gt': if (typeof actual !== 'number' || !(actual > (v as number))) return false; break;
      case '$gte': if (typeof actual !== 'number' || !(actual >= (v as number))) return false; break;
      case '$lt': if (typeof actual !== 'number' || !(actual < (v as number))) return false; break;
      case '$lte': if (typeof actual !== 'number' || !(actual <= (v as number))) return false; break;
    }
  }
  return true;
}

/** Every place `actual` differs from `expected` (empty: it matches). */
export function matchValue(expected: unknown, actual: unknown, path = '', out: Mismatch[] = []): Mismatch[] {
  if (isMatcher(expected)) {
    if (!matcherHolds(expected, actual)) out.push({ path, expected: describeMatcher(expected), got: show(actual) });
    return out;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      out.push({ path, expected: show(expected), got: show(actual) });
      return out;
    }
    expected.forEach((v, i) => matchValue(v, actual[i], `${path}/${i}`, out));
    return out;
  }
  if (isObject(expected)) {
    if (!isObject(actual)) { out.push({ path, expected: show(expected), got: show(actual) }); return out; }
    for (const [k, v] of Object.entries(expected)) matchValue(v, Object.hasOwn(actual, k) ? actual[k] : undefined, `${path}/${k}`, out);
    return out;
  }
  if (expected !== actual) out.push({ path, expected: show(expected), got: show(actual) });
  return out;
}
