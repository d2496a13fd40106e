import type { Envelope } from './envelope.js';
import type { Logger } from './logger.js';

/** Options for a publish, from outside or from inside a handler. */
export interface PublishOptions {
  /** The CloudEvents `type` (the contract name). Default: the subject. */
  type?: string;
  /** A fixed event id (retries of one logical event should reuse it). Default: a new UUID. */
  id?: string;
  /** Key whose messages are processed in order. */
  partitionKey?: string;
  /** Content type of `data`; picks the codec. Default `application/json`. */
  contentType?: string;
  /** Contract version to stamp and validate against (with a contract registry). */
  version?: string;
  /** More CloudEvents attributes or extensions (lowercase names, string values). */
  headers?: Record<string, string>;
  /**
   * Traceparents of other messages this one derives from (an aggregate's inputs). With tracing on
   * (README "Tracing with OpenTelemetry") its publish span links to them; malformed ones are
   * skipped. They do not travel in the envelope.
   */
  traceLinks?: readonly string[];
}

export interface RequestOptions extends PublishOptions {
  /** How long to wait for the reply. Default: the bus' `requestTimeoutMs`. */
  timeoutMs?: number;
}

export interface MetricOptions {
  /**
   * Context: the contract or subject pattern worked on. Default: the subscription pattern the
   * message matched (`sensor.reading.>`), never the concrete subject, so series stay bounded;
   * put what varies (a device, a key) in `query`.
   */
  context?: string;
  /** Parameters such as the key or rule; keys end up sorted. */
  query?: Record<string, string>;
  /** A measured value (latency, size) aggregated as sum/min/max. */
  value?: number;
  unit?: string;
}

/** What a handler gets besides the message. */
export interface HandlerContext {
  /** The concrete subject the message arrived on. */
  readonly subject: string;
  /** 1 on the first try, then counting retries. */
  readonly attempt: number;
  /** Aborted when the bus stops past its grace period (while this try runs) or a timeout middleware fires. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Publishes a message caused by this one: correlation, causation, tenant and trace carry forward. */
  publish<T>(subject: string, data: T, options?: PublishOptions): Promise<Envelope<T>>;
  /** Sends a request caused by this one, with the same propagation as `publish`. */
  request<R = unknown, T = unknown>(subject: string, data: T, options?: RequestOptions): Promise<Envelope<R>>;
  /** Counts a metric field `service:context?query event action`. */
  metric(event: string, action: string, options?: MetricOptions): void;
  /** Aborts `signal` (used by timeout middleware). */
  abort(reason: unknown): void;
}

/**
 * A message handler. Its outcome decides settlement:
 * - resolves → the message is acked; on a request, the resolved value is the reply's data;
 * - throws → retried with exponential backoff and jitter up to `maxAttempts`, then a copy goes
 *   to the dead-letter subject with `dlq*` headers and the original is acked. Errors that can
 *   never succeed (invalid data, unknown contract version) are dead-lettered at once;
 * - on a request, a throw is sent back to the caller as a RemoteHandlerError instead.
 *
 * Where a retry runs: on a subscription with `ordered: true`, a failing message is retried before
 * any later message of its key is handled, on every transport. The Bus retries it in process and
 * holds its key meanwhile (other keys go on). A transport that would redeliver messages left
 * unsettled that long is told they are still in progress, the held one and those of its key
 * waiting behind it (`InboundMessage.inProgress`, JetStream `working()`); should the Bus stop past
 * its grace period meanwhile, such a transport gets the message back (`nak`). Unordered
 * subscriptions hand the retry to the broker where it redelivers (`nak` with the delay; the retry
 * survives a restart) and retry in process elsewhere.
 *
 * A handler with nothing to wait for may return without a promise (a value, or nothing): the
 * message is then settled as soon as it returns, and a synchronous throw counts as a rejection.
 */
export type Handler<T = unknown, R = unknown> = (message: Envelope<T>, ctx: HandlerContext) => Promise<R | void> | R | void;
