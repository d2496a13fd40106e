import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { DEFAULT_HEADER_LIMITS, inboundProblem, inboundRefusal, publishedUnder, withValidTrace } from '../../core/index.js';
import { fromNatsHeaderText, fromNatsHeaderTextByReader, HeaderShapes, toNatsHeaders } from '../../transports/nats/binding.js';

const body = Buffer.from('{"t":21.5}');

/**
 * Each block's time, a millisecond after the last: a few blocks made within one millisecond would
 * share their time, the pattern would hold it as a literal, and whether the next block matched
 * would depend on the clock.
 */
let clock = Date.now();

/** A block as a signalbus publisher writes it: a fresh id, time and traceparent every time, correlationid = id on a new trace. */
function publisherBlock(source: string, extra: Record<string, string> = {}): string {
  const id = randomUUID();
  return toNatsHeaders({
    specversion: '1.0', id, source, type: 'sensor.reading', time: new Date(clock++).toISOString(),
    traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`, correlationid: id, ...extra, datacontenttype: 'application/json',
  }, false);
}

describe('nats - header shapes (the pattern a subscription learns from its publishers\' blocks)', () => {
  it('nats - a publisher\'s blocks are read by one pattern, compiled from the second block, each envelope the general reader\'s', () => {
    const shapes = new HeaderShapes();
    for (let i = 0; i < 500; i++) {
      const text = publisherBlock('/signalbus/sensors/a');
      const fast = fromNatsHeaderText('a.b', text, body, undefined, shapes);
      const full = fromNatsHeaderTextByReader('a.b', text, body);
      expect(fast.envelope).to.deep.equal(full.envelope);
      expect(Object.keys(fast.envelope)).to.deep.equal(Object.keys(full.envelope));
      expect(inboundProblem(fast.envelope)).to.equal(undefined);
    }
    // Compiled once, at the second block.
    expect(shapes.compiled).to.equal(1);
  });

  it('nats - two publishers with different sources widen one pattern; a third shape gets its own', () => {
    const shapes = new HeaderShapes();
    for (let i = 0; i < 300; i++) {
      const text = i % 3 === 2 ? publisherBlock('/signalbus/c', { tenant: 'acme' }) : publisherBlock(i % 3 === 0 ? '/signalbus/a' : '/signalbus/b');
      expect(fromNatsHeaderText('a.b', text, body, undefined, shapes).envelope).to.deep.equal(fromNatsHeaderTextByReader('a.b', text, body).envelope);
    }
    expect(shapes.compiled).to.be.within(2, 6);
  });

  it('nats - a stream of ever new shapes compiles within its credit: 64, then one per 1,000 blocks', () => {
    const shapes = new HeaderShapes();
    const blocks = 20_000;
    for (let i = 0; i < blocks; i++) {
      // Each shape is sent twice in a row, which is what makes a shape worth compiling.
      const text = publisherBlock('/hostile', { [`x${Math.floor(i / 2)}`]: 'v' });
      fromNatsHeaderText('a.b', text, body, undefined, shapes);
    }
    expect(shapes.compiled).to.be.at.most(64 + blocks / 1000);
    expect(shapes.compiled).to.be.at.least(64); // the credit was used: the test would pass for a reader that never compiles otherwise
  });

  it('nats - a block that breaks the pattern (odd line end, % in a value, a missing line) is read by the general reader', () => {
    const shapes = new HeaderShapes();
    for (let i = 0; i < 3; i++) fromNatsHeaderText('a.b', publisherBlock('/s'), body, undefined, shapes);
    const good = publisherBlock('/s');
    for (const text of [good.replace('\r\nce-type', '\nce-type'), good.replace('/s\r\n', '/%41\r\n'), good.replace(/ce-time: [^\r]*\r\n/, ''), good.replace('ce-id: ', 'ce-id:  ')]) {
      const fast = fromNatsHeaderText('a.b', text, body, undefined, shapes);
      const full = fromNatsHeaderTextByReader('a.b', text, body);
      expect(fast.notCloudEvent?.code).to.equal(full.notCloudEvent?.code);
      const madeUp = fast.notCloudEvent !== undefined; // the envelope around the payload gets a new id and time each time
      expect({ ...fast.envelope, ...(madeUp ? { id: '', time: '' } : {}) }).to.deep.equal({ ...full.envelope, ...(madeUp ? { id: '', time: '' } : {}) });
      expect(inboundRefusal(fast.envelope)?.code).to.equal(inboundRefusal(full.envelope)?.code);
      expect(inboundProblem(fast.envelope)?.code).to.equal(inboundProblem(full.envelope)?.code);
    }
  });

  it('nats - an envelope read by a pattern that checks time and traceparent is marked as needing no further check, and only then', () => {
    const shapes = new HeaderShapes();
    for (let i = 0; i < 3; i++) fromNatsHeaderText('a.b', publisherBlock('/s'), body, undefined, shapes);
    const good = fromNatsHeaderText('a.b', publisherBlock('/s'), body, undefined, shapes);
    expect(publishedUnder(good.envelope, DEFAULT_HEADER_LIMITS), 'a publisher\'s block').to.equal(true);
    const time = /ce-time: [^\r]*/;
    const traceparent = /ce-traceparent: [^\r]*/;
    const odd = [
      ['ce-time: 2026-13-05T21:28:23Z', time], // no date: refused
      ['ce-time: 2026-12-05T21:28:23+0100', time], // Date.parse reads it, the pattern does not
      [`ce-traceparent: 00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, traceparent], // all-zero trace id: a new trace
      ['ce-traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', traceparent],
      ['ce-traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', traceparent],
      ['ce-traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later', traceparent], // a later version W3C continues
    ] as const;
    for (const [line, replaced] of odd) {
      const text = publisherBlock('/s').replace(replaced, line);
      const read = fromNatsHeaderText('a.b', text, body, undefined, shapes);
      expect(read.envelope, line).to.deep.equal(fromNatsHeaderTextByReader('a.b', text, body).envelope);
      expect(publishedUnder(read.envelope, DEFAULT_HEADER_LIMITS), line).to.equal(false);
      fromNatsHeaderText('a.b', publisherBlock('/s'), body, undefined, shapes); // back to the publisher's shape
    }
    // A literal that would not pass is no checked shape: the same odd time in every block.
    const stuck = new HeaderShapes();
    for (let i = 0; i < 4; i++) {
      const read = fromNatsHeaderText('a.b', publisherBlock('/s').replace(time, 'ce-time: 2026-12-05T21:28:23+0100'), body, undefined, stuck);
      expect(publishedUnder(read.envelope, DEFAULT_HEADER_LIMITS)).to.equal(false);
      expect(inboundProblem(read.envelope)).to.equal(undefined);
      expect(withValidTrace(read.envelope)).to.equal(read.envelope);
    }
  });
});
