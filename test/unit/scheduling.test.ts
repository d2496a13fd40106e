import { expect } from 'chai';
import fc from 'fast-check';
import { BackpressureError, KeyedScheduler, OptionsInvalidError, partitionOf, resolveRetryPolicy, retryDelay } from '../../core/index.js';

const tick = () => new Promise((r) => setImmediate(r));

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
      await new Promise((r) => setTimeout(r, Math.random() * 4));
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
    await tick();
    expect(accepted).to.equal(false);
    release();
    await p;
    await Promise.all([rejecting.idle(), waiting.idle()]);
    expect(done.sort((a, b) => a - b)).to.deep.equal([1, 2, 3, 10, 11, 12, 13]);
  });

  it('partitions - every key lands in exactly one stable partition (property)', () => {
    fc.assert(fc.property(fc.string(), fc.integer({ min: 1, max: 64 }), (key, count) => {
      const p = partitionOf(key, count);
      expect(p).to.be.within(0, count - 1);
      expect(partitionOf(key, count)).to.equal(p);
    }));
    expect(partitionOf('sensor-7', 16)).to.equal(partitionOf('sensor-7', 16));
    expect(partitionOf(undefined, 8)).to.equal(0);
  });
});
