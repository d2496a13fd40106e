/**
 * Semantic versions and npm-style ranges, small enough to read: contracts need `^1`, `~1.2`,
 * `>=1.0.0 <2.0.0`, `1.x`, exact versions and `||` unions, nothing more. (No dependency: the
 * hot path only ever sees ranges parsed once and cached.)
 */
import { OptionsInvalidError } from '../core/errors.js';

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers (`1.0.0-rc.1` → ['rc', 1]); empty for a release. */
  prerelease: Array<string | number>;
}

const VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-.]+)?$/;

/**
 * Parses `MAJOR.MINOR.PATCH[-pre][+build]`; undefined when it is not one.
 * @example parseVersion('2.0.0')?.major // 2
 */
export function parseVersion(text: string): SemVer | undefined {
  const m = VERSION.exec(text.trim());
  if (!m) return undefined;
  const prerelease = m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [];
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease };
}

/** True when `text` is a valid semantic version. @example isVersion('1.0') // false */
export function isVersion(text: string): boolean {
  return parseVersion(text) !== undefined;
}

/** Parses a version or throws OptionsInvalidError naming it. */
export function requireVersion(text: string, what = 'version'): SemVer {
  const v = parseVersion(text);
  if (!v) throw new OptionsInvalidError(`${what} "${text}" is not a semantic version (MAJOR.MINOR.PATCH)`, { details: { field: what, value: text } });
  return v;
}

export function formatVersion(v: SemVer): string {
  return `${v.major}.${v.minor}.${v.patch}${v.prerelease.length ? `-${v.prerelease.join('.')}` : ''}`;
}

/**
 * Orders versions by semver precedence (build metadata ignored): negative, 0 or positive.
 * @example ['2.0.0', '1.10.0', '1.2.0'].sort((a, b) => compareVersions(a, b)) // 1.2.0, 1.10.0, 2.0.0
 */
export function compareVersions(a: string | SemVer, b: string | SemVer): number {
  const x = typeof a === 'string' ? requireVersion(a) : a;
  const y = typeof b === 'string' ? requireVersion(b) : b;
  if (x.major !== y.major) return x.major - y.major;
  if (x.minor !== y.minor) return x.minor - y.minor;
  if (x.patch !== y.patch) return x.patch - y.patch;
  const pa = x.prerelease, pb = y.prerelease;
  if (pa.length === 0 || pb.length === 0) return pb.length - pa.length; // a release ranks above its pre-releases
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (i >= pa.length) return -1;
    if (i >= pb.length) return 1;
    const p = pa[i]!, q = pb[i]!;
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    if (typeof p === 'number') return -1;
    if (typeof q === 'number') return 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

type Operator = '<' | '<=' | '>' | '>=' | '=';
interface Comparator { op: Operator; version: SemVer }
/** A parsed range: a union (`||`) of intersections of comparators. */
export interface SemVerRange {
  readonly text: string;
  readonly sets: Comparator[][];
}

/** A version with missing parts (`1`, `1.2`, `1.x`, `*`). */
interface PartialVersion { major?: number; minor?: number; patch?: number; prerelease: Array<string | number> }

const PARTIAL = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-.]+)?$/;

function parsePartial(text: string, range: string): PartialVersion {
  const m = PARTIAL.exec(text);
  if (!m) throw rangeError(range, `"${text}" is not a version`);
  const num = (s: string | undefined) => (s === undefined || /^[xX*]$/.test(s) ? undefined : Number(s));
  const major = num(m[1]), minor = major === undefined ? undefined : num(m[2]);
  const patch = minor === undefined ? undefined : num(m[3]);
  const prerelease = patch !== undefined && m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [];
  return { major, minor, patch, prerelease };
}

const v = (major: number, minor: number, patch: number, prerelease: Array<string | number> = []): SemVer => ({ major, minor, patch, prerelease });
const lowest = v(0, 0, 0);

function rangeError(range: string, why: string): OptionsInvalidError {
  return new OptionsInvalidError(`semver range "${range}" is invalid: ${why}`, { details: { field: 'accept', value: range } });
}

