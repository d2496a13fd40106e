import { expect } from 'chai';
import {
  AttributeReader, checkInboundEnvelope, deadLetterable, inboundProblem, inboundRefusal, refuseInbound, validateEnvelope, withValidTrace,
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

  it('inbound envelope - a refused envelope is dead-lettered as one a consumer can read: data and the attributes that pass', () => {
    const data = new Uint8Array([1, 2]);
    const copy = deadLetterable({ specversion: '0.3', id: 'x', source: 'a\u0001', type: 't', time: 'not a time', traceparent: 'garbage', tenant: 'acme', big: 'x'.repeat(5000), data } as unknown as Envelope);
    expect(copy).to.deep.equal({ specversion: '1.0', id: 'x', source: 'urn:signalbus:inbound-refused', type: 't', tenant: 'acme', data });
    expect(() => validateEnvelope(copy)).not.to.throw();
  });
});
