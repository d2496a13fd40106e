/**
 * Waiting in tests: on a condition, never on a guess. `sleep` is for the few places where a real
 * delay is what the test is about (a handler that takes time, a broker kept down for a while).
 *
 * @example await waitFor(() => got.length === 2, { timeoutMs: 2000, what: 'both events' });
 */

export interface WaitOptions {
  /** Fail after this long, ms. Default 2000. */
  timeoutMs?: number;
  /** What is awaited, for the failure message ("the dead letter"); a function is asked when the wait fails. */
  what: string | (() => string);
  /** Time between checks, ms. Default 5. */
  intervalMs?: number;
}

/** Resolves once `check` holds (it may be async); rejects after `timeoutMs`, naming `what`. */
export async function waitFor(check: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const what = typeof options.what === 'function' ? options.what() : options.what;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(options.intervalMs ?? 5);
  }
}

/** A real delay. Use it where time passing is the point, never to let something "settle". */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One turn of the event loop: lets promise callbacks and I/O callbacks queued so far run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
