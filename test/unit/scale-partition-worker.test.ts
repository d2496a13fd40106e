import { expect } from 'chai';
import { Bus, defineNanoservice, type Envelope, type NanoserviceDefinition } from '../../core/index.js';
import { LogTransport } from '../helpers/log-transport.js';
import { MemoryPartitionCheckpoints } from '../../scale/partition-checkpoints.js';
import { PartitionWorker } from '../../scale/partition-worker.js';
import type { Lease } from '../../scale/coordinator.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

/** A lease the test controls. */
function lease(): Lease & { lapse(): void } {
  let valid = true;
  return { partition: 0, revision: 1, valid: () => valid, lapse: () => { valid = false; } };
}

/** Sums readings per key and publishes the running sum: state that a replay must not count twice. */
function summer(outputs: Array<{ key: string; sum: number; id: string }>): () => NanoserviceDefinition {
  return () => {
    let sums = new Map<string, number>();
    const def = defineNanoservice({
      name: 'summer',
      subscriptions: [{ pattern: 'r.>', handler: async (m: Envelope, ctx) => {
        const key = m.partitionkey!;
        const sum = (sums.get(key) ?? 0) + (m.data as { v: number }).v;
        sums.set(key, sum);
        const out = await ctx.publish(`sum.${key}`, { sum }, { partitionKey: key });
        outputs.push({ key, sum, id: out.id });
      } }],
    });
    return { ...def, state: { snapshot: () => Object.fromEntries(sums), restore: (s) => { sums = new Map(Object.entries(s as Record<string, number>)); } } };
  };
}

describe('scale: partition worker (checkpoint with position, replay on takeover)', () => {
  it('a successor restores the checkpoint and replays from its position: nothing counted twice, ids re-created', async () => {
    const transport = new LogTransport();
    const checkpoints = new MemoryPartitionCheckpoints();
    const producer = new Bus({ service: 'producer', transport, metrics: false, logger: silentLogger });
    const outA: Array<{ key: string; sum: number; id: string }> = [];
    const outB: Array<{ key: string; sum: number; id: string }> = [];
    const busA = new Bus({ service: 'summer', transport, metrics: false, logger: silentLogger });
    const leaseA = lease();
    const common = { checkpoints, checkpointName: 'p.summer.p0', partition: undefined, checkpointIntervalMs: 0, replay: true, logger: silentLogger };
    const a = await PartitionWorker.start({ ...common, bus: busA, create: summer(outA), lease: leaseA, member: 'a' });
    for (let i = 1; i <= 4; i++) await producer.publish(`r.k${i % 2}`, { v: i }, { partitionKey: `k${i % 2}` });
    await waitFor(() => outA.length === 4, { what: 'a handles the first four' });
    await a.checkpoint();
    for (let i = 5; i <= 6; i++) await producer.publish(`r.k${i % 2}`, { v: i }, { partitionKey: `k${i % 2}` });
    await waitFor(() => outA.length === 6, { what: 'a handles two more, not checkpointed' });
    // a "crashes": its lease lapses, it saves nothing more.
    leaseA.lapse();
    await producer.publish('r.k1', { v: 7 }, { partitionKey: 'k1' });
    const busB = new Bus({ service: 'summer', transport, metrics: false, logger: silentLogger });
    const b = await PartitionWorker.start({ ...common, bus: busB, create: summer(outB), lease: lease(), member: 'b' });
    await waitFor(() => outB.length === 3, { what: 'b replays 5 and 6, then handles 7' });
    expect(outA.map((o) => o.sum)).to.deep.equal([1, 2, 4, 6, 9, 12]);
    expect(outB.map((o) => o.sum)).to.deep.equal([9, 12, 16]);
    expect(outB.slice(0, 2).map((o) => o.id), 'replayed outputs keep their ids').to.deep.equal(outA.slice(4).map((o) => o.id));
    await b.checkpoint();
    const { record } = await checkpoints.load('p.summer.p0');
    expect(record!.owner).to.equal('b');
    // Positions are log positions (outputs share the log): the last input b took.
    expect(record!.position).to.equal(transport.log.map((e) => e.subject).lastIndexOf('r.k1') + 1);
    expect((record!.state as { state: Record<string, number> }).state).to.deep.equal({ k0: 12, k1: 16 });
    await a.abort();
    await b.abort();
    await Promise.all([producer.stop(), busA.stop(), busB.stop()]);
  });

  it('an owner fenced off by a successor stops instead of overwriting its checkpoint', async () => {
    const transport = new LogTransport();
    const checkpoints = new MemoryPartitionCheckpoints();
    const bus = new Bus({ service: 'summer', transport, metrics: false, logger: silentLogger });
    const common = { checkpoints, checkpointName: 'p.summer.p1', partition: undefined, checkpointIntervalMs: 0, replay: true, logger: silentLogger };
    let fenced = false;
    const out: Array<{ key: string; sum: number; id: string }> = [];
    const stale = await PartitionWorker.start({ ...common, bus, create: summer(out), lease: lease(), member: 'a', onFenced: () => { fenced = true; } });
    const successor = await PartitionWorker.start({ ...common, bus, create: summer([]), lease: lease(), member: 'b' });
    await stale.checkpoint();
    expect(fenced).to.equal(true);
    expect((await checkpoints.load('p.summer.p1')).record!.owner).to.equal('b');
    await bus.publish('r.k', { v: 1 }, { partitionKey: 'k' });
    expect(out, 'the fenced owner handles nothing more').to.deep.equal([]);
    await successor.abort();
    await bus.stop();
  });
});
