import { expect } from 'chai';
import fc from 'fast-check';
import { BackpressureError, KeyedScheduler, OptionsInvalidError, partitionOf, resolveRetryPolicy, retryDelay } from '../../core/index.js';

import { nextTurn, sleep } from '../helpers/wait.js';

describe('scheduling, retries and partitions', () => {
  it('retry - delays grow exponentially, are capped and jittered within bounds (property)', () => {
    const policy = resolveRetryPolicy({ initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000, jitter: 0.5 });
    expect(retryDelay(policy, 1, () => 0)).to.equal(50);
    expect(retryDelay(policy, 1, () => 1)).to.equal(100);
    expect(retryDelay(policy, 3, () => 1)).to.equal(400);
    expect(retryDelay(policy, 10, () => 1)).to.equal(1000);
    fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (attempt, r) => {
      const d = retryDelay(policy, attempt, () => r);
      const base = Math.min(1000, 100 * 2 ** (attempt - 1));
      expect(d).to.be.within(Math.floor(base / 2), base);
    }));
  });

  it('retry - rejects bad policies naming the field', () => {
    for (const bad of [{ maxAttempts: 0 }, { maxAttempts: 1.5 }, { jitter: 2 }, { multiplier: 0.5 }, { initialDelayMs: 10, maxDelayMs: 5 }]) {
      expect(() => resolveRetryPolicy(bad), JSON.stringify(bad)).to.throw(OptionsInvalidError);
    }
  });

  it('ordering - same key strictly sequential, different keys concurrent up to the limit', async () => {
    const log: string[] = [];
    let running = 0; let maxRunning = 0;
    const s = new KeyedScheduler<{ k: string; i: number }>(async (m) => {
      running++; maxRunning = Math.max(maxRunning, running);
      await sleep(Math.random() * 4); // handlers of different length, so keys overtake each other
      log.push(`${m.k}${m.i}`);
      running--;
    }, { concurrency: 3, maxPending: 1000, onFull: 'wait' });
    for (let i = 0; i < 20; i++) for (const k of ['a', 'b', 'c', 'd']) await s.push({ k, i }, k);
    await s.idle();
    for (const k of ['a', 'b', 'c', 'd']) expect(log.filter((x) => x.startsWith(k))).to.deep.equal([...Array(20).keys()].map((i) => `${k}${i}`));
    expect(maxRunning).to.equal(3);
  });

  it('backpressure - a full queue rejects with BackpressureError or makes the producer wait; nothing is dropped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const done: number[] = [];
    const rejecting = new KeyedScheduler<number>(async (n) => { await gate; done.push(n); }, { concurrency: 1, maxPending: 2, onFull: 'reject' });
    rejecting.push(1); rejecting.push(2); rejecting.push(3);
    expect(() => rejecting.push(4)).to.throw(BackpressureError);
    const waiting = new KeyedScheduler<number>(async (n) => { await gate; done.push(n); }, { concurrency: 1, maxPending: 2, onFull: 'wait' });
    waiting.push(10); waiting.push(11); waiting.push(12);
    let accepted = false;
    const p = (waiting.push(13) as Promise<void>).then(() => { accepted = true; });
    await nextTurn();
    expect(accepted).to.equal(false);
    release();
    await p;
    await Promise.all([rejecting.idle(), waiting.idle()]);
    expect(done.sort((a, b) => a - b)).to.deep.equal([1, 2, 3, 10, 11, 12, 13]);
  });

  it('ordering - a synchronous item is done before push returns; one key keeps its order across synchronous and asynchronous items', async () => {
    const log: string[] = [];
    let running = 0; let maxRunning = 0;
    const s = new KeyedScheduler<{ k: string; i: number }>((m) => {
      running++; maxRunning = Math.max(maxRunning, running);
      if (m.i % 3 !== 0) { log.push(`${m.k}${m.i}`); running--; return; }
      return (async () => {
        await sleep(Math.random() * 3);
        log.push(`${m.k}${m.i}`);
        running--;
      })();
    }, { concurrency: 2, maxPending: 1000, onFull: 'wait' });
    expect(s.push({ k: 'solo', i: 1 }, 'solo')).to.equal(undefined);
    expect(log, 'finished within push').to.deep.equal(['solo1']);
    expect(s.load).to.deep.equal({ running: 0, pending: 0 });
    for (let i = 0; i < 30; i++) for (const k of ['a', 'b', 'c']) await s.push({ k, i }, k);
    await s.idle();
    for (const k of ['a', 'b', 'c']) expect(log.filter((x) => x.startsWith(k))).to.deep.equal([...Array(30).keys()].map((i) => `${k}${i}`));
    expect(maxRunning).to.be.at.most(2);
  });

  it('ordering - a synchronous throw or a rejection ends only its own item, with or without an onError hook that throws', async () => {
    for (const onError of [undefined, () => { throw new Error('the hook is broken'); }]) {
      const done: number[] = [];
      const s = new KeyedScheduler<number>((n) => {
        if (n === 1) throw new Error('sync');
        if (n === 2) return Promise.reject(new Error('async'));
        done.push(n);
      }, { concurrency: 1, maxPending: 10, onFull: 'wait', onError });
      for (const n of [1, 2, 3, 4]) s.push(n, 'k');
      await s.idle();
      expect(done).to.deep.equal([3, 4]);
      expect(s.load).to.deep.equal({ running: 0, pending: 0 });
    }
  });

  it('ordering - a key gets a queue only when a second item arrives while it is busy, and loses it once drained', async () => {
    type Lanes = Map<string, { busy: boolean; waiting?: { length: number } }>;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const s = new KeyedScheduler<number>((n) => (n === 1 ? gate : undefined), { concurrency: 8, maxPending: 100, onFull: 'wait' });
    const lanes = (s as unknown as { lanes: Lanes }).lanes;
    s.push(1, 'k');
    expect(lanes.get('k')).to.include({ busy: true, waiting: undefined });
    s.push(5, 'other');
    expect(lanes.get('other')).to.include({ busy: false, waiting: undefined });
    s.push(2, 'k'); s.push(3, 'k');
    expect(lanes.get('k')!.waiting!.length).to.equal(2);
    expect(s.load).to.deep.equal({ running: 1, pending: 2 });
    release();
    await s.idle();
    expect(lanes.get('k')).to.include({ busy: false, waiting: undefined });
  });

  it('ordering - a long queue of synchronous items behind one key is worked off without recursion', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let handled = 0;
    const s = new KeyedScheduler<number>((n) => { handled++; return n === 0 ? gate : undefined; }, { concurrency: 4, maxPending: 200_000, onFull: 'reject' });
    for (let i = 0; i < 100_000; i++) s.push(i, 'k');
    expect(handled).to.equal(1);
    release();
    await s.idle();
    expect(handled).to.equal(100_000);
  });

  it('ordering - idle keys are forgotten once there are more than the bound, busy ones never', async () => {
    const s = new KeyedScheduler<number>(() => {}, { concurrency: 1, maxPending: 10, onFull: 'wait' });
    const lanes = (s as unknown as { lanes: Map<string, unknown> }).lanes;
    for (let i = 0; i < 5000; i++) s.push(i, `key-${i}`);
    expect(lanes.size).to.be.at.most(1024);
    let release!: () => void;
    const busy = new KeyedScheduler<number>((n) => (n === 0 ? new Promise<void>((r) => { release = r; }) : undefined), { concurrency: 2, maxPending: 10, onFull: 'wait' });
    const busyLanes = (busy as unknown as { lanes: Map<string, unknown> }).lanes;
    busy.push(0, 'held');
    for (let i = 0; i < 2000; i++) busy.push(i + 1, `key-${i}`);
    expect(busyLanes.size).to.be.at.most(1024);
    expect(busyLanes.has('held')).to.equal(true);
    release();
    await busy.idle();
  });

  it('backpressure - producers waiting for room get in in the order they came, before any later push', async () => {
    const handled: number[] = [];
    const s: KeyedScheduler<number> = new KeyedScheduler<number>(async (n) => {
      if (n === 2) void s.push(5); // comes while 4 still waits for the room 2 just made
      await null;
      handled.push(n);
    }, { concurrency: 1, maxPending: 2, onFull: 'wait' });
    s.push(1); s.push(2); s.push(3);
    const waited = s.push(4);
    expect(waited).to.be.instanceOf(Promise);
    await waited;
    await s.idle();
    expect(handled).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('partitions - every key lands in exactly one stable partition (property)', () => {
    fc.assert(fc.property(fc.string(), fc.integer({ min: 1, max: 64 }), (key, count) => {
      const p = partitionOf(key, count);
      expect(p).to.be.within(0, count - 1);
      expect(partitionOf(key, count)).to.equal(p);
    }));
    expect(partitionOf(undefined, 8)).to.equal(0);
  });

  it('partitions - a key maps to the partition its 32-bit FNV-1a hash gives (golden values)', () => {
    // Pinned: instances and stored checkpoints of one pipeline must agree on this across releases.
    // Hashes computed outside signalbus (FNV-1a over UTF-16 code units; 'a' is the published 0xe40c292c).
    const golden: Array<[key: string, counts: Record<number, number>]> = [
      ['', { 2: 1, 8: 5, 16: 5, 64: 5, 1000: 261 }],
      ['a', { 2: 0, 8: 4, 16: 12, 64: 44, 1000: 220 }],
      ['sensor-7', { 2: 1, 8: 7, 16: 15, 64: 15, 1000: 847 }],
      ['sensor-42', { 2: 0, 8: 0, 16: 0, 64: 48, 1000: 536 }],
      ['device/ü', { 2: 0, 8: 0, 16: 8, 64: 56, 1000: 824 }],
      ['k3', { 2: 1, 8: 3, 16: 11, 64: 27, 1000: 251 }],
    ];
    for (const [key, counts] of golden) {
      for (const [count, partition] of Object.entries(counts)) expect(partitionOf(key, Number(count)), `${key} of ${count}`).to.equal(partition);
    }
    expect(partitionOf('sensor-7', 1), 'one partition').to.equal(0);
  });
});
