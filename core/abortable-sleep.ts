import type { StopNotice } from './stop-notice.js';
import type { InboundMessage } from './transport.js';

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

/** Resolves after `ms`, or at once when the subscription stops; it waits on `stop` only meanwhile. */
export function sleepUntilStopped(ms: number, stop: StopNotice): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted) { resolve(); return; }
    const waiter = { stopped(): void { clearTimeout(timer); resolve(); } };
    const timer = setTimeout(() => { stop.unwait(waiter); resolve(); }, ms);
    stop.wait(waiter);
  });
}

/** How often messages held through a retry backoff are reported still in progress. */
export const IN_PROGRESS_EVERY_MS = 1000;

/**
 * Waits out a retry backoff while `report` tells the transport the held messages are still being
 * worked on (a transport with an ack deadline, JetStream's ack wait, would otherwise redeliver
 * them): once when the backoff starts and every IN_PROGRESS_EVERY_MS until it ends.
 */
export function holdThroughBackoff(ms: number, stop: StopNotice, report: () => void): Promise<void> {
  report();
  if (ms <= IN_PROGRESS_EVERY_MS) return sleepUntilStopped(ms, stop);
  const ticker = setInterval(report, IN_PROGRESS_EVERY_MS);
  return sleepUntilStopped(ms, stop).finally(() => clearInterval(ticker));
}

/** Tells the transport `msg` is still being worked on, where it has a way to hear it. */
export function reportInProgress(msg: InboundMessage): void {
  if (msg.inProgress === undefined) return;
  // A lost connection fails this report; the settlement that follows reports the loss.
  try { void Promise.resolve(msg.inProgress()).catch(() => {}); } catch { /* as above */ }
}
