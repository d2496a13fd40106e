import { expect } from 'chai';
import { Bus, CapabilityMissingError, OptionsInvalidError, PartitionedSubjects, partitionOf } from '../../core/index.js';
import { LogTransport } from '../helpers/log-transport.js';
import { MemoryTransport } from '../../transports/memory/index.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('Bus partitioned subjects (scale-out)', () => {
  it('maps covered subjects to <prefix>.<partition>.<subject> and leaves the others alone', () => {
    const p = new PartitionedSubjects({ count: 16, subjects: ['sensor.valid.>'] });
    expect(p.wireSubject('sensor.valid.dev-1', 'dev-1')).to.equal(`part.${partitionOf('dev-1', 16)}.sensor.valid.dev-1`);
    expect(p.wireSubject('alerts.dev-1', 'dev-1')).to.equal('alerts.dev-1');
    expect(p.wireSubject('sensor.valid.x', undefined)).to.equal('part.0.sensor.valid.x');
    expect(p.partitionPattern('sensor.valid.>', 3)).to.equal('part.3.sensor.valid.>');
    expect(() => p.partitionPattern('sensor.valid.>', 16)).to.throw(OptionsInvalidError);
    expect(() => new PartitionedSubjects({ count: 0, subjects: [] })).to.throw(OptionsInvalidError);
    expect(() => new PartitionedSubjects({ count: 4, subjects: [], prefix: 'a.b' })).to.throw(OptionsInvalidError);
  });

  it('a partition subscription gets only its keys, with the subject handlers expect', async () => {
    const transport = new MemoryTransport();
    const partitioning = { count: 4, subjects: ['sensor.>'] };
    const producer = new Bus({ service: 'producer', transport, partitioning, metrics: false, logger: silentLogger });
    const consumers = [0, 1, 2, 3].map((i) => new Bus({ service: `c${i}`, transport, partitioning, metrics: false, logger: silentLogger }));
    const got: Array<{ partition: number; subject: string; key: string | undefined }> = [];
    for (const [partition, bus] of consumers.entries()) {
      await bus.subscribe('sensor.>', (m, ctx) => { got.push({ partition, subject: ctx.subject, key: m.partitionkey }); }, { partition });
    }
    const raw: string[] = [];
    await transport.subscribe('>', (m) => { raw.push(m.subject); return m.ack(); }, { maxInFlight: 100 });
    const keys = Array.from({ length: 20 }, (_, i) => `dev-${i}`);
    for (const key of keys) await producer.publish(`sensor.${key}`, { t: 1 }, { partitionKey: key });
    await producer.publish('alerts.x', { a: 1 });
    await waitFor(() => got.length === keys.length, { what: 'every reading once' });
    for (const g of got) {
      expect(g.partition).to.equal(partitionOf(g.key, 4));
      expect(g.subject).to.equal(`sensor.${g.key}`);
    }
    expect(raw).to.include('alerts.x');
    expect(raw.filter((s) => s.startsWith('sensor.'))).to.deep.equal([]);
    await Promise.all([producer, ...consumers].map((b) => b.stop()));
  });

  it('checks partition and startAfter against the scheme and the transport', async () => {
    const bus = new Bus({ service: 's', transport: new MemoryTransport(), metrics: false, logger: silentLogger });
    await expectReject(bus.subscribe('a.>', () => {}, { partition: 1 }), OptionsInvalidError);
    await expectReject(bus.subscribe('a.>', () => {}, { startAfter: 3 }), CapabilityMissingError);
    const log = new Bus({ service: 's', transport: new LogTransport({ manual: true }), metrics: false, logger: silentLogger });
    await expectReject(log.subscribe('a.>', () => {}, { startAfter: -1 }), OptionsInvalidError);
    await Promise.all([bus.stop(), log.stop()]);
  });

  it('replays from a position and pauses at a point where every message up to it is settled', async () => {
    const transport = new LogTransport({ manual: true });
    const partitioning = { count: 2, subjects: ['r.>'] };
    const bus = new Bus({ service: 'agg', transport, partitioning, metrics: false, logger: silentLogger });
    for (let i = 1; i <= 6; i++) await bus.publish(`r.k${i}`, { i }, { partitionKey: 'same' });
    const p = partitionOf('same', 2);
    const handled: number[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => { release = r; });
    const sub = await bus.subscribe<{ i: number }>('r.>', async (m) => { if (m.data!.i === 2) await slow; handled.push(m.data!.i); },
      { partition: p, startAfter: 0, ordered: true, maxInFlight: 4 });
    expect(transport.subscribed[0]).to.deep.include({ pattern: `part.${p}.r.>` });
    expect(transport.subscribed[0]!.options.startAfter).to.equal(0);
    transport.deliver(1); transport.deliver(2);
    const paused = sub.pause();
    transport.deliver(3); // arrives while paused: held, not handled
    await sleep(20); // a real wait: nothing may happen to message 3 meanwhile
    expect(handled).to.deep.equal([1]);
    release();
    expect(await paused).to.equal(2);
    expect(handled).to.deep.equal([1, 2]);
    sub.resume();
    await waitFor(() => handled.length === 3, { what: 'the held message after resume' });
    expect(transport.acked).to.deep.equal([1, 2, 3]);
    await bus.stop();
  });

  it('stops handling, and leaves messages unsettled, once admit says no', async () => {
    const transport = new LogTransport({ manual: true });
    const bus = new Bus({ service: 's', transport, metrics: false, logger: silentLogger });
    for (let i = 1; i <= 3; i++) await bus.publish('a.b', { i });
    let leased = true;
    const handled: number[] = [];
    await bus.subscribe<{ i: number }>('a.>', (m) => { handled.push(m.data!.i); }, { admit: () => leased });
    transport.deliver(1);
    await waitFor(() => handled.length === 1, { what: 'the first message' });
    leased = false;
    transport.deliver(2);
    leased = true; // too late: the subscription gave up
    transport.deliver(3);
    await sleep(20); // a real wait: nothing may be handled
    expect(handled).to.deep.equal([1]);
    expect(transport.acked).to.deep.equal([1]);
    await bus.stop();
  });

  it('deriveIds: handling the same message again publishes the same ids', async () => {
    const transport = new LogTransport({ manual: true });
    const ids: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const bus = new Bus({ service: 'filter', transport, metrics: false, logger: silentLogger });
      if (run === 0) await bus.publish('in.x', { v: 1 }, { id: 'input-1' });
      const out: string[] = [];
      ids.push(out);
      await bus.subscribe('in.>', async (_m, ctx) => {
        out.push((await ctx.publish('out.a', 1)).id, (await ctx.publish('out.b', 2)).id, (await ctx.publish('out.c', 3, { id: 'given' })).id);
      }, { deriveIds: true });
      transport.deliver(1);
      await waitFor(() => out.length === 3, { what: 'three outputs' });
      await bus.stop();
    }
    expect(ids[0]).to.deep.equal(ids[1]);
    expect(ids[0]![0]).to.not.equal(ids[0]![1]);
    expect(ids[0]![2]).to.equal('given');
    expect(ids[0]![0]).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

async function expectReject(p: Promise<unknown>, type: new (...args: never[]) => Error): Promise<void> {
  try { await p; } catch (err) { expect(err).to.be.instanceOf(type); return; }
  expect.fail(`expected a ${type.name}`);
}
