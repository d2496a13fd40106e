import { ActiveSubscription } from './active-subscription.js';
import type { CodecRegistry } from './codec.js';
import { resolveBusOptions, resolveSubscribeOptions, type BusOptions, type ResolvedBusOptions, type SubscribeOptions } from './bus-options.js';
import type { Envelope } from './envelope.js';
import { BusStoppedError } from './errors.js';
import type { Handler, HandlerContext, MetricOptions, PublishOptions, RequestOptions } from './handler.js';
import type { Logger } from './logger.js';
import type { ContextServices } from './message-context.js';
import { MetricsRecorder, type MetricBatch } from './metrics.js';
import { processMetrics } from './metrics-exposition.js';
import type { Middleware } from './middleware.js';
import { Publisher } from './publisher.js';
import { newEventId } from './random.js';
import { Requester } from './requester.js';
import type { ServiceIdentity } from './service-identity.js';
import { Settlement, UNSETTLED_MESSAGE } from './settlement.js';
import { METRICS_PREFIX, SubjectTable, type SubjectEntry } from './subject-table.js';
import { validatePattern } from './subjects.js';
import { resolveTracing } from './tracing.js';
import type { Transport } from './transport.js';

export type { BusOptions, RouteRule, SubscribeOptions } from './bus-options.js';
export { UNSETTLED_MESSAGE };

export interface Subscription {
  readonly pattern: string;
  /** Stops intake and waits for in-flight handlers. */
  drain(): Promise<void>;
  unsubscribe(): Promise<void>;
  /**
   * Holds new messages back and resolves once every message handed over before is settled, with
   * the log position of the last one (transports with replay; else undefined). Between `pause`
   * and `resume` the handler's state covers exactly the messages up to that position: the point
   * at which scale-out checkpoints state and input position together.
   */
  pause(): Promise<number | undefined>;
  /** Hands over what `pause` held back, in order. */
  resume(): void;
  /**
   * With `SubscribeOptions.holdAcks`: acks every message settled so far (call it once the state
   * covering them is saved). False when some of them could not be acked because the consumer
   * they came from was lost (see `onInterrupted`): the broker delivers them again. True when the
   * subscription holds no acks.
   *
   * @example
   * const sub = await bus.subscribe('orders.>', handle, { group: 'billing', holdAcks: 1000, onInterrupted: reload });
   * await saveState(); if (!sub.commit()) reload();
   */
  commit(): boolean;
  /**
   * What the subscription holds right now: messages being handled (at most `maxInFlight`), queued
   * (at most `maxPending`) and handed over by the transport while it was full (`waiting`: one where
   * the transport cannot hold its sender back, which drops the rest, counted as `intake dropped`;
   * up to another `maxInFlight + maxPending` on the WebSocket client, see its README).
   */
  load(): { running: number; pending: number; waiting: number };
}

/**
 * The runtime a nanoservice talks to: one service identity, its transports, contracts and
 * middleware. Publishes, subscribes (with groups, ordering and retries), does request/reply and
 * shuts down gracefully. The work is done by its parts: `Publisher` (outbound, backpressure),
 * `Requester` (request/reply), `Settlement` (a delivered message to its ack, retry or dead
 * letter), `SubjectTable` (routes and per-subject counters) and, when a tracer provider is
 * registered, `Tracing` (OpenTelemetry spans; `BusOptions.tracing`).
 *
 * @example
 * const bus = new Bus({ service: 'filter@edge-1', transport: new MemoryTransport() });
 * await bus.subscribe('sensor.reading.>', async (msg, ctx) => { await ctx.publish('sensor.ok', msg.data); });
 * await bus.publish('sensor.reading.berlin', { t: 21 }, { type: 'sensor.reading' });
 * await bus.stop();
 */
export class Bus {
  readonly identity: ServiceIdentity;
  readonly source: string;
  readonly logger: Logger;
  readonly metrics: MetricsRecorder;
  private readonly options: ResolvedBusOptions;
  private readonly subjects: SubjectTable;
  private readonly publisher: Publisher;
  private readonly requester: Requester;
  private readonly settlement: Settlement;
  private readonly subscriptions = new Set<ActiveSubscription>();
  private started?: Promise<void>;
  private stopping?: Promise<void>;
  private metricsTimer?: NodeJS.Timeout;
  private signalHandler?: () => void;
  private readonly stopHooks: Array<() => Promise<void>> = [];

