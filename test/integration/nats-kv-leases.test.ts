import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import {
  CheckpointFencedError, NatsCoordination, PartitionCoordinator, claimCheckpoint, rendezvousOwner, type CheckpointRecord,
} from '../../scale/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const SERVERS = 'nats://127.0.0.1:4222';
const TTL = 1500;
const P = 8;

describe('nats KV leases and partition checkpoints', function () {
  this.timeout(30_000);
  const name = `sb-scale-${randomUUID().slice(0, 8)}`;
  const opened: NatsCoordination[] = [];
  const open = async () => { const c = await NatsCoordination.open({ servers: SERVERS, name, leaseTtlMs: TTL }); opened.push(c); return c; };

  before(async function () { await requireBroker(this, 'nats'); });
  after(async () => {
    for (const c of opened) await c.close();
    const nc = await connect({ servers: SERVERS });
    const jsm = await nc.jetstreamManager();
    for (const bucket of [`${name}-leases`, `${name}-checkpoints`]) await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
    await nc.close();
  });

  it('nats kv leases - create, update and delete compare-and-set on revision; list by prefix', async () => {
    const { leases } = await open();
    expect(leases.ttlMs).to.equal(TTL);
    const r1 = (await leases.create('cas.p.0', 'a'))!;
    expect(r1).to.be.a('number');
    expect(await leases.create('cas.p.0', 'b')).to.equal(undefined);
    const r2 = (await leases.update('cas.p.0', 'a', r1))!;
    expect(r2).to.be.greaterThan(r1);
    expect(await leases.update('cas.p.0', 'x', r1)).to.equal(undefined);
    expect(await leases.delete('cas.p.0', r1)).to.equal(false);
    expect(await leases.get('cas.p.0')).to.deep.equal({ key: 'cas.p.0', value: 'a', revision: r2 });
    await leases.create('cas.m.x', 'x'); await leases.create('cas.m.y', 'y'); await leases.create('casx.m.z', 'z');
    expect((await leases.list('cas.m.')).map((e) => e.key).sort()).to.deep.equal(['cas.m.x', 'cas.m.y']);
    expect((await leases.list('cas')).map((e) => e.key).sort()).to.deep.equal(['cas.m.x', 'cas.m.y', 'cas.p.0', 'casx.m.z']);
    expect(await leases.delete('cas.p.0', r2)).to.equal(true);
    expect(await leases.get('cas.p.0')).to.equal(undefined); // the delete marker reads as absent
    expect((await leases.list('cas.')).map((e) => e.key)).to.not.include('cas.p.0');
    const r3 = (await leases.create('cas.p.0', 'b'))!; // create over a deleted key
    expect(r3).to.be.greaterThan(r2);
    try { await leases.get('cas p 0'); expect.fail('accepted'); } catch (e) {
      expect((e as { code: string }).code).to.equal('SB_ERR_OPTIONS_INVALID');
      expect((e as { details: unknown }).details).to.deep.include({ key: 'cas p 0' });
    }
  });

  it('nats kv leases - an entry expires ttl after its last write: create works again, an update at the old revision fails', async () => {
    const { leases } = await open();
    const r1 = (await leases.create('ttl.p.0', 'a'))!;
    await waitFor(async () => (await leases.get('ttl.p.0')) === undefined, { timeoutMs: TTL / 2, what: 'nothing' }).then(
      () => { throw new Error('expired before half the TTL'); }, () => undefined,
    );
    const writtenAt = Date.now();
    const r2 = (await leases.update('ttl.p.0', 'a', r1))!; // renewing restarts the TTL
    await waitFor(async () => (await leases.get('ttl.p.0')) === undefined, { timeoutMs: TTL * 4, what: 'the lease to expire' });
    expect(Date.now() - writtenAt).to.be.at.least(TTL - 50);
    expect(await leases.update('ttl.p.0', 'a', r2)).to.equal(undefined);
    expect(await leases.delete('ttl.p.0', r2)).to.equal(false);
    const r3 = (await leases.create('ttl.p.0', 'b'))!;
    expect(r3).to.be.greaterThan(r2);
    expect((await leases.get('ttl.p.0'))?.value).to.equal('b');
  });

  it('nats kv leases - two coordinators split the partitions, take over after a lost connection and after a stop, never overlapping', async () => {
    const group = `g${randomUUID().slice(0, 6)}`;
    const coordinators = new Map<string, PartitionCoordinator>();
    const overlaps: string[] = [];
    const lost: string[] = [];
    const make = (member: string, leases: NatsCoordination['leases']) => {
      const pc = new PartitionCoordinator({
        store: leases, group, member, partitions: P, logger: silentLogger,
        onAcquired: (p) => {
          for (const [other, o] of coordinators) if (other !== member && o.lease(p)?.valid()) overlaps.push(`${member} acquired ${p} while ${other} held it`);
        },
        onRevoked: () => undefined,
        onLost: (p, reason) => { lost.push(`${member} ${p} ${reason}`); },
      });
      coordinators.set(member, pc);
      return pc;
    };
    const shareOf = (member: string, members: string[]) => Array.from({ length: P }, (_, p) => p).filter((p) => rendezvousOwner(p, members) === member);
    const all = shareOf('a', ['a']);

    const a = make('a', (await open()).leases);
    await a.start();
    expect(a.owned()).to.deep.equal(all);

    const bConnection = await open();
    const b = make('b', bConnection.leases);
    await b.start();
    await waitFor(() => String(b.owned()) === String(shareOf('b', ['a', 'b'])) && String(a.owned()) === String(shareOf('a', ['a', 'b'])), { timeoutMs: 5000, what: () => `the split (a=${a.owned()} b=${b.owned()})` });
    const bShare = b.owned();
    expect(bShare.length).to.be.within(1, P - 1);

    // b loses the broker: it can renew nothing, so its leases lapse locally before a can take them.
    await bConnection.close();
    await waitFor(() => String(a.owned()) === String(all), { timeoutMs: TTL * 5, what: () => `a to take over (a=${a.owned()})` });
    expect(bShare.every((p) => !b.lease(p)?.valid())).to.equal(true);
    await waitFor(() => lost.length === bShare.length, { timeoutMs: TTL, what: 'b to report its losses' });
    expect(lost.sort()).to.deep.equal(bShare.map((p) => `b ${p} expired`).sort());
    await b.stop(); // its store is gone: the cleanup only logs
    coordinators.delete('b');

    // c joins, then a stops on purpose: c takes everything without waiting for a TTL.
    const c = make('c', (await open()).leases);
    await c.start();
    await waitFor(() => String(c.owned()) === String(shareOf('c', ['a', 'c'])), { timeoutMs: 5000, what: () => `c's share (c=${c.owned()})` });
    await a.stop();
    const { leases } = await open();
    const held = await leases.list(`${group}.p.`);
    expect(held.filter((e) => e.value === 'a')).to.deep.equal([]); // a deleted its leases
    expect((await leases.list(`${group}.m.`)).map((e) => e.key)).to.deep.equal([`${group}.m.c`]);
    await waitFor(() => String(c.owned()) === String(all), { timeoutMs: 5000, what: () => `c to take over (c=${c.owned()})` });
    await c.stop();
    expect(await leases.list(`${group}.`)).to.deep.equal([]);
    expect(overlaps).to.deep.equal([]);
  });

  it('nats kv checkpoints - compare-and-set saves; a stale revision is fenced; a claim fences the previous owner', async () => {
    const { checkpoints } = await open();
    const rec = (position: number, owner: string): CheckpointRecord => ({ position, state: { windows: [[`d-${position}`, position]] }, owner, savedAt: Date.now() });
    expect(await checkpoints.load('agg.0')).to.deep.equal({ record: undefined, revision: 0 });
    const r1 = await checkpoints.save('agg.0', rec(10, 'a'), 0);
    const stale = await checkpoints.save('agg.0', rec(11, 'a'), 0).then(() => undefined, (e: unknown) => e);
    expect(stale).to.be.instanceOf(CheckpointFencedError);
    const r2 = await checkpoints.save('agg.0', rec(20, 'a'), r1);
    const loaded = await checkpoints.load('agg.0');
    expect(loaded.revision).to.equal(r2);
    expect(loaded.record).to.deep.include({ position: 20, owner: 'a', state: { windows: [['d-20', 20]] } });

    const claimed = await claimCheckpoint(checkpoints, 'agg.0', 'b');
    expect(claimed.record).to.deep.include({ position: 20, owner: 'b' });
    const fenced = await checkpoints.save('agg.0', rec(30, 'a'), r2).then(() => undefined, (e: unknown) => e);
    expect((fenced as CheckpointFencedError | undefined)?.code).to.equal('SB_ERR_SCALE_FENCED');
    expect((await checkpoints.load('agg.0')).record?.owner).to.equal('b');
    await checkpoints.save('agg.1', rec(1, 'b'), 0);
    await checkpoints.save('other.0', rec(1, 'b'), 0);
    expect((await checkpoints.list('agg.')).map((x) => x.name).sort()).to.deep.equal(['agg.0', 'agg.1']);
  });

  it('nats coordination - reuses a given connection and leaves it open; an unreachable server is a TransportConnectError', async () => {
    const nc = await connect({ servers: SERVERS });
    try {
      const c = await NatsCoordination.open({ servers: SERVERS, name, leaseTtlMs: TTL, connection: nc });
      expect(await c.leases.create(`reuse.${randomUUID().slice(0, 6)}`, 'x')).to.be.a('number');
      await c.close();
      expect(nc.isClosed()).to.equal(false);
    } finally {
      await nc.close();
    }
    const err = await NatsCoordination.open({ servers: 'nats://127.0.0.1:1' }).then(() => undefined, (e: unknown) => e);
    expect((err as { code?: string }).code).to.equal('SB_ERR_TRANSPORT_CONNECT');
    const bad = await NatsCoordination.open({ servers: SERVERS, name: 'bad name' }).then(() => undefined, (e: unknown) => e);
    expect((bad as { details?: unknown }).details).to.deep.equal({ field: 'name' });
  });
});
