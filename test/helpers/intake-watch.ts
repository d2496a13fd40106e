/**
 * What the intake-bound tests look at: the most a subscription held at once (sampled every
 * millisecond and from inside the handler), the `intake dropped` metric fields of a Bus, and the
 * warnings its logger wrote.
 */
import type { Bus, Logger, Subscription } from '../../core/index.js';

/** A logger that keeps warnings (message and fields) and drops the rest. */
export function warningLog(): { logger: Logger; warnings: Array<{ msg: string; fields: Record<string, unknown> }> } {
  const warnings: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const logger: Logger = {
    debug() {}, info() {}, error() {},
    warn(msg, fields) { warnings.push({ msg, fields: fields ?? {} }); },
    child() { return logger; },
  };
  return { logger, warnings };
}

/** The drop warnings among `warnings` (see IntakeDropReport). */
export function dropWarnings(warnings: Array<{ msg: string; fields: Record<string, unknown> }>): Array<Record<string, unknown>> {
  return warnings.filter((w) => w.msg.startsWith('slow consumer: messages dropped at intake')).map((w) => w.fields);
}

/** Every `… intake dropped` field the Bus counted, summed over subjects. */
export function intakeDropped(bus: Bus): number {
  let n = 0;
  for (const [field, { count }] of bus.metrics.totals()) if (field.endsWith(' intake dropped')) n += count;
  return n;
}

/** Tracks the most a subscription held at once (running + pending + waiting for room). */
export class LoadWatch {
  most = 0;
  mostWaiting = 0;
  private sub?: Subscription;
  private timer?: ReturnType<typeof setInterval>;

  watch(sub: Subscription): void {
    this.sub = sub;
    this.timer = setInterval(() => this.sample(), 1);
  }

  /** Also called from handlers: the queue is at its fullest while one runs. */
  sample(): void {
    if (!this.sub) return;
    const { running, pending, waiting } = this.sub.load();
    this.most = Math.max(this.most, running + pending + waiting);
    this.mostWaiting = Math.max(this.mostWaiting, waiting);
  }

  stop(): void { clearInterval(this.timer); }
}

/**
 * A raw subscription on `<prefix>.>` whose handler takes 5 ms while `slow` is set (1 in flight,
 * 100 pending), watched by `watch`: what the intake-bound tests flood.
 */
export async function slowSubscriber(bus: Bus, prefix: string, watch: LoadWatch): Promise<{ sub: Subscription; bound: number; handled: () => number; speedUp: () => void }> {
  const maxInFlight = 1; const maxPending = 100;
  let handled = 0; let slow = true;
  const sub = await bus.subscribe(`${prefix}.>`, async () => {
    watch.sample();
    if (slow) await new Promise((resolve) => setTimeout(resolve, 5));
    handled++;
  }, { raw: true, maxInFlight, maxPending });
  watch.watch(sub);
  return { sub, bound: maxInFlight + maxPending, handled: () => handled, speedUp: () => { slow = false; } };
}
