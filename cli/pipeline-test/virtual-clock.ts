import type { Clock } from '../../core/index.js';

/**
 * A clock that moves only when told: `signalbus test` gives it to the services that read the
 * wall clock (aggregate idle close, ingest's receive time), so a 30 s idle timeout takes no real
 * time. It never goes back: a message whose event time lies behind it leaves it where it is.
 *
 * @example const clock = new VirtualClock(1_700_000_000_000); clock.advance(5000); clock.now() // 1_700_000_005_000
 */
export class VirtualClock implements Clock {
  private current: number;

  constructor(start: number) {
    if (!Number.isFinite(start)) throw new RangeError(`virtual clock start must be a finite number, got ${start}`);
    this.current = start;
  }

  /** Bound, so it can be handed over as a `now` function. */
  readonly now = (): number => this.current;

  /** Moves on by `ms` (>= 0); returns the new time. */
  advance(ms: number): number {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`virtual clock can only advance by a finite ms >= 0, got ${ms}`);
    this.current += ms;
    return this.current;
  }

  /** Moves on to `at` if it lies ahead; returns whether it moved. */
  advanceTo(at: number): boolean {
    if (!(at > this.current)) return false;
    this.current = at;
    return true;
  }
}
