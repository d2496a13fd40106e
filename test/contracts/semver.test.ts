import { expect } from 'chai';
import fc from 'fast-check';
import { compareVersions, formatVersion, maxSatisfying, parseRange, parseVersion, satisfies, type SemVer } from '../../contracts/semver.js';

const small = fc.integer({ min: 0, max: 12 });
const release = fc.record({ major: small, minor: small, patch: small }).map((v): SemVer => ({ ...v, prerelease: [] }));
const text = (v: { major: number; minor: number; patch: number }) => `${v.major}.${v.minor}.${v.patch}`;
const lt = (a: SemVer, b: SemVer) => compareVersions(a, b) < 0;

describe('contracts semver', () => {
  it('semver - ranges match as npm reads them', () => {
    const table: Array<[string, string, boolean]> = [
      ['^1', '1.9.3', true], ['^1', '2.0.0', false], ['^1', '0.9.0', false], ['^1.2', '1.1.9', false], ['^1.2.3', '1.2.3', true],
      ['^0.2.3', '0.2.9', true], ['^0.2.3', '0.3.0', false], ['^0.0.3', '0.0.4', false],
      ['~1.2', '1.2.9', true], ['~1.2', '1.3.0', false], ['~1', '1.9.0', true], ['~1.2.3', '1.2.2', false],
      ['>=1.0.0 <2.0.0', '1.5.0', true], ['>=1.0.0 <2.0.0', '2.0.0', false], ['>= 1.0.0 < 2.0.0', '1.0.0', true],
      ['1.x', '1.4.0', true], ['1.x', '2.0.0', false], ['1.2.x', '1.2.7', true], ['1.2.x', '1.3.0', false], ['*', '9.9.9', true], ['', '0.0.1', true],
      ['1.2.3', '1.2.3', true], ['1.2.3', '1.2.4', false], ['=2.0.0', '2.0.0', true],
      ['<=1.2', '1.2.9', true], ['<=1.2', '1.3.0', false], ['>1', '2.0.0', true], ['>1', '1.9.9', false], ['>1.2.3', '1.2.4', true],
      ['^1 || ^3', '3.1.0', true], ['^1 || ^3', '2.1.0', false], ['1.0.0 - 1.4', '1.4.9', true], ['1.0.0 - 1.4', '1.5.0', false],
      ['^2', '2.0.0-rc.1', false], ['>=2.0.0-rc.1 <3', '2.0.0-rc.2', true], ['>=2.0.0-rc.1 <3', '2.1.0-rc.1', false],
    ];
    for (const [range, version, expected] of table) expect(satisfies(version, range), `${version} in ${range}`).to.equal(expected);
  });

  it('semver - bad ranges are OptionsInvalidError naming the accept field', () => {
    for (const bad of ['^a', '1.2.3.4', '>=', '^1 ||', 'x.1.y.z.w']) {
      expect(() => parseRange(bad), bad).to.throw().with.property('code', 'SB_ERR_OPTIONS_INVALID');
    }
  });

  it('semver - format and parse round-trip', () => {
    fc.assert(fc.property(release, fc.array(fc.oneof(fc.nat(99), fc.constantFrom('rc', 'beta', 'alpha')), { maxLength: 3 }), (v, pre) => {
      const withPre = { ...v, prerelease: pre };
      expect(parseVersion(formatVersion(withPre))).to.deep.equal(withPre);
    }));
  });

  it('semver - comparison is a total order', () => {
    fc.assert(fc.property(release, release, release, (a, b, c) => {
      expect(Math.sign(compareVersions(a, b))).to.equal(-Math.sign(compareVersions(b, a)));
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) expect(compareVersions(a, c)).to.be.at.most(0);
    }));
  });

  it('semver - caret, tilde, x and hyphen ranges equal their comparator forms', () => {
    fc.assert(fc.property(release, release, (base, v) => {
      const next = (m: number, n: number, p: number): SemVer => ({ major: m, minor: n, patch: p, prerelease: [] });
      const inHalfOpen = (lo: SemVer, hi: SemVer) => !lt(v, lo) && lt(v, hi);
      const caretUpper = base.major > 0 ? next(base.major + 1, 0, 0) : base.minor > 0 ? next(0, base.minor + 1, 0) : next(0, 0, base.patch + 1);
      expect(satisfies(v, `^${text(base)}`)).to.equal(inHalfOpen(base, caretUpper));
      expect(satisfies(v, `~${text(base)}`)).to.equal(inHalfOpen(base, next(base.major, base.minor + 1, 0)));
      expect(satisfies(v, `${base.major}.x`)).to.equal(v.major === base.major);
      expect(satisfies(v, `${base.major}.${base.minor}.x`)).to.equal(v.major === base.major && v.minor === base.minor);
      expect(satisfies(v, `>=${text(base)} <${base.major + 1}.0.0`)).to.equal(inHalfOpen(base, next(base.major + 1, 0, 0)));
      expect(satisfies(v, text(base))).to.equal(compareVersions(v, base) === 0);
      expect(satisfies(v, `^${base.major} || ~${text(base)}`)).to.equal(satisfies(v, `^${base.major}`) || satisfies(v, `~${text(base)}`));
    }), { numRuns: 500 });
  });

  it('semver - maxSatisfying picks the highest version in range', () => {
    fc.assert(fc.property(fc.array(release, { minLength: 1, maxLength: 8 }), small, (versions, major) => {
      const texts = versions.map(text);
      const best = maxSatisfying(texts, `^${major}`);
      const inRange = texts.filter((t) => satisfies(t, `^${major}`));
      if (inRange.length === 0) expect(best).to.equal(undefined);
      else for (const t of inRange) expect(compareVersions(best!, t)).to.be.at.least(0);
    }));
  });
});
