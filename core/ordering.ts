import { BackpressureError } from './errors.js';

export interface SchedulerOptions {
  /** Items handled at once, across all keys. */
  concurrency: number;
  /** Items accepted but not started; beyond this `push` waits (or rejects, see `onFull`). */
  maxPending: number;
  /** When full: `wait` for room (backpressure to the caller) or `reject` with BackpressureError. */
  onFull: 'wait' | 'reject';
  /**
   * Told of a handler's synchronous throw or rejected promise. Either only ends its item, as
   * without the hook; the hook is there so a failure the handler did not deal with is not lost.
   */
  onError?: (err: unknown) => void;
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
  forEach(fn: (item: T) => void): void {
    for (let i = this.head; i < this.items.length; i++) fn(this.items[i] as T);
  }
}

/**
 * One key's state. It outlives its items, so a key that comes back (a device reporting again)
 * finds it instead of making it anew: deleting and re-adding Map entries for every message makes
 * V8 shrink and regrow the table over and over.
 */
class Lane<T> {
  /** An item of this key is running or ready to start. */
  busy = false;
  /** Items waiting behind it: made when a second item arrives while the key is busy, dropped when empty. */
  waiting: Fifo<T> | undefined = undefined;
  /** Called when its running item settles; made once per key, not once per item. */
  readonly finished: () => void;
  /** Called when its running item rejects; made once per key, like `finished`. */
  readonly failed: (err: unknown) => void;

  constructor(finish: (lane: Lane<T>) => void, fail: (lane: Lane<T>, err: unknown) => void) {
    this.finished = () => finish(this);
    this.failed = (err) => fail(this, err);
  }
}

/**
 * An item queued to start. Entries and waiters are classes, not object literals: a burst keeps
 * thousands of them alive at once, and V8 then pretenures a literal's allocation site, which left
 * every later message's objects promoted to the old generation by each young collection
 * (memory-publish-after-burst: ~750k against 1.15M msg/s in about one process of two; see
 * core/delivery.ts and bench/RESULTS.md, stop 30).
 */
class Entry<T> { constructor(readonly item: T, readonly lane: Lane<T> | undefined) {} }

/** A producer waiting for room, with its item: let in by whoever makes the room, so none can overtake it. */
class Waiter<T> { constructor(readonly item: T, readonly key: string | undefined, readonly admitted: () => void) {} }

/**
 * Runs `handle(item)` with bounded concurrency. Items with the same key run strictly one after
 * another in arrival order; items without a key or with different keys run concurrently.
 * Nothing is dropped: a full queue makes the producer wait or fail loudly.
 *
 * `handle` may finish synchronously (return nothing): the item is then done before `push`
 * returns, with no promise made for it. Its failures are its own business; a throw or a
 * rejection only ends the item (and is passed to `onError`, if given).
 *
 * @example
 * const s = new KeyedScheduler(async (m) => handle(m), { concurrency: 8, maxPending: 1000, onFull: 'wait' });
 * await s.push(message, message.partitionkey);
 */
export class KeyedScheduler<T> {
  private readonly ready = new Fifo<Entry<T>>();
  private readonly lanes = new Map<string, Lane<T>>();
  /** Past this many lanes the idle ones are forgotten (at most concurrency + maxPending are busy). */
  private readonly maxLanes: number;
  private running = 0;
  private pending = 0;
  /** True while `pump` runs its loop: items that finish inside it leave the next start to it. */
  private pumping = false;
  private readonly waiters = new Fifo<Waiter<T>>();
  private idleWaiters: Array<() => void> = [];
  private readonly finishLane = (lane: Lane<T>): void => this.finish(lane);
  private readonly finishedUnkeyed = (): void => this.finish(undefined);
  private readonly failLane = (lane: Lane<T>, err: unknown): void => this.fail(lane, err);
  private readonly failedUnkeyed = (err: unknown): void => this.fail(undefined, err);

  constructor(private readonly handle: (item: T) => void | Promise<void>, private readonly options: SchedulerOptions) {
    this.maxLanes = Math.max(1024, 2 * (options.concurrency + options.maxPending));
  }

