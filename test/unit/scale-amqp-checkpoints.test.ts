import { expect } from 'chai';
import fc from 'fast-check';
import { latestCheckpoint, type SacCheckpoint } from '../../scale/index.js';

const cp = (epoch: number, seq: number, owner = `owner-${epoch}`): SacCheckpoint => ({ epoch, seq, owner, savedAt: 1_700_000_000_000 + seq, state: { epoch, seq }, ids: [] });

describe('scale amqp checkpoints - latestCheckpoint', () => {
  it('scale amqp checkpoints - nothing saved is undefined', () => {
    expect(latestCheckpoint([])).to.equal(undefined);
  });

  it('scale amqp checkpoints - the higher epoch wins over any seq', () => {
    expect(latestCheckpoint([cp(1, 99), cp(2, 1), cp(1, 100)])).to.deep.equal(cp(2, 1));
  });

  it('scale amqp checkpoints - within one epoch the higher seq wins', () => {
    expect(latestCheckpoint([cp(3, 4), cp(3, 7), cp(3, 5)])).to.deep.equal(cp(3, 7));
  });

  it('scale amqp checkpoints - a stale owner\'s late save (lower epoch, arriving last) does not win', () => {
    expect(latestCheckpoint([cp(1, 8), cp(2, 1), cp(2, 2), cp(1, 9, 'stale')])).to.deep.equal(cp(2, 2));
  });

  it('scale amqp checkpoints - arrival order is irrelevant (any permutation gives the same choice)', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 50 })), { minLength: 1, maxLength: 12, selector: ([e, s]) => `${e}/${s}` }),
      fc.infiniteStream(fc.nat()),
      (pairs, randoms) => {
        const list = pairs.map(([e, s]) => cp(e, s));
        const shuffled = [...list];
        const r = randoms[Symbol.iterator]();
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (r.next().value as number) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const maxEpoch = Math.max(...pairs.map(([e]) => e));
        const maxSeq = Math.max(...pairs.filter(([e]) => e === maxEpoch).map(([, s]) => s));
        expect(latestCheckpoint(shuffled)).to.deep.equal(cp(maxEpoch, maxSeq));
        expect(latestCheckpoint(list)).to.deep.equal(latestCheckpoint(shuffled));
      },
    ));
  });
});
