import { expect } from 'chai';
import fc from 'fast-check';
import {
  checkTraceparent, childTraceparent, createEnvelope, EnvelopeInvalidError, HeaderInvalidError, newTraceparent, parseTraceparent,
  formatTraceparent, perAttributeName, TraceparentInvalidError, validateEnvelope, validateHeader, VERSION_00_TRACEPARENT_PATTERN,
} from '../../core/index.js';

describe('envelope and headers', () => {
  it('headers - perAttributeName builds a name once, and past its bound still gives the right name every call', () => {
    let made = 0;
    const ce = perAttributeName((a) => { made++; return `ce-${a}`; }, 2);
    expect([ce('id'), ce('id'), ce('type'), ce('type')]).to.deep.equal(['ce-id', 'ce-id', 'ce-type', 'ce-type']);
    expect(made).to.equal(2);
    expect([ce('x1'), ce('x1')]).to.deep.equal(['ce-x1', 'ce-x1']);
    expect(made, 'over the bound: made again, not kept').to.equal(4);
  });

  it('envelope - fills id, time and content type by default', () => {
    const e = createEnvelope({ type: 't', source: '/s', data: { a: 1 } });
    expect(e.specversion).to.equal('1.0');
    expect(e.id).to.match(/^[0-9a-f-]{36}$/);
    expect(Date.parse(e.time!)).to.be.a('number');
    expect(e.datacontenttype).to.equal('application/json');
    expect(() => validateEnvelope(e)).not.to.throw();
  });

  it('envelope - rejects missing required attributes and wrong specversion with typed errors', () => {
    expect(() => validateEnvelope({ specversion: '0.3', id: 'x', source: 's', type: 't' })).to.throw(EnvelopeInvalidError);
    for (const missing of ['id', 'source', 'type']) {
      const e: Record<string, unknown> = { specversion: '1.0', id: 'x', source: 's', type: 't' };
      delete e[missing];
      expect(() => validateEnvelope(e), missing).to.throw(EnvelopeInvalidError);
    }
    expect(() => validateEnvelope(null)).to.throw(EnvelopeInvalidError);
    expect(() => validateEnvelope({ specversion: '1.0', id: 'x', source: 's', type: 't', time: 'yesterday' })).to.throw(EnvelopeInvalidError);
  });

  it('headers - reject CR/LF, control characters, bad names, non-strings and oversized values', () => {
    expect(() => validateHeader('tenant', 'a\r\nx-evil: 1')).to.throw(HeaderInvalidError);
    expect(() => validateHeader('tenant', 'a\u0000')).to.throw(HeaderInvalidError);
    expect(() => validateHeader('Tenant', 'a')).to.throw(HeaderInvalidError);
    expect(() => validateHeader('my-ext', 'a')).to.throw(HeaderInvalidError);
    expect(() => validateHeader('x'.repeat(21), 'a')).to.throw(HeaderInvalidError);
    expect(() => validateHeader('count', 3)).to.throw(HeaderInvalidError);
    expect(() => validateHeader('big', 'x'.repeat(4097))).to.throw(HeaderInvalidError);
    expect(() => validateHeader('ok', 'ünïcode and spaces % fine')).not.to.throw();
    const e = { specversion: '1.0', id: 'x', source: 's', type: 't', a1: 'x'.repeat(4000), a2: 'x'.repeat(4000), a3: 'x'.repeat(4000), a4: 'x'.repeat(4000), a5: 'x'.repeat(4000) };
    // Too large in total, or too many attributes, is a header fault like one value too long.
    expect(() => validateEnvelope(e)).to.throw(HeaderInvalidError);
    const many: Record<string, string> = { specversion: '1.0', id: 'x', source: 's', type: 't' };
    for (let i = 0; i < 61; i++) many[`x${i}`] = 'v';
    expect(() => validateEnvelope(many)).to.throw(HeaderInvalidError);
    delete many.x60;
    expect(() => validateEnvelope(many)).not.to.throw();
  });

  it('traceparent - parses, formats and rejects what W3C forbids', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(formatTraceparent(parseTraceparent(tp))).to.equal(tp);
    for (const bad of ['', 'xx', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`, `ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`,
      `${tp}-extra`]) {
      expect(() => parseTraceparent(bad), bad).to.throw(TraceparentInvalidError);
    }
    expect(() => validateEnvelope({ specversion: '1.0', id: 'x', source: 's', type: 't', traceparent: 'garbage' })).to.throw(TraceparentInvalidError);
  });

  it('traceparent - a child keeps the trace id and flags and gets a new span id (property)', () => {
    fc.assert(fc.property(fc.constant(null), () => {
      const parent = newTraceparent();
      const child = childTraceparent(parent);
      const p = parseTraceparent(parent); const c = parseTraceparent(child);
      expect(c.traceId).to.equal(p.traceId);
      expect(c.flags).to.equal(p.flags);
      expect(c.spanId).not.to.equal(p.spanId);
    }), { numRuns: 500 });
    expect(parseTraceparent(childTraceparent('not-a-traceparent')).traceId).to.have.length(32);
    expect(parseTraceparent(childTraceparent(undefined)).traceId).to.have.length(32);
  });

  it('traceparent - checkTraceparent accepts exactly what parseTraceparent accepts (property)', () => {
    const hex = (n: number, chars: string) => fc.string({ unit: fc.constantFrom(...chars.split('')), minLength: n, maxLength: n });
    // Valid headers (some with all-zero ids, some not version 00, some with a suffix), and the
    // same with one character replaced: every branch of the fast check is reached.
    const valid = fc.tuple(fc.constantFrom('00', '00', '01', 'ff'), fc.oneof(hex(32, '0123456789abcdef'), fc.constant('0'.repeat(32))),
      fc.oneof(hex(16, '0123456789abcdef'), fc.constant('0'.repeat(16))), hex(2, '0123456789abcdef'), fc.constantFrom('', '', '-', '-x'))
      .map(([v, t, sp, f, rest]) => `${v}-${t}-${sp}-${f}${rest}`);
    const mutated = fc.tuple(valid, fc.nat(60), fc.constantFrom('-', 'A', 'g', '0', 'f', ' '))
      .map(([v, at, c]) => at < v.length ? v.slice(0, at) + c + v.slice(at + 1) : v);
    let accepted = 0;
    // The pattern a binding checks traceparents with inside its own regex: version 00 exactly as the check takes it.
    const version00 = new RegExp(`^${VERSION_00_TRACEPARENT_PATTERN}$`);
    fc.assert(fc.property(fc.oneof(valid, mutated, fc.string()), (value) => {
      let parsed = true, checked = true;
      try { parseTraceparent(value); } catch (err) { expect(err).to.be.instanceOf(TraceparentInvalidError); parsed = false; }
      try { checkTraceparent(value); } catch (err) { expect(err).to.be.instanceOf(TraceparentInvalidError); checked = false; }
      expect(checked, value).to.equal(parsed);
      expect(version00.test(value), value).to.equal(checked && value.startsWith('00-'));
      if (checked) accepted++;
    }), { numRuns: 5000 });
    expect(accepted).to.be.greaterThan(200);
  });
});
