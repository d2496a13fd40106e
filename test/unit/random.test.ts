import { expect } from 'chai';
import { IdBatch, newEventId, randomSpanId, randomTraceparent } from '../../core/random.js';
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

  it('random - a batch takes its spare, filled after the event loop turns, instead of filling in place; a burst past both fills in place; ids stay unique', async () => {
    let n = 0;
    // Each id is a counter (not random) so that a buffer handed out twice would show as a repeat.
    const batch = new IdBatch(1, 8, (_random, _r, text, t) => { text.write((n++).toString(16).padStart(8, '0'), t, 'latin1'); }, 4);
    const seen = new Set<string>();
    const take = (k: number) => { for (let i = 0; i < k; i++) seen.add(batch.next()); };
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    take(4);
    expect(batch.fillsInPlace, 'the first batch').to.equal(1);
    await turn();
    take(4);
    expect(batch.fillsInPlace, 'the spare, filled after the turn').to.equal(1);
    take(4);
    expect(batch.fillsInPlace, 'no turn since the spare was taken: filled in place').to.equal(2);
    await turn();
    take(8);
    expect(batch.fillsInPlace, 'one spare per turn').to.equal(3);
    expect(seen.size).to.equal(20);
  });
});
