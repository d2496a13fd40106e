import { expect } from 'chai';
import {
  MemoryLeaseStore, PartitionCoordinator, rendezvousOwner, type LeaseStore, type OwnershipEvent,
} from '../../scale/index.js';
import { silentLogger } from '../helpers/silent-logger.js';

const TTL = 1000; // safety defaults to 100 ms, rounds to every 250 ms
const SAFETY = TTL / 10;
const INTERVAL = TTL / 4;
const P = 12;

class VirtualClock { t = 0; now(): number { return this.t; } }

/** Records every write a member sends, to prove what a paused owner did (not) do. */
class RecordingStore implements LeaseStore {
  readonly writes: Array<{ op: string; key: string; revision?: number }> = [];
  constructor(private readonly inner: LeaseStore) {}
  get ttlMs(): number { return this.inner.ttlMs; }
  get(key: string) { return this.inner.get(key); }
  list(prefix: string) { return this.inner.list(prefix); }
  create(key: string, value: string) { this.writes.push({ op: 'create', key }); return this.inner.create(key, value); }
  update(key: string, value: string, revision: number) { this.writes.push({ op: 'update', key, revision }); return this.inner.update(key, value, revision); }
  delete(key: string, revision?: number) { this.writes.push({ op: 'delete', key, revision }); return this.inner.delete(key, revision); }
}

interface Member {
  name: string;
  pc: PartitionCoordinator;
  store: RecordingStore;
  events: OwnershipEvent[];
  calls: string[];
}

function world() {
  const clock = new VirtualClock();
  const store = new MemoryLeaseStore({ ttlMs: TTL, clock });
  const members: Member[] = [];
  const add = (name: string, overrides: Partial<ConstructorParameters<typeof PartitionCoordinator>[0]> = {}): Member => {
    const recording = new RecordingStore(store);
    const m: Member = { name, store: recording, events: [], calls: [], pc: undefined as never };
    m.pc = new PartitionCoordinator({
      store: recording, group: 'iot.aggregate', member: name, partitions: P, clock, autoTick: false, logger: silentLogger,
      onAcquired: (p) => { m.calls.push(`acquired ${p}`); },
      onRevoked: (p, reason) => { m.calls.push(`revoked ${p} ${reason}`); },
      onLost: (p, reason) => { m.calls.push(`lost ${p} ${reason}`); },
      onChange: (e) => { m.events.push(e); },
      ...overrides,
    });
    members.push(m);
    return m;
  };

  /** No partition has two valid leases, and a valid lease is backed by the live store entry. */
  const checkExclusive = async (where: string) => {
    for (let p = 0; p < P; p++) {
      const holders = members.filter((m) => m.pc.lease(p)?.valid());
      expect(holders.map((m) => m.name), `${where}: holders of partition ${p}`).to.have.length.at.most(1);
      if (holders.length === 1) expect((await store.get(`iot.aggregate.p.${p}`))?.value, `${where}: store entry of partition ${p}`).to.equal(holders[0]!.name);
    }
  };

  /** One tick of each given member, the invariant checked after each, then time moves one interval. */
  const round = async (ticking: Member[] = members) => {
    for (const m of ticking) {
      await m.pc.tick();
      await checkExclusive(`t=${clock.t} after ${m.name} ticked`);
    }
    clock.t += INTERVAL;
  };

  /** Each partition validly held by its rendezvous owner among `alive`. */
  const settledOn = (alive: Member[]) => {
    const names = alive.map((m) => m.name);
    for (let p = 0; p < P; p++) {
      const owner = rendezvousOwner(p, names);
      if (!alive.find((m) => m.name === owner)?.pc.lease(p)?.valid()) return false;
    }
    return true;
  };

  const settle = async (alive: Member[], maxRounds = 10) => {
    for (let i = 0; i < maxRounds; i++) {
      if (settledOn(alive)) return i;
      await round(alive);
    }
    throw new Error(`not settled after ${maxRounds} rounds: ${alive.map((m) => `${m.name}=${m.pc.owned().join(',')}`).join(' ')}`);
  };

  const ownerMap = () => Array.from({ length: P }, (_, p) => members.find((m) => m.pc.lease(p)?.valid())?.name);
  return { clock, store, members, add, round, settle, checkExclusive, ownerMap };
}

