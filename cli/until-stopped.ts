/**
 * Resolves on SIGINT or SIGTERM, after `durationMs`, or once `finished` resolves, and holds the
 * event loop open until then: a command on transports that hold no socket (memory://) would
 * otherwise see Node exit in the middle of its await, with code 0 and no graceful stop.
 * @example await untilStopped({ durationMs: 30_000 }); await running.stop();
 */
export function untilStopped(options: { durationMs?: number; finished?: Promise<void> } = {}): Promise<void> {
  return new Promise<void>((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30);
    const durationMs = options.durationMs ?? Infinity;
    const timer = Number.isFinite(durationMs) ? setTimeout(stop, durationMs) : undefined;
    function stop(): void {
      clearInterval(keepAlive);
      clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    }
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void options.finished?.then(stop);
  });
}
