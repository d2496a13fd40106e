import { BackpressureError } from './errors.js';

export interface SchedulerOptions {
  /** Items handled at once, across all keys. */
  concurrency: number;
  /** Items accepted but not started; beyond this `push` waits (or rejects, see `onFull`). */
  maxPending: number;
  /** When full: `wait` for room (backpressure to the caller) or `reject` with BackpressureError. */
  onFull: 'wait' | 'reject';
}

/** A FIFO with O(1) shift (Array#shift is O(n) once queues grow). */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  get length(): number { return this.items.length - this.head; }
  push(item: T): void { this.items.push(item); }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0; }
    return item;
  }
}

interface Entry<T> { item: T; key: string | undefined }

/**
 * Runs `handle(item)` with bounded concurrency. Items with the same key run strictly one after
 * another in arrival order; items without a key or with different keys run concurrently.
 * Nothing is dropped: a full queue makes the producer wait or fail loudly.
 *
 * @example
 * const s = new KeyedScheduler(async (m) => handle(m), { concurrency: 8, maxPending: 1000, onFull: 'wait' });
 * await s.push(message, message.partitionkey);
 */
export class KeyedScheduler<T> {
  private readonly ready = new Fifo<Entry<T>>();
  private readonly lanes = new Map<string, Fifo<T>>();
  private running = 0;
  private pending = 0;
  private readonly waiters = new Fifo<() => void>();
  private idleWaiters: Array<() => void> = [];
  private readonly onSettled: (key: string | undefined) => void;

  constructor(private readonly handle: (item: T) => Promise<void>, private readonly options: SchedulerOptions) {
    this.onSettled = (key) => this.finish(key);
  }

  /** Items handled right now / accepted and waiting. */
  get load(): { running: number; pending: number } { return { running: this.running, pending: this.pending }; }

  /** Queues an item; returns a promise only when it has to wait for room. */
  push(item: T, key?: string): void | Promise<void> {
    if (this.pending >= this.options.maxPending) {
      if (this.options.onFull === 'reject') {
        throw new BackpressureError(`queue is full (${this.options.maxPending} pending)`, { details: { maxPending: this.options.maxPending } });
      }
      return new Promise<void>((resolve) => this.waiters.push(resolve)).then(() => this.push(item, key));
    }
    this.pending++;
    if (key === undefined) {
      this.ready.push({ item, key });
    } else {
      const lane = this.lanes.get(key);
      if (lane) lane.push(item); // the key is busy: wait behind it
      else { this.lanes.set(key, new Fifo<T>()); this.ready.push({ item, key }); }
    }
    this.pump();
  }

  /** Resolves when nothing is running or pending. */
  idle(): Promise<void> {
    if (this.running === 0 && this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.options.concurrency && this.ready.length > 0) {
      const { item, key } = this.ready.shift()!;
      this.pending--;
      this.running++;
      this.waiters.shift()?.();
      this.handle(item).then(() => this.onSettled(key), () => this.onSettled(key));
    }
  }

  private finish(key: string | undefined): void {
    this.running--;
    if (key !== undefined) {
      const lane = this.lanes.get(key)!;
      const next = lane.shift();
      if (next !== undefined) this.ready.push({ item: next, key });
      else this.lanes.delete(key);
    }
    this.pump();
    if (this.running === 0 && this.pending === 0 && this.idleWaiters.length > 0) {
      const ws = this.idleWaiters; this.idleWaiters = [];
      for (const w of ws) w();
    }
  }
}
