// Many envelopes are stamped within the same millisecond; format each millisecond once.
let lastMs = 0;
let lastIso = '';

/** The current time as an RFC 3339 string (millisecond precision). */
export function nowIso(): string {
  const ms = Date.now();
  if (ms !== lastMs) { lastMs = ms; lastIso = new Date(ms).toISOString(); }
  return lastIso;
}

/**
 * Where time-driven code reads the wall clock. The runtime passes one in (nanoservice configs'
 * `now`); the system clock by default, a virtual one under `signalbus test`, so windows close
 * and idle timeouts elapse with no real waiting. `now` is a plain function, so a hot path keeps
 * calling one function as it did with `Date.now`.
 *
 * @example const clock: Clock = systemClock; clock.now() // ms since the epoch
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: Date.now };