/** Desugars one term (`^1.2`, `~1`, `>=1.0.0`, `1.x`, `1.2.3`) into comparators. */
function termComparators(term: string, range: string): Comparator[] {
  const m = /^(\^|~|>=|<=|>|<|=)?\s*(.+)$/.exec(term);
  if (!m) throw rangeError(range, `cannot read "${term}"`);
  const op = m[1] ?? '';
  const p = parsePartial(m[2]!, range);
  const { major, minor, patch } = p;
  if (major === undefined) {
    // `*`, `x`, `>=*`: anything; `<*` and `>*` match nothing.
    return op === '<' || op === '>' ? [{ op: '<', version: lowest }] : [];
  }
  const floor = v(major, minor ?? 0, patch ?? 0, p.prerelease);
  switch (op) {
    case '^': {
      const upper = major > 0 || minor === undefined ? v(major + 1, 0, 0)
        : minor > 0 || patch === undefined ? v(0, minor + 1, 0) : v(0, 0, patch + 1);
      return [{ op: '>=', version: floor }, { op: '<', version: upper }];
    }
    case '~': {
      const upper = minor === undefined ? v(major + 1, 0, 0) : v(major, minor + 1, 0);
      return [{ op: '>=', version: floor }, { op: '<', version: upper }];
    }
    case '>': {
      if (patch !== undefined) return [{ op: '>', version: floor }];
      return [{ op: '>=', version: minor === undefined ? v(major + 1, 0, 0) : v(major, minor + 1, 0) }];
    }
    case '>=': return [{ op: '>=', version: floor }];
    case '<': return [{ op: '<', version: floor }];
    case '<=': {
      if (patch !== undefined) return [{ op: '<=', version: floor }];
      return [{ op: '<', version: minor === undefined ? v(major + 1, 0, 0) : v(major, minor + 1, 0) }];
    }
    default: {
      if (patch !== undefined) return [{ op: '=', version: floor }];
      const upper = minor === undefined ? v(major + 1, 0, 0) : v(major, minor + 1, 0);
      return [{ op: '>=', version: floor }, { op: '<', version: upper }];
    }
  }
}

/**
 * Parses an npm-style range: `^1`, `~1.2`, `>=1.0.0 <2.0.0`, `1.x`, `1.2.3`, `1.0.0 - 1.4.0`,
 * `*`, unions with `||`. Throws OptionsInvalidError (field `accept`) when it cannot.
 * @example satisfies('1.4.2', parseRange('^1.2')) // true
 */
export function parseRange(text: string): SemVerRange {
  const trimmed = text.trim();
  if (trimmed === '') return { text, sets: [[]] };
  const sets = trimmed.split('||').map((alt) => {
    const part = alt.trim();
    if (part === '') throw rangeError(text, 'an empty alternative around "||"');
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(part);
    if (hyphen) {
      // `1.0.0 - 1.4` reads as >=1.0.0 <1.5.0, which is what `<=1.4` desugars to.
      return [...termComparators(`>=${hyphen[1]}`, text), ...termComparators(`<=${hyphen[2]}`, text)];
    }
    // Allow `>= 1.0.0` (space after the operator) by gluing operators to their operand.
    const terms = part.replace(/(\^|~|>=|<=|>|<|=)\s+/g, '$1').split(/\s+/);
    return terms.flatMap((t) => termComparators(t, text));
  });
  return { text, sets };
}

function test(c: Comparator, x: SemVer): boolean {
  const d = compareVersions(x, c.version);
  switch (c.op) {
    case '<': return d < 0;
    case '<=': return d <= 0;
    case '>': return d > 0;
    case '>=': return d >= 0;
    default: return d === 0;
  }
}

/**
 * True when `version` lies in `range`. As in npm, a pre-release only matches when a comparator
 * of the same set names a pre-release of the same MAJOR.MINOR.PATCH.
 * @example satisfies('2.1.0', '>=1.0.0 <2.0.0') // false
 */
export function satisfies(version: string | SemVer, range: string | SemVerRange): boolean {
  const x = typeof version === 'string' ? parseVersion(version) : version;
  if (!x) return false;
  const r = typeof range === 'string' ? parseRange(range) : range;
  return r.sets.some((set) => {
    if (!set.every((c) => test(c, x))) return false;
    if (x.prerelease.length === 0) return true;
    return set.some((c) => c.version.prerelease.length > 0 && c.version.major === x.major && c.version.minor === x.minor && c.version.patch === x.patch);
  });
}

/**
 * The highest of `versions` inside `range`, or undefined.
 * @example maxSatisfying(['1.0.0', '1.3.0', '2.0.0'], '^1') // '1.3.0'
 */
export function maxSatisfying(versions: readonly string[], range: string | SemVerRange): string | undefined {
  const r = typeof range === 'string' ? parseRange(range) : range;
  let best: string | undefined;
  for (const ver of versions) if (satisfies(ver, r) && (best === undefined || compareVersions(ver, best) > 0)) best = ver;
  return best;
}
