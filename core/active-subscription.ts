import type { ResolvedSubscribeOptions } from './bus-options.js';
import type { Logger } from './logger.js';
import type { Envelope } from './envelope.js';
import type { Handler } from './handler.js';
import { compose, type Middleware, type MiddlewareContext } from './middleware.js';
import { KeyedScheduler } from './ordering.js';
import { UNSETTLED_MESSAGE, type Handling, type Settlement } from './settlement.js';
import type { SubjectTable } from './subject-table.js';
import type { InboundMessage, TransportSubscription } from './transport.js';

/**
 * One subscription as the Bus runs it: the transport's subscription feeding a bounded scheduler
 * (by key when ordered) that runs each message through its settlement.
 */
export class ActiveSubscription {
  readonly scheduler: KeyedScheduler<InboundMessage>;
  /** Aborted when the subscription is unsubscribed or the Bus' stop runs out of time. */
  readonly controller = new AbortController();
  private transportSub?: TransportSubscription;

  constructor(readonly pattern: string, private readonly o: ResolvedSubscribeOptions, middleware: Middleware[], handler: Handler,
    settlement: Settlement, private readonly subjects: SubjectTable, logger: Logger) {
    const handling: Handling = {
      chain: chainOf(middleware, handler), retry: o.retry, raw: o.raw, accept: o.accept, transport: o.transport, stopSignal: this.controller.signal,
      brokerRetries: o.transport.capabilities.redelivery && !o.ordered, forEachWaiting: undefined,
    };
    this.scheduler = new KeyedScheduler<InboundMessage>((msg) => settlement.process(msg, handling), {
      concurrency: o.maxInFlight, maxPending: o.maxPending, onFull: o.onFull,
      // `process` settles every outcome itself; what still escapes is a settlement that failed (an ack,
      // nak, dead letter or error reply the transport could not take: usually a lost connection).
      onError: (err) => logger.error(UNSETTLED_MESSAGE, { pattern, err }),
    });
    if (o.ordered) handling.forEachWaiting = (key, fn) => this.scheduler.forEachWaiting(key, fn);
  }

  /** Subscribes on the transport; resolves when it did. */
  async open(): Promise<void> {
    const { transport, owns, ordered, maxInFlight, maxPending } = this.o;
    const scheduler = this.scheduler;
    // A transport that cannot redeliver may hand over what the scheduler holds pending, too (maxInFlight + maxPending).
    this.transportSub = await transport.subscribe(this.pattern, (msg) => {
      if (owns && !owns(msg.envelope.partitionkey)) {
        this.subjects.entry(msg.subject).skipped.add();
        return msg.ack();
      }
      return scheduler.push(msg, ordered ? msg.envelope.partitionkey : undefined);
    }, { group: this.o.group, maxInFlight: maxInFlight + (transport.capabilities.redelivery ? 0 : maxPending) });
  }

  /** Stops intake and waits for the handlers of what was taken in. */
  async drain(): Promise<void> {
    await this.transportSub?.drain();
    await this.scheduler.idle();
  }

  /** Stops intake at once and aborts what runs. */
  async unsubscribe(): Promise<void> {
    await this.transportSub?.unsubscribe();
    this.controller.abort();
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
