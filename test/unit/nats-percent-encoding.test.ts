import { expect } from 'chai';
import fc from 'fast-check';
import { percentDecodeHeaderValue, percentEncodeHeaderValue } from '../../core/index.js';

/** What may appear in an encoded value: printable ASCII but `"`, `%` only as the start of `%XX`. */
function isWireSafe(encoded: string): boolean {
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x22) return false;
    if (c === 0x25 && !/^[0-9A-F]{2}$/.test(encoded.slice(i + 1, i + 3))) return false;
  }
  return true;
}

describe('nats percent-encoding', () => {
  it('nats percent-encoding - decode(encode(s)) = s for every Unicode string', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => percentDecodeHeaderValue(percentEncodeHeaderValue(s)) === s), { numRuns: 2000 });
  });

  it('nats percent-encoding - encoded values hold only printable ASCII without space or quote', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => isWireSafe(percentEncodeHeaderValue(s))), { numRuns: 2000 });
  });

  it('nats percent-encoding - leaves values that need nothing unchanged (same string)', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.:/=+@~!#$&\'()*,;<>?[]^`{|}'), maxLength: 64 }),
      (s) => percentEncodeHeaderValue(s) === s));
  });

  it('nats percent-encoding - matches encodeURIComponent on what both encode', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 16 }), (s) => {
      const ours = percentEncodeHeaderValue(s);
      // encodeURIComponent encodes a superset; decoding either gives the same string.
      return decodeURIComponent(ours) === decodeURIComponent(encodeURIComponent(s));
    }));
  });

  it('nats percent-encoding - encodes the characters the CloudEvents bindings name', () => {
    expect(percentEncodeHeaderValue(' "%')).to.equal('%20%22%25');
    expect(percentEncodeHeaderValue('ü€𝄞')).to.equal('%C3%BC%E2%82%AC%F0%9D%84%9E');
    expect(percentEncodeHeaderValue('\u0007\u007f')).to.equal('%07%7F');
    expect(percentEncodeHeaderValue('a\ud800b')).to.equal('a%EF%BF%BDb');
  });
});