const all = Array.from({ length: P }, (_, p) => p);

describe('scale coordinator', () => {
  it('scale - one member gets every partition with a distinct fencing revision', async () => {
    const w = world();
    const a = w.add('a');
    await a.pc.start();
    expect(a.pc.owned()).to.deep.equal(all);
    expect(a.pc.members()).to.deep.equal(['a']);
    expect(a.calls).to.deep.equal(all.map((p) => `acquired ${p}`));
    const revisions = all.map((p) => a.pc.lease(p)!.revision);
    expect(new Set(revisions).size).to.equal(P);
    expect(a.events.every((e) => e.kind === 'acquired' && e.group === 'iot.aggregate' && e.member === 'a')).to.equal(true);
    // Renewals keep it across many TTLs.
    for (let i = 0; i < 12; i++) await w.round();
    expect(a.pc.owned()).to.deep.equal(all);
    expect(all.every((p) => a.pc.lease(p)!.valid())).to.equal(true);
    expect(a.calls).to.have.length(P);
  });

  it('scale - a second member joins: partitions split by rendezvous, never two owners at any step', async () => {
    const w = world();
    const a = w.add('a');
    await a.pc.start();
    const b = w.add('b');
    await b.pc.start();
    await w.checkExclusive('after b started');
    await w.settle([a, b]);
    const bShare = all.filter((p) => rendezvousOwner(p, ['a', 'b']) === 'b');
    expect(bShare.length).to.be.within(1, P - 1);
    expect(b.pc.owned()).to.deep.equal(bShare);
    expect(a.pc.owned()).to.deep.equal(all.filter((p) => !bShare.includes(p)));
    // a handed over exactly b's share, on purpose, and lost nothing.
    expect(a.calls.filter((c) => c.startsWith('revoked')).sort()).to.deep.equal(bShare.map((p) => `revoked ${p} rebalance`).sort());
    expect(a.calls.some((c) => c.startsWith('lost'))).to.equal(false);
    // b's fencing revisions are newer than a's were for the same partitions.
    for (const p of bShare) {
      const aRevision = a.events.find((e) => e.kind === 'acquired' && e.partition === p)!.revision;
      expect(b.pc.lease(p)!.revision).to.be.greaterThan(aRevision);
    }
  });

  it('scale - a member that stops gracefully hands its partitions over in the next round', async () => {
    const w = world();
    const a = w.add('a'); const b = w.add('b');
    await a.pc.start(); await b.pc.start();
    await w.settle([a, b]);
    const bShare = b.pc.owned();
    await b.pc.stop();
    await b.pc.stop(); // idempotent
    expect(b.calls.filter((c) => c.includes('stopping')).sort()).to.deep.equal(bShare.map((p) => `revoked ${p} stopping`).sort());
    expect(b.pc.owned()).to.deep.equal([]);
    expect((await w.store.list('iot.aggregate.m.')).map((e) => e.key)).to.deep.equal(['iot.aggregate.m.a']);
    for (const p of bShare) expect(await w.store.get(`iot.aggregate.p.${p}`)).to.equal(undefined);
    await a.pc.tick(); // no time passes: it need not wait for any TTL
    expect(a.pc.owned()).to.deep.equal(all);
    await b.pc.tick(); // a stopped coordinator does nothing
    expect(b.pc.owned()).to.deep.equal([]);
  });

  it('scale - a crashed member\'s partitions are taken only after its leases expire', async () => {
    const w = world();
    const a = w.add('a'); const b = w.add('b');
    await a.pc.start(); await b.pc.start();
    await w.settle([a, b]);
    const aShare = a.pc.owned();
    const bShare = b.pc.owned();
    const lastBTick = w.clock.t - INTERVAL; // b's last write happened in the last round
    while (w.clock.t < lastBTick + TTL) {
      await w.round([a]);
      expect(a.pc.owned(), `a at t=${w.clock.t}`).to.deep.equal(aShare);
    }
    await w.round([a]);
    expect(a.pc.owned()).to.deep.equal(all);
    expect(a.pc.members()).to.deep.equal(['a']);
    expect(bShare.every((p) => !b.pc.lease(p)!.valid())).to.equal(true);
  });

  it('scale - a paused owner: invalid from its deadline, onLost on its first round back, never renews the taken lease', async () => {
    const w = world();
    const a = w.add('a'); const b = w.add('b');
    await a.pc.start(); await b.pc.start();
    await w.settle([a, b]);
    const aShare = a.pc.owned();
    const aRevisions = new Map(aShare.map((p) => [p, a.pc.lease(p)!.revision]));
    const pausedAt = w.clock.t - INTERVAL; // a's last renewals were sent at this reading
    const deadline = pausedAt + TTL - SAFETY;
    const leases = aShare.map((p) => a.pc.lease(p)!);
    // Only b ticks; check validity at every step, in steps finer than a round.
    while (w.clock.t < pausedAt + TTL + 2 * INTERVAL) {
      for (const l of leases) expect(l.valid(), `a's lease ${l.partition} at t=${w.clock.t}`).to.equal(w.clock.t < deadline);
      await b.pc.tick();
      await w.checkExclusive(`t=${w.clock.t}`);
      w.clock.t += INTERVAL / 5;
    }
    expect(b.pc.owned()).to.deep.equal(all); // b took a's share once a's leases lapsed
    for (const p of aShare) expect(b.pc.lease(p)!.revision).to.be.greaterThan(aRevisions.get(p)!);
    expect(a.calls.some((c) => c.startsWith('lost'))).to.equal(false); // nothing runs while paused

    const writesBefore = a.store.writes.length;
    await a.pc.tick();
    await w.checkExclusive('a back');
    expect(a.calls.filter((c) => c.startsWith('lost')).sort()).to.deep.equal(aShare.map((p) => `lost ${p} expired`).sort());
    expect(a.pc.owned()).to.deep.equal([]); // held by b now: a waits
    const aWrites = a.store.writes.slice(writesBefore);
    expect(aWrites.filter((x) => x.key.includes('.p.'))).to.deep.equal([]); // no update with its old revision, no create
    for (const p of aShare) expect((await w.store.get(`iot.aggregate.p.${p}`))?.value).to.equal('b');
    // And the group recovers: b hands a its share back.
    await w.settle([a, b]);
    expect(a.pc.owned()).to.deep.equal(aShare);
  });

  it('scale - a renewal refused because the lease was overwritten reports onLost(taken)', async () => {
    const w = world();
    const a = w.add('a');
    await a.pc.start();
    const entry = (await w.store.get('iot.aggregate.p.3'))!;
    await w.store.update('iot.aggregate.p.3', 'intruder', entry.revision);
    await a.pc.tick();
    expect(a.calls).to.include('lost 3 taken');
    expect(a.pc.lease(3)).to.equal(undefined);
    expect(a.events.find((e) => e.kind === 'lost')).to.deep.include({ partition: 3, reason: 'taken', revision: entry.revision });
  });

  it('scale - adding a 4th member to 3 moves partitions only to the new member', async () => {
    const w = world();
    const [a, b, c] = [w.add('a'), w.add('b'), w.add('c')];
    for (const m of [a, b, c]) await m.pc.start();
    await w.settle([a, b, c]);
    const before = w.ownerMap();
    const callsBefore = new Map([a, b, c].map((m) => [m, m.calls.length]));
    const d = w.add('d');
    await d.pc.start();
    await w.settle([a, b, c, d]);
    const after = w.ownerMap();
    const moved = all.filter((p) => after[p] !== before[p]);
    expect(moved.length).to.be.greaterThan(0);
    for (const p of moved) expect(after[p], `partition ${p}`).to.equal('d');
    // Each old member revoked exactly what d took from it, and acquired nothing.
    for (const m of [a, b, c]) {
      const since = m.calls.slice(callsBefore.get(m));
      expect(since.sort(), m.name).to.deep.equal(moved.filter((p) => before[p] === m.name).map((p) => `revoked ${p} rebalance`).sort());
    }

    // The hash itself, over many partitions: joins and leaves move only what must move.
    for (let p = 0; p < 1000; p++) {
      const three = rendezvousOwner(p, ['a', 'b', 'c'])!;
      expect([three, 'd']).to.include(rendezvousOwner(p, ['a', 'b', 'c', 'd']));
      expect(rendezvousOwner(p, ['c', 'a', 'b'])).to.equal(three); // order of the list does not matter
      if (three !== 'b') expect(rendezvousOwner(p, ['a', 'c'])).to.equal(three);
    }
  });

  it('scale - onAcquired throwing releases the lease; the next round tries again', async () => {
    const w = world();
    let fail = true;
    const a = w.add('a', { onAcquired: (p) => { if (p === 5 && fail) throw new Error('no checkpoint'); } });
    await a.pc.start();
    expect(a.pc.owned()).to.not.include(5);
    expect(await w.store.get('iot.aggregate.p.5')).to.equal(undefined);
    expect(a.events.find((e) => e.kind === 'failed')).to.deep.include({ partition: 5, reason: 'acquire-failed' });
    fail = false;
    await a.pc.tick();
    expect(a.pc.owned()).to.include(5);
  });

  it('scale - a restart with the same member id takes its live leases over with new fencing revisions', async () => {
    const w = world();
    const first = w.add('a');
    await first.pc.start();
    const old = all.map((p) => first.pc.lease(p)!.revision);
    w.members.splice(0, 1); // the first process died without stopping; its leases are still live
    const second = w.add('a');
    await second.pc.start();
    expect(second.pc.owned()).to.deep.equal(all);
    all.forEach((p) => expect(second.pc.lease(p)!.revision).to.be.greaterThan(old[p]!));
  });

  it('scale - options are validated with errors naming the field', () => {
    const store = new MemoryLeaseStore({ ttlMs: TTL });
    const base = { store, group: 'g', member: 'a', partitions: 4, onAcquired() {}, onRevoked() {}, onLost() {} };
    const field = (o: object) => { try { new PartitionCoordinator({ ...base, ...o }); return 'accepted'; } catch (e) { return `${(e as { code: string }).code} ${(e as { details: { field: string } }).details.field}`; } };
    expect(field({})).to.equal('accepted');
    expect(field({ member: 'host.example' })).to.equal('SB_ERR_OPTIONS_INVALID member');
    expect(field({ group: 'a..b' })).to.equal('SB_ERR_OPTIONS_INVALID group');
    expect(field({ partitions: 0 })).to.equal('SB_ERR_OPTIONS_INVALID partitions');
    expect(field({ renewIntervalMs: TTL - SAFETY })).to.equal('SB_ERR_OPTIONS_INVALID renewIntervalMs');
    expect(field({ safetyMs: TTL })).to.equal('SB_ERR_OPTIONS_INVALID safetyMs');
  });
});

