/** Told when a subscription stops. An object with a method, so a message waiting on it makes no closure. */
export interface StopWaiter {
  stopped(reason: unknown): void;
}

/**
 * A subscription's stop, listened to once on its AbortSignal however many messages wait on it.
 * A listener per waiting message (a handler reading `ctx.signal`, a retry backing off) would
 * warn `MaxListenersExceededWarning` past ten, and each removal walks the signal's listener list.
 * The one listener is there only while something waits, so an idle subscription holds none.
 */
export class StopNotice {
  private readonly waiters = new Set<StopWaiter>();

  constructor(readonly signal: AbortSignal) {}

  /** The signal aborted (listener interface: an object, so no closure is made). */
  handleEvent(): void {
    const reason = this.signal.reason;
    for (const waiter of this.waiters) waiter.stopped(reason);
    this.waiters.clear();
  }

  get aborted(): boolean { return this.signal.aborted; }

  get reason(): unknown { return this.signal.reason; }

  /** Tells `waiter` when the subscription stops; false, and nothing kept, when it already has. */
  wait(waiter: StopWaiter): boolean {
    if (this.signal.aborted) return false;
    if (this.waiters.size === 0) this.signal.addEventListener('abort', this, { once: true });
    this.waiters.add(waiter);
    return true;
  }

  /** `waiter` no longer waits: the try or the backoff it belonged to is over. */
  unwait(waiter: StopWaiter): void {
    if (this.waiters.delete(waiter) && this.waiters.size === 0) this.signal.removeEventListener('abort', this);
  }
}
