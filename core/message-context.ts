import { derivedEventId } from './derived-id.js';
import type { Envelope } from './envelope.js';
import type { MetricOptions, PublishOptions, RequestOptions } from './handler.js';
import type { Logger } from './logger.js';
import type { MiddlewareContext } from './middleware.js';
import type { StopNotice, StopWaiter } from './stop-notice.js';

/** What a handler's context needs from the Bus: outbound messages caused by the one handled, metrics and a logger. */
export interface ContextServices {
  readonly logger: Logger;
  publishCaused<T>(cause: Envelope, subject: string, data: T, options: PublishOptions | undefined): Promise<Envelope<T>>;
  requestCaused<R, T>(cause: Envelope, subject: string, data: T, options: RequestOptions | undefined): Promise<Envelope<R>>;
  metric(event: string, action: string, options: MetricOptions & { context: string }): void;
  /** The bounded metric context of a subject: the subscription pattern it matched, not the subject. */
  metricContextOf(subject: string): string;
}

/** The per-message context handed to middleware and handlers; one per try. */
export class MessageContext implements MiddlewareContext, StopWaiter {
  result?: unknown;
  private controller?: AbortController;
  /** True while this context waits on the subscription's stop (see `signal`). */
  private listening = false;

  /** Messages published so far in this try: the ordinal of a derived id. */
  private published = 0;

  constructor(private readonly services: ContextServices, readonly subject: string, readonly message: Envelope, readonly attempt: number,
    private readonly stop: StopNotice, private readonly idSalt?: string) {}

  get signal(): AbortSignal {
    // Made on first use: most handlers never look at it.
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.stop.wait(this)) this.listening = true;
      else this.controller.abort(this.stop.reason);
    }
    return this.controller.signal;
  }

  /** The subscription stopped while this try was running. */
  stopped(reason: unknown): void {
    this.listening = false;
    this.controller!.abort(reason);
  }

  /**
   * The try is over: stop waiting on the subscription's stop, which outlives it (a waiter left
   * there for every message would pile up until the subscription stops).
   */
  finished(): void {
    if (this.listening) { this.listening = false; this.stop.unwait(this); }
  }

  get logger(): Logger { return this.services.logger; }

  abort(reason: unknown): void { (this.controller ??= new AbortController()).abort(reason); }

  publish<T>(subject: string, data: T, options?: PublishOptions): Promise<Envelope<T>> {
    // Each try counts from 0, so a retry or a replay of the message re-creates the same ids.
    if (this.idSalt !== undefined && options?.id === undefined) {
      options = { ...options, id: derivedEventId(this.idSalt, this.message.id, String(this.published++)) };
    }
    return this.services.publishCaused(this.message, subject, data, options);
  }

  request<R = unknown, T = unknown>(subject: string, data: T, options?: RequestOptions): Promise<Envelope<R>> {
    return this.services.requestCaused<R, T>(this.message, subject, data, options);
  }

  metric(event: string, action: string, options: MetricOptions = {}): void {
    this.services.metric(event, action, { ...options, context: options.context ?? this.services.metricContextOf(this.subject) });
  }
}
