import { expect } from 'chai';
import { CheckpointFencedError, MemoryPartitionCheckpoints, claimCheckpoint, type CheckpointRecord } from '../../scale/index.js';

const rec = (position: number, owner: string, state: unknown = { n: position }): CheckpointRecord => ({ position, state, owner, savedAt: 1_700_000_000_000 + position });

async function fenced(p: Promise<unknown>): Promise<CheckpointFencedError> {
  try { await p; } catch (e) { expect(e).to.be.instanceOf(CheckpointFencedError); expect((e as CheckpointFencedError).code).to.equal('SB_ERR_SCALE_FENCED'); return e as CheckpointFencedError; }
  throw new Error('the save was accepted');
}

describe('scale partition checkpoints (memory)', () => {
  it('scale checkpoints - load/save compare-and-set on revision', async () => {
    const cps = new MemoryPartitionCheckpoints();
    expect(await cps.load('iot.aggregate.0')).to.deep.equal({ record: undefined, revision: 0 });
    const r1 = await cps.save('iot.aggregate.0', rec(10, 'a'), 0);
    expect(r1).to.be.greaterThan(0);
    await fenced(cps.save('iot.aggregate.0', rec(11, 'a'), 0)); // must not exist yet: it does
    const r2 = await cps.save('iot.aggregate.0', rec(20, 'a'), r1);
    expect(r2).to.be.greaterThan(r1);
    expect(await cps.load('iot.aggregate.0')).to.deep.equal({ record: rec(20, 'a'), revision: r2 });
    const stale = await fenced(cps.save('iot.aggregate.0', rec(15, 'a'), r1));
    expect(stale.details).to.deep.equal({ name: 'iot.aggregate.0', revision: r1 });
    expect((await cps.load('iot.aggregate.0')).record).to.deep.equal(rec(20, 'a'));
    await cps.save('iot.aggregate.1', rec(1, 'b'), 0);
    await cps.save('iot.other.0', rec(1, 'b'), 0);
    expect((await cps.list('iot.aggregate.')).map((x) => x.name).sort()).to.deep.equal(['iot.aggregate.0', 'iot.aggregate.1']);
  });

  it('scale checkpoints - records are copies: mutating what was saved or loaded changes nothing stored', async () => {
    const cps = new MemoryPartitionCheckpoints();
    const r = rec(1, 'a', { keys: ['x'] });
    await cps.save('g.0', r, 0);
    (r.state as { keys: string[] }).keys.push('y');
    const loaded = await cps.load('g.0');
    (loaded.record!.state as { keys: string[] }).keys.push('z');
    expect((await cps.load('g.0')).record!.state).to.deep.equal({ keys: ['x'] });
  });

  it('scale checkpoints - a new owner\'s claim fences the old owner\'s next save', async () => {
    const cps = new MemoryPartitionCheckpoints();
    const oldRev = await cps.save('g.3', rec(100, 'a'), 0);
    const claimed = await claimCheckpoint(cps, 'g.3', 'b', () => 42);
    expect(claimed.record).to.deep.equal({ position: 100, state: { n: 100 }, owner: 'b', savedAt: 42 });
    await fenced(cps.save('g.3', rec(150, 'a'), oldRev)); // a still thinks it owns the partition
    expect((await cps.load('g.3')).record!.owner).to.equal('b');
    await cps.save('g.3', rec(160, 'b'), claimed.revision);
    // A claim where nothing was saved yet writes position 0, so a stale owner's first save (revision 0) fails too.
    const fresh = await claimCheckpoint(cps, 'g.4', 'b');
    expect(fresh.record).to.deep.include({ position: 0, owner: 'b' });
    await fenced(cps.save('g.4', rec(5, 'a'), 0));
  });

  it('scale checkpoints - a name that is not a KV key is refused, naming it', async () => {
    const cps = new MemoryPartitionCheckpoints();
    try { await cps.save('iot aggregate', rec(1, 'a'), 0); expect.fail('accepted'); } catch (e) {
      expect((e as { code: string }).code).to.equal('SB_ERR_OPTIONS_INVALID');
      expect((e as { details: unknown }).details).to.deep.include({ field: 'name', key: 'iot aggregate' });
    }
  });
});
