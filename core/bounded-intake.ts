/**
 * Bounded intake for transports that cannot hold the sender back. A core NATS server, or a hub
 * that ignores the window it was given, pushes messages at whatever rate it likes; handing each to
 * the Bus and not waiting for room queues them without bound (issue 20: 75 MiB to 1 GiB in a
 * minute). `BoundedIntake` sits between such a transport and the Bus' handler and drops what
 * arrives while the Bus has no room; `IntakeDropReport` is the Bus' side: it counts each drop as
 * a metric field and logs, rate-limited, the way nats-server treats its own slow consumers.
 *
 * Policy: drop newest. What the Bus already holds (up to `maxInFlight + maxPending`) is kept and
 * handled in order; what finds it full is dropped. Dropping oldest would throw away work the Bus
 * accepted (and for ordered keys, holes in the middle of a key's run instead of at its end), and it
 * is what nats-server itself does: a slow consumer loses the messages that did not fit.
 */
import { BackpressureError } from './errors.js';
import type { FieldCounter } from './metrics.js';
import type { Logger } from './logger.js';
import type { InboundHandler, InboundMessage, TransportSubscribeOptions } from './transport.js';

/**
 * The gate one subscription's deliveries pass on a transport that cannot hold its sender back.
 * A message is handed to the Bus while fewer than `maxHeld` handed-over messages wait for room
 * (the Bus returned a promise for them); past that it is dropped and `onDropped` is told. With
 * `maxHeld` 1 a subscription holds at most the Bus' bound plus the one message that found it
 * full. Without `onDropped` (a caller that bounds its own queue, such as the hub or the gateway
 * relaying a stream) every message is handed over, as before.
 *
 * @example
 * const intake = new BoundedIntake(onMessage, options);
 * nc.subscribe(pattern, { callback: (_err, m) => { if (intake.full) intake.drop(m.subject); else intake.offer(decode(m)); } });
 */
export class BoundedIntake {
  /** Handed-over messages the Bus has not found room for yet. */
  private held = 0;
  private readonly onDropped: ((subject: string) => void) | undefined;
  /** One callback for every promise, not a closure per message. */
  private readonly released = (): void => { this.held--; };

  constructor(private readonly onMessage: InboundHandler, options: Pick<TransportSubscribeOptions, 'onDropped'>, private readonly maxHeld = 1) {
    this.onDropped = options.onDropped;
  }

  /** True when the next message would be dropped: check it before decoding one, so a drop costs nothing. */
  get full(): boolean { return this.onDropped !== undefined && this.held >= this.maxHeld; }

  /** Messages handed over and still waiting for room (at most `maxHeld` when drops are reported). */
  get waiting(): number { return this.held; }

  /** Hands `msg` to the Bus, or drops it when the Bus has no room; true when handed over. */
  offer(msg: InboundMessage): boolean {
    if (this.full) { this.drop(msg.subject); return false; }
    let r: void | Promise<void>;
    try {
      r = this.onMessage(msg);
    } catch (err) {
      // `onFull: 'reject'`: the Bus refuses at once rather than waiting; for this transport that is a drop.
      if (this.onDropped !== undefined && err instanceof BackpressureError) { this.drop(msg.subject); return false; }
      throw err;
    }
    if (r !== undefined) {
      this.held++;
      r.then(this.released, this.released);
    }
    return true;
  }

  /** Counts a message on `subject` as dropped without handing it over. */
  drop(subject: string): void {
    this.onDropped?.(subject);
  }
}

export interface IntakeDropReportOptions {
  /** At most one warning per this many ms. Default 10,000. */
  logIntervalMs?: number;
}

/** Default time between two drop warnings of one subscription, ms. */
export const INTAKE_DROP_LOG_INTERVAL_MS = 10_000;

/**
 * What the Bus does with the drops of one subscription: each is counted on its subject's
 * `<service>:<subject> intake dropped` metric field, and a warning is logged at once for the first
 * drop, then at most once per interval with the number dropped since the line before, so a flood
 * of drops costs one line every 10 s, not one per message.
 *
 * @example
 * const report = new IntakeDropReport('sensor.>', 101, logger, (s) => subjects.entry(s).intakeDropped);
 * options.onDropped = report.dropped;
 */
export class IntakeDropReport {
  /** Drops since the last warning. */
  private unlogged = 0;
  /** Every drop of this subscription. */
  total = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly intervalMs: number;

  constructor(private readonly pattern: string, private readonly bound: number, private readonly logger: Logger,
    private readonly counterFor: (subject: string) => FieldCounter, options: IntakeDropReportOptions = {}) {
    this.intervalMs = options.logIntervalMs ?? INTAKE_DROP_LOG_INTERVAL_MS;
  }

  /** Told by the transport of each dropped message (bound: transports call it bare). */
  readonly dropped = (subject: string): void => {
    this.total++;
    this.counterFor(subject).add();
    this.unlogged++;
    if (this.timer === undefined) {
      this.warn();
      this.schedule();
    }
  };

  /** Logs what was dropped since the last line and stops the timer (on drain and unsubscribe). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.unlogged > 0) this.warn();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      if (this.unlogged === 0) { this.timer = undefined; return; }
      this.warn();
      this.schedule();
    }, this.intervalMs);
    this.timer.unref?.();
  }

  private warn(): void {
    this.logger.warn('slow consumer: messages dropped at intake (the transport cannot hold its sender back and the subscription\'s queue is full)', {
      pattern: this.pattern, dropped: this.unlogged, droppedTotal: this.total, bound: this.bound, everyMs: this.intervalMs,
    });
    this.unlogged = 0;
  }
}
