import { expect } from 'chai';
import fc from 'fast-check';
import { CodecDecodeError, CodecEncodeError, CodecTooDeepError, MAX_JSON_DEPTH, checkJsonDepth, jsonCodec } from '../../core/index.js';
import { fromMqttStructured } from '../../transports/mqtt/binding.js';
import { parseClientFrame } from '../../transports/websocket/binding.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
/** Nesting of arrays and objects in a parsed value (a primitive is 0). */
const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);
const bytes = (s: string) => new TextEncoder().encode(s);

describe('json depth', () => {
  it('json depth - allows MAX_JSON_DEPTH levels and refuses one more with SB_ERR_CODEC_TOO_DEEP', () => {
    expect(() => checkJsonDepth(nested(MAX_JSON_DEPTH))).not.to.throw();
    expect(() => checkJsonDepth(nested(MAX_JSON_DEPTH + 1))).to.throw(CodecTooDeepError).with.property('code', 'SB_ERR_CODEC_TOO_DEEP');
    expect(() => checkJsonDepth(`{"a":{"b":[${nested(2)}]}}`, 5)).not.to.throw();
    expect(() => checkJsonDepth(`{"a":{"b":[${nested(3)}]}}`, 5)).to.throw(CodecTooDeepError);
    expect(() => checkJsonDepth(`{"a":{"b":[${nested(3)}]}}`, 5, 1), 'one enclosing level not counted').not.to.throw();
  });

  it('json depth - refuses any valid JSON exactly when it nests past the limit, however short (the length shortcut is sound)', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 14 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 2 }), (value, limit, enclosing) => {
      const text = JSON.stringify(value);
      const deep = depthOf(value) > limit + enclosing;
      let refused = false;
      try { checkJsonDepth(text, limit, enclosing); } catch (err) { expect(err).to.be.instanceOf(CodecTooDeepError); refused = true; }
      expect(refused, text).to.equal(deep);
    }), { numRuns: 1000 });
    // the shortest text one level too deep: 2 × (limit + 1) characters
    expect(() => checkJsonDepth(nested(MAX_JSON_DEPTH + 1))).to.throw(CodecTooDeepError);
    expect(nested(MAX_JSON_DEPTH + 1).length).to.equal(2 * (MAX_JSON_DEPTH + 1));
  });

  it('json depth - brackets inside strings (escaped quotes too) do not count', () => {
    const text = JSON.stringify({ s: '['.repeat(1000), t: `\\"${'{'.repeat(1000)}`, u: '\\' });
    expect(() => checkJsonDepth(text, 1)).not.to.throw();
    expect(() => checkJsonDepth(`["\\"",[[]]]`, 2)).to.throw(CodecTooDeepError);
  });

  it('json depth - a 1,000,000-deep text is refused without overflowing the stack', () => {
    expect(() => checkJsonDepth(nested(1_000_000))).to.throw(CodecTooDeepError);
  });

  it('json codec - refuses data nested past the limit with a CodecTooDeepError (a CodecDecodeError) instead of handing out a value that overflows the next walk', () => {
    const err = (() => { try { jsonCodec.decode(bytes(nested(100_000)), 't'); } catch (e) { return e; } return undefined; })();
    expect(err).to.be.instanceOf(CodecTooDeepError).and.instanceOf(CodecDecodeError);
    expect(jsonCodec.decode(bytes(nested(MAX_JSON_DEPTH)), 't')).to.be.an('array');
  });

  it('json codec - a value nested too deep to write out is a CodecEncodeError, not a RangeError', () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => jsonCodec.encode(deep, 't')).to.throw(CodecEncodeError).with.property('code', 'SB_ERR_CODEC_ENCODE');
  });

  it('json codec - skips a leading UTF-8 byte order mark', () => {
    expect(jsonCodec.decode(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('{"a":1}')]), 't')).to.deep.equal({ a: 1 });
  });

  it('ws hub - a client frame whose event data nests past the limit is refused with SB_ERR_CODEC_TOO_DEEP (pub and bare event)', () => {
    const event = (data: string) => `{"specversion":"1.0","id":"1","source":"s","type":"t","data":${data}}`;
    expect(() => parseClientFrame(`{"op":"pub","id":1,"subject":"a.b","event":${event(nested(100_000))}}`)).to.throw(CodecTooDeepError);
    expect(() => parseClientFrame(event(nested(MAX_JSON_DEPTH + 1)))).to.throw(CodecTooDeepError);
    expect(parseClientFrame(`{"op":"pub","id":1,"subject":"a.b","event":${event(nested(MAX_JSON_DEPTH))}}`).op).to.equal('pub');
    expect(parseClientFrame(event(nested(MAX_JSON_DEPTH))).op).to.equal('event');
  });

  it('mqtt - a structured payload whose data nests past the limit is not decoded: CodecTooDeepError (the transport dead-letters the raw bytes with it)', () => {
    const event = (data: string) => Buffer.from(`{"specversion":"1.0","id":"1","source":"s","type":"t","data":${data}}`);
    expect(() => fromMqttStructured(event(nested(100_000)))).to.throw(CodecTooDeepError);
    expect(fromMqttStructured(event(nested(MAX_JSON_DEPTH)))?.envelope.data).to.be.an('array');
  });
});