  /** Items handled right now / accepted and waiting. */
  get load(): { running: number; pending: number } { return { running: this.running, pending: this.pending }; }

  /** Producers waiting for room (`push` returned them a promise), each with its item. */
  get waiting(): number { return this.waiters.length; }

  /**
   * Queues an item (or starts it at once when there is room); returns a promise only when it has
   * to wait for room. Waiting producers get in in the order they came, before any later push.
   */
  push(item: T, key?: string): void | Promise<void> {
    if (this.pending >= this.options.maxPending || this.waiters.length > 0) {
      if (this.options.onFull === 'reject') {
        throw new BackpressureError(`queue is full (${this.options.maxPending} pending)`, { details: { maxPending: this.options.maxPending } });
      }
      return new Promise<void>((admitted) => this.waiters.push(new Waiter(item, key, admitted)));
    }
    this.admit(item, key);
  }

  private admit(item: T, key: string | undefined): void {
    let lane: Lane<T> | undefined;
    if (key !== undefined) {
      lane = this.laneOf(key);
      if (lane.busy) { // wait behind the running item
        this.pending++;
        (lane.waiting ??= new Fifo<T>()).push(item);
        return;
      }
      lane.busy = true;
    }
    if (this.running < this.options.concurrency && this.ready.length === 0) {
      this.start(item, lane);
      return;
    }
    this.pending++;
    this.ready.push(new Entry(item, lane));
    this.pump();
  }

  /** Calls `fn` for each item of `key` waiting behind its running one, oldest first. */
  forEachWaiting(key: string, fn: (item: T) => void): void {
    this.lanes.get(key)?.waiting?.forEach(fn);
  }

  /** Resolves when nothing is running or pending. */
  idle(): Promise<void> {
    if (this.running === 0 && this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private laneOf(key: string): Lane<T> {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      if (this.lanes.size >= this.maxLanes) {
        for (const [k, l] of this.lanes) if (!l.busy) this.lanes.delete(k);
      }
      lane = new Lane<T>(this.finishLane, this.failLane);
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private pump(): void {
    // An item that finishes synchronously calls back in here; the loop below starts the next,
    // so a long queue of synchronous items is worked off iteratively, not by recursion.
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.running < this.options.concurrency && this.ready.length > 0) {
        const { item, lane } = this.ready.shift()!;
        this.pending--;
        this.start(item, lane);
        this.admitWaiting();
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Lets producers that waited for room in, oldest first. Their items are queued here and now:
   * resolving their promise and letting them push again later would let a newer push take the
   * room first, and items from one producer would overtake each other.
   */
  private admitWaiting(): void {
    while (this.pending < this.options.maxPending && this.waiters.length > 0) {
      const { item, key, admitted } = this.waiters.shift()!;
      this.admit(item, key);
      admitted();
    }
  }

  private start(item: T, lane: Lane<T> | undefined): void {
    this.running++;
    let handling: void | Promise<void>;
    try {
      handling = this.handle(item);
    } catch (err) {
      this.fail(lane, err);
      return;
    }
    if (handling !== undefined && typeof handling.then === 'function') {
      if (lane === undefined) handling.then(this.finishedUnkeyed, this.failedUnkeyed);
      else handling.then(lane.finished, lane.failed);
    } else {
      this.finish(lane);
    }
  }

  private fail(lane: Lane<T> | undefined, err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // A hook that throws must neither keep the slot taken nor escape as an unhandled rejection.
    }
    this.finish(lane);
  }

  private finish(lane: Lane<T> | undefined): void {
    this.running--;
    if (lane !== undefined) {
      const waiting = lane.waiting;
      if (waiting === undefined) lane.busy = false;
      else {
        const next = waiting.shift()!;
        if (waiting.length === 0) lane.waiting = undefined;
        this.ready.push(new Entry(next, lane));
      }
    }
    this.pump();
    if (this.running === 0 && this.pending === 0 && this.idleWaiters.length > 0) {
      const ws = this.idleWaiters; this.idleWaiters = [];
      for (const w of ws) w();
    }
  }
}
