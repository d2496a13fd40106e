/**
 * Resolves after `ms`, or at once when `signal` aborts. Its abort listener is removed when the
 * time is up: the signal is a subscription's, which lives far longer than one wait, and every
 * listener left on it would be kept until the subscription stops.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) { setTimeout(resolve, ms); return; }
    if (signal.aborted) { resolve(); return; }
    const end = (): void => { clearTimeout(timer); signal.removeEventListener('abort', end); resolve(); };
    const timer = setTimeout(end, ms);
    signal.addEventListener('abort', end);
  });
}
