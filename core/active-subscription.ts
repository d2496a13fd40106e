import { IntakeDropReport } from './bounded-intake.js';
import type { ResolvedSubscribeOptions } from './bus-options.js';
import type { Logger } from './logger.js';
import type { Envelope } from './envelope.js';
import type { Handler } from './handler.js';
import { compose, type Middleware, type MiddlewareContext } from './middleware.js';
import { KeyedScheduler } from './ordering.js';
import { orderingKey, UNSETTLED_MESSAGE, type Handling, type Settlement } from './settlement.js';
import { StopNotice } from './stop-notice.js';
import type { SubjectTable } from './subject-table.js';
import type { InboundMessage, TransportSubscribeOptions, TransportSubscription } from './transport.js';

/**
 * One subscription as the Bus runs it: the transport's subscription feeding a bounded scheduler
 * (by key when ordered) that runs each message through its settlement.
 */
export class ActiveSubscription {
  readonly scheduler: KeyedScheduler<InboundMessage>;
  /** Aborted when the subscription is unsubscribed or the Bus' stop runs out of time. */
  readonly controller = new AbortController();
  private transportSub?: TransportSubscription;
  /** Position of the last message handed to the scheduler (transports with replay). */
  private lastPosition: number | undefined;
  /** While paused: messages taken from the transport and not yet handed over, in order. */
  private held: InboundMessage[] | undefined;
  /** While paused: resolves on resume, for transports that wait for room before the next message. */
  private resumed?: Promise<void>;
  private releaseHeld?: () => void;
  /** Set once `admit` said no: nothing more is handled. */
  private refused = false;
  /** Counts and logs what a transport that cannot hold its sender back dropped for want of room. */
  private readonly drops: IntakeDropReport;

  constructor(readonly pattern: string, private readonly o: ResolvedSubscribeOptions, middleware: Middleware[], handler: Handler,
    settlement: Settlement, private readonly subjects: SubjectTable, private readonly logger: Logger) {
    const handling: Handling = {
      chain: chainOf(middleware, handler), retry: o.retry, raw: o.raw, accept: o.accept, transport: o.transport, stop: new StopNotice(this.controller.signal),
      brokerRetries: o.transport.capabilities.redelivery && !o.ordered, forEachWaiting: undefined, idSalt: o.idSalt, pattern, group: o.group,
    };
    const admit = o.admit;
    const run = admit === undefined
      ? (msg: InboundMessage) => settlement.process(msg, handling)
      : (msg: InboundMessage) => (this.admitted(admit) ? settlement.process(msg, handling) : undefined);
    this.scheduler = new KeyedScheduler<InboundMessage>(run, {
      concurrency: o.maxInFlight, maxPending: o.maxPending, onFull: o.onFull,
      // `process` settles every outcome itself; what still escapes is a settlement that failed (an ack,
      // nak, dead letter or error reply the transport could not take: usually a lost connection).
      onError: (err) => logger.error(UNSETTLED_MESSAGE, { pattern, err }),
    });
    if (o.ordered) handling.forEachWaiting = (key, fn) => this.scheduler.forEachWaiting(key, fn);
    this.drops = new IntakeDropReport(pattern, o.maxInFlight + o.maxPending, logger, (subject) => subjects.entry(subject).intakeDropped);
  }

  /** Messages being handled, queued, and handed over by the transport but still waiting for room. */
  get load(): { running: number; pending: number; waiting: number } { return { ...this.scheduler.load, waiting: this.scheduler.waiting }; }

