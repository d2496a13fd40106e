import { expect } from 'chai';
import { checkMatcherSpec, matchValue, nestedQuantifier } from '../../cli/pipeline-test/matchers.js';

describe('pipeline test matchers', () => {
  it('pipeline test - exact values match, objects as a subset, arrays element by element', () => {
    expect(matchValue({ rule: 'overheat', window: { start: 5 } }, { rule: 'overheat', key: 'd1', window: { start: 5, end: 10 } })).to.deep.equal([]);
    expect(matchValue([1, { a: 2 }], [1, { a: 2, b: 3 }])).to.deep.equal([]);
    expect(matchValue({ rule: 'overheat' }, { rule: 'underheat' })).to.deep.equal([{ path: '/rule', expected: '"overheat"', got: '"underheat"' }]);
    expect(matchValue({ window: { start: 5 } }, { window: { start: 6 } })[0]!.path).to.equal('/window/start');
    expect(matchValue([1, 2], [1, 2, 3])).to.have.length(1);
    expect(matchValue({ a: 1 }, 'text')).to.have.length(1);
    expect(matchValue({ missing: 1 }, {})).to.deep.equal([{ path: '/missing', expected: '1', got: 'undefined' }]);
    // A number is not its string.
    expect(matchValue({ v: 1 }, { v: '1' })).to.have.length(1);
  });

  it('pipeline test - number ranges, regex, exists and ne', () => {
    expect(matchValue({ v: { $gte: 80, $lt: 90 } }, { v: 85 })).to.deep.equal([]);
    expect(matchValue({ v: { $gte: 80, $lt: 90 } }, { v: 90 })).to.deep.equal([{ path: '/v', expected: '>= 80 and < 90', got: '90' }]);
    expect(matchValue({ v: { $gt: 1 } }, { v: '5' })).to.have.length(1);
    expect(matchValue({ m: { $regex: '^temp' } }, { m: 'temperature' })).to.deep.equal([]);
    expect(matchValue({ m: { $regex: '^temp' } }, { m: 'humidity' })[0]!.expected).to.equal('matches /^temp/');
    expect(matchValue({ late: { $exists: true } }, { late: 0 })).to.deep.equal([]);
    expect(matchValue({ late: { $exists: true } }, {})).to.have.length(1);
    expect(matchValue({ late: { $exists: false } }, {})).to.deep.equal([]);
    expect(matchValue({ v: { $ne: { a: 1 } } }, { v: { a: 1 } })).to.have.length(1);
    expect(matchValue({ v: { $ne: 0 } }, { v: 1 })).to.deep.equal([]);
  });

  it('pipeline test - a bad matcher is found before the run, with its path', () => {
    expect(checkMatcherSpec({ v: { $gte: 1 }, list: [{ m: { $regex: 'a' } }] })).to.equal(undefined);
    expect(checkMatcherSpec({ v: { $between: [1, 2] } })).to.deep.include({ path: '/v/$between' });
    expect(checkMatcherSpec({ v: { $gte: 'high' } })).to.deep.include({ path: '/v/$gte' });
    expect(checkMatcherSpec({ list: [0, { m: { $regex: '(' } }] })).to.deep.include({ path: '/list/1/m/$regex' });
    expect(checkMatcherSpec({ v: { $exists: 1 } })).to.deep.include({ path: '/v/$exists' });
    expect(checkMatcherSpec({ v: { $gte: 1, plain: 2 } })?.message).to.match(/mixes a matcher/);
  });

  it('pipeline test - a $regex that repeats a repeating group ((a+)+$) is refused before the run instead of hanging it on a near miss', () => {
    for (const p of ['(a+)+$', '(\\w*)*', '((a)+)+', '(a{2,})*']) expect(nestedQuantifier(p), p).to.equal(true);
    for (const p of ['^overheat', '(a|b)+', '(a{2})*', '[(a+)]+', '(x+)?', 'a+b*', '(\\d+\\.){3}\\d+']) expect(nestedQuantifier(p), p).to.equal(false);
    const problem = checkMatcherSpec({ temperature: { $regex: '(a+)+$' } }, '/cases/0/expect/0/data');
    expect(problem?.path).to.equal('/cases/0/expect/0/data/temperature/$regex');
    expect(problem?.message).to.match(/repeats a group that repeats itself/);
  });
});
