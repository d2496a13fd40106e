import { expect } from 'chai';
import { newEventId, randomHex } from '../../core/random.js';

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

  it('random - trace ids are lowercase hex of the asked length and never all zeros', () => {
    for (let i = 0; i < 2000; i++) {
      const hex = randomHex(8);
      expect(hex).to.match(/^[0-9a-f]{16}$/);
      expect(hex).to.not.equal('0'.repeat(16));
    }
  });
});