  /** Subscribes on the transport; resolves when it did. */
  async open(): Promise<void> {
    const { transport, maxInFlight, maxPending, prefixLength, startAfter } = this.o;
    const options: TransportSubscribeOptions = {
      group: this.o.group, maxInFlight: maxInFlight + (transport.capabilities.redelivery ? 0 : maxPending), onDropped: this.drops.dropped,
    };
    if (startAfter !== undefined) options.startAfter = startAfter;
    if (this.o.holdAcks > 0) options.holdAcks = this.o.holdAcks;
    const onInterrupted = this.o.onInterrupted;
    if (onInterrupted) {
      // Called inside the transport's connection handling: a throw must not break its recovery.
      options.onInterrupted = () => {
        try { onInterrupted(); } catch (err) { this.logger.error('onInterrupted threw', { pattern: this.pattern, err }); }
      };
    }
    this.transportSub = await transport.subscribe(this.o.wirePattern, (msg) => {
      // A partition's deliveries arrive as `<prefix>.<n>.<subject>`; everything above sees `<subject>`.
      if (prefixLength > 0) msg.subject = msg.subject.slice(prefixLength);
      if (this.held !== undefined) {
        this.held.push(msg);
        return this.resumed;
      }
      return this.take(msg);
    }, options);
  }

  private take(msg: InboundMessage): void | Promise<void> {
    const owns = this.o.owns;
    if (owns && !owns(msg.envelope.partitionkey)) {
      this.subjects.entry(msg.subject).skipped.add();
      return msg.ack();
    }
    if (msg.position !== undefined) this.lastPosition = msg.position;
    return this.scheduler.push(msg, this.o.ordered ? orderingKey(msg) : undefined);
  }

  /** Checked before each message is handled: once `admit` says no, nothing more is (the lease is gone). */
  private admitted(admit: () => boolean): boolean {
    if (!this.refused && admit()) return true;
    if (!this.refused) {
      this.refused = true;
      this.logger.warn('subscription no longer admitted (its partition lease lapsed): leaving its messages unsettled and stopping', { pattern: this.o.wirePattern });
      this.controller.abort();
      void this.transportSub?.unsubscribe().catch((err: unknown) => this.logger.warn('unsubscribe failed', { pattern: this.o.wirePattern, err }));
    }
    return false;
  }

  /**
   * Holds new messages back and resolves once every message handed over before is settled, with
   * the position of the last of them: a consistent point at which to checkpoint state and input
   * position together. `resume()` hands the held messages over, in order.
   */
  async pause(): Promise<number | undefined> {
    if (this.held === undefined) {
      this.held = [];
      this.resumed = new Promise<void>((resolve) => { this.releaseHeld = resolve; });
    }
    await this.scheduler.idle();
    return this.lastPosition;
  }

  resume(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    const release = this.releaseHeld;
    this.releaseHeld = undefined;
    this.resumed = undefined;
    for (const msg of held) {
      const taken = this.take(msg);
      // `take` waits only when the scheduler is full, which `maxInFlight + maxPending` prevents for what a pause can hold.
      if (taken instanceof Promise) taken.catch((err: unknown) => this.logger.error(UNSETTLED_MESSAGE, { pattern: this.pattern, err }));
    }
    release?.();
  }

  /** Acks what `holdAcks` held; false when some of it was lost with an interrupted consumer (it comes again). */
  commit(): boolean {
    if (this.o.holdAcks === 0) return true;
    return this.transportSub?.commit?.() ?? true;
  }

  /** Stops intake and waits for the handlers of what was taken in. */
  async drain(): Promise<void> {
    this.resume();
    await this.transportSub?.drain();
    await this.scheduler.idle();
    this.drops.stop();
  }

  /** Stops intake at once and aborts what runs. */
  async unsubscribe(): Promise<void> {
    this.held = undefined;
    this.releaseHeld?.();
    await this.transportSub?.unsubscribe();
    this.controller.abort();
    this.drops.stop();
  }
}

/**
 * A subscription's handler through its middleware, returning what the handler returned (or a
 * promise of it). Without middleware it is the handler itself: one that returns no promise is
 * done when it returns, with no promise made; a synchronous throw fails the try as a rejection does.
 */
function chainOf<T, R>(middleware: Middleware[], handler: Handler<T, R>): (ctx: MiddlewareContext) => unknown {
  if (middleware.length === 0) return (ctx) => handler(ctx.message as Envelope<T>, ctx);
  const composed = compose(middleware, async (ctx) => { ctx.result = await handler(ctx.message as Envelope<T>, ctx); });
  return (ctx) => composed(ctx).then(() => ctx.result);
}