describe('scale memory lease store', () => {
  it('scale - memory lease store: compare-and-set on revision, expiry ttl after the last write', async () => {
    const clock = new VirtualClock();
    const s = new MemoryLeaseStore({ ttlMs: 1000, clock });
    const r1 = (await s.create('g.p.0', 'a'))!;
    expect(await s.create('g.p.0', 'b')).to.equal(undefined);
    clock.t = 900;
    const r2 = (await s.update('g.p.0', 'a', r1))!;
    expect(r2).to.be.greaterThan(r1);
    expect(await s.update('g.p.0', 'a', r1)).to.equal(undefined);
    expect(await s.delete('g.p.0', r1)).to.equal(false);
    clock.t = 1899;
    expect(await s.get('g.p.0')).to.deep.equal({ key: 'g.p.0', value: 'a', revision: r2 });
    clock.t = 1900;
    expect(await s.get('g.p.0')).to.equal(undefined);
    expect(await s.update('g.p.0', 'a', r2)).to.equal(undefined);
    const r3 = (await s.create('g.p.0', 'b'))!;
    expect(r3).to.be.greaterThan(r2);
    await s.create('g.m.x', 'x'); await s.create('g.m.y', 'y'); await s.create('h.m.z', 'z');
    expect((await s.list('g.m.')).map((e) => e.key).sort()).to.deep.equal(['g.m.x', 'g.m.y']);
    expect(await s.delete('g.m.x', (await s.get('g.m.x'))!.revision)).to.equal(true);
    expect((await s.list('g.')).map((e) => e.key).sort()).to.deep.equal(['g.m.y', 'g.p.0']);
    const afterDelete = (await s.create('g.m.x', 'x2'))!;
    expect(afterDelete).to.be.greaterThan(r3 + 3); // deletes count as writes
    try { await s.get('bad key'); expect.fail('accepted'); } catch (e) { expect((e as { code: string }).code).to.equal('SB_ERR_OPTIONS_INVALID'); }
  });
});
