import { expect } from 'chai';
import { newEventId, randomSpanId, randomTraceparent } from '../../core/random.js';
import { parseTraceparent } from '../../core/traceparent.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('random ids', () => {
  it('random - event ids are RFC 4122 version-4 UUIDs, unique across many refills of the batch', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = newEventId();
      expect(id).to.match(UUID_V4);
      seen.add(id);
    }
    expect(seen.size).to.equal(5000);
  });

  it('random - event id digits are spread evenly (no position stuck)', () => {
    // Over 2048 ids each free hex position takes every digit; a formatting slip would pin some.
    const digits = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 2048; i++) [...newEventId()].forEach((c, p) => digits[p]!.add(c));
    for (const p of [0, 7, 9, 15, 20, 35]) expect(digits[p]!.size, `position ${p}`).to.equal(16);
    expect([...digits[14]!]).to.deep.equal(['4']);
    expect([...digits[19]!].sort()).to.deep.equal(['8', '9', 'a', 'b']);
  });

  it('random - new traceparents are valid, sampled version-00 headers with distinct trace ids', () => {
    const traces = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const ctx = parseTraceparent(randomTraceparent());
      expect(ctx).to.include({ version: '00', flags: '01' });
      traces.add(ctx.traceId);
    }
    expect(traces.size).to.equal(2000);
  });

  it('random - span ids are 16 lowercase hex digits, never all zeros', () => {
    const spans = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const span = randomSpanId();
      expect(span).to.match(/^[0-9a-f]{16}$/).and.not.equal('0'.repeat(16));
      spans.add(span);
    }
    expect(spans.size).to.equal(2000);
  });
});
