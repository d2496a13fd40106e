import { expect } from 'chai';
import { Bus, DEFAULT_HEADER_LIMITS } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { markPublished, publishedUnder } from '../../core/inbound-envelope.js';
import {
  AttributeReader, checkInboundEnvelope, deadLetterable, inboundProblem, inboundRefusal, refuseInbound, sealedEnvelope, validateEnvelope, withValidTrace,
  HeaderInvalidError, type Envelope,
} from '../../core/index.js';

const base = (): Envelope => ({ specversion: '1.0', id: 'x', source: 's', type: 't' });
const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('inbound envelope', () => {
  it('inbound envelope - the reader refuses a repeat, bad percent-encoding and every limit, and stops reading after the first problem', () => {
    const codeOf = (fill: (r: AttributeReader) => void) => { const r = new AttributeReader(); fill(r); return r.problem?.code; };
    expect(codeOf((r) => { r.add('id', 'a', false); r.add('id', 'b', false); })).to.equal('SB_ERR_HEADER_INVALID');
    expect(codeOf((r) => { r.add('note', '100%', true); })).to.equal('SB_ERR_HEADER_INVALID');
    expect(codeOf((r) => { r.add('note', '100%', false); })).to.equal(undefined);
    expect(codeOf((r) => { r.add('big', 'x'.repeat(4097), false); })).to.equal('SB_ERR_HEADER_INVALID');
    expect(codeOf((r) => { for (let i = 0; i < 65; i++) r.add(`x${i}`, 'v', false); })).to.equal('SB_ERR_HEADER_INVALID');
    expect(codeOf((r) => { for (let i = 0; i < 5; i++) r.add(`x${i}`, 'v'.repeat(4000), false); })).to.equal('SB_ERR_HEADER_INVALID');
    const r = new AttributeReader();
    expect(r.add('a', '1', false)).to.equal(true);
    expect(r.add('a', '2', false)).to.equal(false);
    expect(r.add('b', '3', false), 'nothing is added after a problem').to.equal(false);
    expect(r.attributes).to.deep.equal({ a: '1' });
    const decoded = new AttributeReader();
    decoded.add('note', '%C3%BC%2050%25', true);
    expect(decoded.attributes).to.deep.equal({ note: 'ü 50%' });
  });

  it('inbound envelope - an envelope made sealed is trusted under its limits only, and its copies not at all', () => {
    const custom = { ...DEFAULT_HEADER_LIMITS, maxValueLength: 100 };
    for (const limits of [DEFAULT_HEADER_LIMITS, custom]) {
      const env = Object.assign(sealedEnvelope(limits), base(), { note: 'a\u0001b' }); // a binding seals only what passed: here it did not, to see the seal
      expect(inboundProblem(env as Envelope, limits), 'sealed: only the CloudEvents attributes are checked').to.equal(undefined);
      expect(inboundProblem({ ...env } as Envelope, limits)?.code, 'a copy is checked in full').to.equal('SB_ERR_HEADER_INVALID');
      expect(inboundProblem(env as Envelope, limits === custom ? DEFAULT_HEADER_LIMITS : custom)?.code, 'other limits: checked in full').to.equal('SB_ERR_HEADER_INVALID');
      expect(inboundProblem(Object.assign(sealedEnvelope(limits), { id: 'x' }) as Envelope, limits)?.code, 'the CloudEvents rules still hold').to.equal('SB_ERR_ENVELOPE_INVALID');
      // It reads, serialises and compares as the plain object it stands for.
      expect(env).to.deep.equal({ ...base(), note: 'a\u0001b' });
      expect(JSON.stringify(env)).to.equal(JSON.stringify({ ...base(), note: 'a\u0001b' }));
      expect(Object.keys(env)).to.deep.equal(['specversion', 'id', 'source', 'type', 'note']);
    }
  });

  it('inbound envelope - on the memory transport a reply is the responder Bus\'s own: trusted under the same limits, unless its type outgrew them', async () => {
    const broker = new MemoryBroker();
    const requester = new Bus({ service: 'req@t', transport: new MemoryTransport({ broker }), metrics: false });
    const responder = new Bus({ service: 'res@t', transport: new MemoryTransport({ broker }), metrics: false });
    await responder.subscribe('q.>', async (m) => m.data);
    const short = await requester.request('q.a', { n: 1 }, { type: 'q.ask' });
    expect(short.data).to.deep.equal({ n: 1 });
    expect(publishedUnder(short, DEFAULT_HEADER_LIMITS)).to.equal(true);
    expect(publishedUnder({ ...short }, DEFAULT_HEADER_LIMITS), 'a copy is not').to.equal(false);
    // A request type of 4096 characters is valid; its reply's type (".reply" added) is not, and is refused, not trusted.
    const err = await requester.request('q.b', { n: 2 }, { type: 't'.repeat(4096) }).then(() => undefined, (e: { code?: string }) => e.code);
    expect(err).to.equal('SB_ERR_HEADER_INVALID');
    await Promise.all([requester.stop(), responder.stop()]);
  });

  it('inbound envelope - a header named data is refused: the payload travels as the body, never as an attribute', () => {
    for (const percentEncoded of [true, false]) {
      const r = new AttributeReader();
      expect(r.add('data', '{"x":1}', percentEncoded)).to.equal(false);
      expect(r.problem).to.be.instanceOf(HeaderInvalidError);
      expect(r.problem?.details).to.deep.equal({ header: 'data' });
      expect(r.attributes).to.deep.equal({});
    }
    expect(new AttributeReader().add('data_base64', 'eA==', false), 'not an attribute name either').to.equal(false);
    expect(new AttributeReader().add('datax', 'v', false), 'only the reserved name').to.equal(true);
  });

  it('inbound envelope - a publish with a header named data is refused, so a header never becomes the data', async () => {
    const bus = new Bus({ service: 'data-header@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false });
    const seen: unknown[] = [];
    await bus.subscribe('d.h', async (m) => { seen.push(m.data); });
    for (const data of [undefined, { a: 1 }]) {
      const err = await bus.publish('d.h', data, { headers: { data: 'from a header' } }).then(() => undefined, (e: unknown) => e);
      expect(err, String(data)).to.be.instanceOf(HeaderInvalidError);
      expect((err as HeaderInvalidError).code).to.equal('SB_ERR_HEADER_INVALID');
    }
    await bus.publish('d.h', { a: 2 });
    await bus.stop();
    expect(seen).to.deep.equal([{ a: 2 }]);
  });

  it('inbound envelope - a binding\'s refusal travels with the envelope object, not with its copies', () => {
    const env = base();
    refuseInbound(env, new HeaderInvalidError('repeated'));
    expect(inboundRefusal(env)?.code).to.equal('SB_ERR_HEADER_INVALID');
    expect(inboundProblem(env)?.code).to.equal('SB_ERR_HEADER_INVALID');
    expect(inboundProblem({ ...env })).to.equal(undefined);
    expect(() => checkInboundEnvelope(env)).to.throw(HeaderInvalidError);
  });

  it('inbound envelope - finds what validateEnvelope finds, but a bad traceparent', () => {
    expect(inboundProblem({ ...base(), time: 'not a time' })?.code).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(inboundProblem({ ...base(), tenant: 'a\u0007' })?.code).to.equal('SB_ERR_HEADER_INVALID');
    expect(inboundProblem({ ...base(), traceparent: 'garbage' })).to.equal(undefined);
    expect(inboundProblem(base())).to.equal(undefined);
  });

  it('inbound envelope - a malformed, all-zero or version-ff traceparent starts a new trace and drops tracestate', () => {
    for (const bad of ['garbage', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']) {
      const env = { ...base(), traceparent: bad, tracestate: 'k=v' };
      const fixed = withValidTrace(env);
      expect(fixed, bad).to.not.equal(env);
      expect(() => validateEnvelope(fixed), bad).not.to.throw();
      expect(fixed.traceparent, bad).to.not.equal(bad);
      expect(fixed.tracestate, bad).to.equal(undefined);
      expect(env.traceparent, 'the delivered envelope is not changed').to.equal(bad);
      const inPlace: Envelope = { ...env };
      checkInboundEnvelope(inPlace);
      expect(inPlace.tracestate, bad).to.equal(undefined);
      expect(() => validateEnvelope(inPlace), bad).not.to.throw();
    }
    const good = { ...base(), traceparent: TRACE, tracestate: 'k=v' };
    expect(withValidTrace(good)).to.equal(good);
  });

  it('inbound envelope - what a Bus published is known by that very object only: a copy, a frozen envelope or other limits are checked again', () => {
    const env = base();
    markPublished(env, DEFAULT_HEADER_LIMITS);
    expect(publishedUnder(env, DEFAULT_HEADER_LIMITS)).to.equal(true);
    expect(publishedUnder({ ...env }, DEFAULT_HEADER_LIMITS), 'a spread copy').to.equal(false);
    expect(publishedUnder(env, { ...DEFAULT_HEADER_LIMITS }), 'other limits').to.equal(false);
    expect(Object.keys(env)).to.deep.equal(['specversion', 'id', 'source', 'type']);
    expect(JSON.stringify(env)).to.not.include('published');
    const frozen = Object.freeze(base());
    expect(() => markPublished(frozen, DEFAULT_HEADER_LIMITS)).not.to.throw();
    expect(publishedUnder(frozen, DEFAULT_HEADER_LIMITS)).to.equal(false);
  });

  it('inbound envelope - a Bus marks what it publishes only on a transport that passes the object through, not on one that encodes a copy', async () => {
    const broker = new MemoryBroker();
    const through = new Bus({ service: 'p@t', transport: new MemoryTransport({ broker }), metrics: false });
    const encoding = new MemoryTransport({ broker });
    (encoding.capabilities as { encodesData: boolean }).encodesData = true; // as NATS, MQTT, AMQP and HTTP declare
    const encoded = new Bus({ service: 'e@t', transport: encoding, metrics: false });
    try {
      const got: unknown[] = [];
      await encoded.subscribe('mark.encoded', (m) => { got.push(m.data); });
      expect(publishedUnder(await through.publish('mark.through', { a: 1 }, { type: 't' }), DEFAULT_HEADER_LIMITS)).to.equal(true);
      const sent = await encoded.publish('mark.encoded', { a: 2 }, { type: 't' });
      expect(publishedUnder(sent, DEFAULT_HEADER_LIMITS)).to.equal(false);
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(got, 'the encoded copy is decoded and checked like anything from outside, and delivered').to.deep.equal([{ a: 2 }]);
    } finally {
      await Promise.all([through.stop(), encoded.stop()]);
    }
  });

  it('inbound envelope - on the memory transport a peer that skips the Bus is still checked, and a frozen published envelope is delivered', async () => {
    const broker = new MemoryBroker();
    const bus = new Bus({ service: 'in@t', transport: new MemoryTransport({ broker }), metrics: false });
    const hostile = new MemoryTransport({ broker });
    try {
      const got: string[] = [];
      const dead: unknown[] = [];
      await bus.subscribe('mark.*', (m) => { got.push(m.id); });
      await bus.subscribe('dlq.mark.*', (m) => { dead.push(m.dlqreason); }, { raw: true });
      await bus.publishEnvelope('mark.a', Object.freeze({ ...base(), id: 'frozen' }));
      await hostile.publish('mark.b', { ...base(), id: 'hostile', tenant: 'a\u0007' });
      expect(got).to.deep.equal(['frozen']);
      expect(dead).to.deep.equal(['SB_ERR_HEADER_INVALID']);
    } finally {
      await bus.stop();
      await hostile.close();
    }
  });

  it('inbound envelope - a refused envelope is dead-lettered as one a consumer can read: data and the attributes that pass', () => {
    const data = new Uint8Array([1, 2]);
    const copy = deadLetterable({ specversion: '0.3', id: 'x', source: 'a\u0001', type: 't', time: 'not a time', traceparent: 'garbage', tenant: 'acme', big: 'x'.repeat(5000), data } as unknown as Envelope);
    expect(copy).to.deep.equal({ specversion: '1.0', id: 'x', source: 'urn:signalbus:inbound-refused', type: 't', tenant: 'acme', data });
    expect(() => validateEnvelope(copy)).not.to.throw();
  });
});
