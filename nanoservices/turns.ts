/**
 * Most windows (or other outputs) a service emits in one go before it gives the event loop a
 * turn. One window is a publish per field: a slice of 32 is around a millisecond of work here.
 */
export const EMIT_SLICE = 32;

/**
 * Resolves on the next turn of the event loop, after the I/O and timers that are due, so that
 * a long run of work started by one message or one timer does not hold up everything else.
 *
 * @example
 * for (let i = 0; i < windows.length; i++) { if (i > 0 && i % EMIT_SLICE === 0) await nextTurn(); await emit(windows[i]); }
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