  constructor(options: BusOptions) {
    const o = this.options = resolveBusOptions(options);
    this.identity = o.identity;
    this.source = o.source;
    this.logger = o.logger;
    this.metrics = new MetricsRecorder(o.identity.app, { labelQueryKeys: o.labelQueryKeys, logger: o.logger });
    this.subjects = new SubjectTable(o.routes, o.defaultTransport, this.metrics, o.identity);
    const start = () => this.start();
    this.publisher = new Publisher(o, this.subjects, start);
    this.requester = new Requester(o, this.subjects, this.publisher, start);
    // Messages caused by a handled one go out even while the bus stops: settling it may need them.
    const services: ContextServices = {
      logger: o.logger,
      publishCaused: (cause, subject, data, opts) => this.publisher.publish(subject, data, opts ?? {}, cause),
      requestCaused: (cause, subject, data, opts) => this.requester.request(subject, data, opts ?? {}, cause),
      metric: (event, action, opts) => this.metric(event, action, opts),
      metricContextOf: (subject) => this.subjects.entry(subject).context,
    };
    const service = `${o.identity.app}@${o.identity.container}`;
    this.settlement = new Settlement({ ...o, service }, this.subjects, (subject, envelope) => this.publisher.send(subject, envelope), services);
  }

  /**
   * Runs `hook` during `stop()`, after in-flight handlers finished and before the last metric
   * batch and the transports close, so it may still publish (flush windows, save state).
   */
  onStop(hook: () => Promise<void>): void { this.stopHooks.push(hook); }

  /** Adds middleware around every handler subscribed from now on. */
  use(mw: Middleware): this { this.options.middleware.push(mw); return this; }

  /**
   * Connects every transport and starts metric publication; from now until it has stopped, the
   * Bus's metric fields are in `processMetrics` (a gateway's `/metrics`). Called on first use if not before.
   */
  start(): Promise<void> {
    this.started ??= (async () => {
      const [tracing] = await Promise.all([resolveTracing(this.options.tracing), ...[...this.options.transports.values()].map((t) => t.connect())]);
      this.publisher.tracing = this.settlement.tracing = tracing;
      if (!this.stopping) processMetrics.join(this.metrics);
      const interval = this.options.metricsIntervalMs;
      if (interval > 0) {
        this.metricsTimer = setInterval(() => { void this.flushMetrics(); }, interval);
        this.metricsTimer.unref();
      }
      if (this.options.handleSignals) this.handleSignals();
      this.publisher.started = true;
    })();
    return this.started;
  }

  /** The transport a subject (or pattern) is routed to. */
  transportFor(subject: string): Transport { return this.subjects.transportFor(subject); }

