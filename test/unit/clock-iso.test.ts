import { expect } from 'chai';
import fc from 'fast-check';
import { isoOf, nowIso } from '../../core/clock.js';

describe('core/clock isoOf', () => {
  it('writes what Date#toISOString writes, for any whole millisecond in range', () => {
    fc.assert(fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
      expect(isoOf(ms)).to.equal(new Date(ms).toISOString());
    }), { numRuns: 5000 });
  });

  it('is right across second, minute, day and year boundaries, forwards and backwards', () => {
    const points = [0, 999, 1000, 59_999, 60_000, 86_399_999, 86_400_000, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1),
      -1, -999, -1000, -1001, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), Date.UTC(-1, 0, 1)];
    for (const ms of [...points, ...[...points].reverse()]) expect(isoOf(ms), String(ms)).to.equal(new Date(ms).toISOString());
  });

  it('nowIso is the current time', () => {
    const before = Date.now();
    const t = Date.parse(nowIso());
    expect(t).to.be.within(before, Date.now());
  });
});