  /**
   * Publishes `data` on `subject`. Resolves with the envelope once the transport has taken it
   * (and, on durable transports, the broker confirmed it).
   */
  publish<T>(subject: string, data: T, options: PublishOptions = {}): Promise<Envelope<T>> {
    // Not async: returning the publisher's promise from an async function costs two more turns a
    // publish. Whatever throws still comes back as a rejection, as from an async function.
    if (this.stopping) return Promise.reject(this.stopped('publish to', subject));
    try {
      return this.publisher.publish(subject, data, options, undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Publishes an envelope as it is (a relay, a replay, a dead-letter copy); only the headers are checked. */
  async publishEnvelope(subject: string, envelope: Envelope): Promise<void> {
    await this.publisher.publishEnvelope(subject, envelope);
  }

  /**
   * Sends a request and resolves with the reply envelope (data decoded). Rejects with
   * RequestTimeoutError, NoRespondersError, or RemoteHandlerError carrying the handler's code.
   */
  request<R = unknown, T = unknown>(subject: string, data: T, options: RequestOptions = {}): Promise<Envelope<R>> {
    // Not async: returning the requester's promise from an async function costs two more turns a round trip.
    if (this.stopping) return Promise.reject(this.stopped('request to', subject));
    return this.requester.request<R, T>(subject, data, options, undefined);
  }

  /**
   * Sends an envelope as it is as a request (a gateway or relay forwarding one) and resolves with
   * the reply exactly as the transport delivered it, error replies included (they carry
   * `sberrorcode`/`sberrormessage`). Headers are checked and the request is counted like `request()`.
   */
  async requestEnvelope(subject: string, envelope: Envelope, options: { timeoutMs?: number } = {}): Promise<Envelope> {
    if (this.stopping) throw this.stopped('request to', subject);
    return this.requester.requestEnvelope(subject, envelope, options.timeoutMs);
  }

  /**
   * Calls `handler` for every message matching `pattern`. See `Handler` for how its outcome
   * settles the message, and `SubscribeOptions.ordered` for order under retries.
   */
  async subscribe<T = unknown, R = unknown>(pattern: string, handler: Handler<T, R>, options: SubscribeOptions = {}): Promise<Subscription> {
    if (this.stopping) throw this.stopped('subscribe to', pattern);
    validatePattern(pattern);
    this.subjects.subscribed(pattern);
    const o = resolveSubscribeOptions(pattern, options, this.options, () => this.subjects.transportFor(pattern));
    const middleware = [...this.options.middleware, ...(options.middleware ?? [])];
    const active = new ActiveSubscription(pattern, o, middleware, handler as Handler, this.settlement, this.subjects, this.logger);
    await this.start();
    await active.open();
    this.subscriptions.add(active);
    return {
      pattern,
      drain: async () => { await active.drain(); this.subscriptions.delete(active); },
      unsubscribe: async () => { await active.unsubscribe(); this.subscriptions.delete(active); },
      pause: () => active.pause(),
      resume: () => active.resume(),
      commit: () => active.commit(),
      load: () => active.load,
    };
  }

  /** A subject's counters (with its route), made on first use. */
  countersFor(subject: string): SubjectEntry { return this.subjects.entry(subject); }

  /** Counts a metric field for this service. */
  metric(event: string, action: string, options: MetricOptions & { context: string }): void {
    const field = { app: this.identity.app, container: this.identity.container, context: options.context, event, action, ...(options.query ? { query: options.query } : {}) };
    this.metrics.record(field, options.value, options.unit);
  }

  /** Publishes what was counted since the last flush as one `metric.field` envelope. */
  async flushMetrics(): Promise<MetricBatch | undefined> {
    const batch = this.metrics.take();
    if (!batch || !this.options.publishMetrics) return batch;
    try {
      await this.publisher.send(`${METRICS_PREFIX}${this.identity.app}`, {
        specversion: '1.0', id: newEventId(), source: this.source, type: 'metric.field', time: batch.end,
        datacontenttype: 'application/json', data: batch,
      });
    } catch (err) {
      this.logger.warn('could not publish metric fields', { err });
    }
    return batch;
  }

  /**
   * Stops gracefully: no new intake, in-flight handlers finish (aborted after `stopTimeoutMs`),
   * settles, publishes the last metric batch and closes the transports. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.signalHandler) { process.off('SIGTERM', this.signalHandler); process.off('SIGINT', this.signalHandler); }
      const grace = this.options.stopTimeoutMs;
      const subs = [...this.subscriptions];
      const drained = Promise.all(subs.map(async (s) => {
        try { await s.drain(); } catch (err) { this.logger.warn('drain failed', { pattern: s.pattern, err }); await s.scheduler.idle(); }
      }));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        drained.then(() => false),
        new Promise<boolean>((r) => { timer = setTimeout(() => r(true), grace); }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.logger.warn('stop: handlers still running after the grace period; aborting them', { graceMs: grace });
        for (const s of subs) s.controller.abort(new BusStoppedError('bus stopped'));
      }
      this.subscriptions.clear();
      for (const hook of this.stopHooks) {
        try { await hook(); } catch (err) { this.logger.error('a stop hook failed', { err }); }
      }
      if (this.metricsTimer) clearInterval(this.metricsTimer);
      if (this.started) await this.flushMetrics();
      await Promise.all([...this.options.transports.values()].map((t) => t.close().catch((err) => this.logger.warn('close failed', { transport: t.name, err }))));
      processMetrics.leave(this.metrics);
    })();
    return this.stopping;
  }

  get isStopping(): boolean { return this.stopping !== undefined; }

  /** The codecs this bus turns `data` into bytes and back with, by `datacontenttype` (a gateway refuses types none takes). */
  get codecs(): CodecRegistry { return this.options.codecs; }

  /** Stops gracefully on SIGTERM/SIGINT (then exits with 0). */
  handleSignals(): void {
    if (this.signalHandler) return;
    this.signalHandler = () => {
      this.logger.info('signal received, stopping');
      this.stop().then(() => process.exit(0), (err) => { this.logger.error('stop failed', { err }); process.exit(1); });
    };
    process.once('SIGTERM', this.signalHandler);
    process.once('SIGINT', this.signalHandler);
  }

  private stopped(what: string, subject: string): BusStoppedError {
    return new BusStoppedError(`bus ${this.identity.app} is stopping; ${what} ${subject} refused`);
  }
}

export type { HandlerContext };
