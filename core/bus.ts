import { CodecRegistry, defaultCodecs } from './codec.js';
import type { ContractHooks } from './contract-hooks.js';
import { validateEnvelope, type Envelope } from './envelope.js';
import {
  BackpressureError, BusStoppedError, CapabilityMissingError, CodecDecodeError, ContractInvalidError,
  ContractUnknownError, ContractVersionError, EnvelopeInvalidError, HeaderInvalidError, MessageTooLargeError,
  OptionsInvalidError, RemoteHandlerError, SignalbusError, errorCode, errorMessage,
} from './errors.js';
import type { Handler, HandlerContext, MetricOptions, PublishOptions, RequestOptions } from './handler.js';
import { DEFAULT_HEADER_LIMITS, ERROR_HEADERS, validateHeader, type HeaderLimits } from './headers.js';
import { nowIso } from './clock.js';
import { createLogger, type Logger } from './logger.js';
import { MetricsRecorder, type FieldCounter, type MetricBatch } from './metrics.js';
import { compose, type Middleware, type MiddlewareContext } from './middleware.js';
import { KeyedScheduler } from './ordering.js';
import { partitionOf } from './partitions.js';
import { newEventId } from './random.js';
import { resolveRetryPolicy, retryDelay, type RetryPolicy } from './retry.js';
import { resolveIdentity, sourceOf, type ServiceIdentity } from './service-identity.js';
import { compilePattern, deadLetterSubject, hasWildcards, validatePattern, validateSubject, type SubjectMatcher } from './subjects.js';
import { checkTraceparent, childTraceparent, newTraceparent } from './traceparent.js';
import type { InboundMessage, Transport, TransportSubscription } from './transport.js';

export interface RouteRule {
  /** Subjects (a pattern) this rule sends to `transport`. */
  pattern: string;
  /** A key of `BusOptions.transports`. */
  transport: string;
}

export interface BusOptions {
  /** The service identity: `'filter'`, `'filter@edge-1'` or `{ app, container, version }`. */
  service: string | (Partial<ServiceIdentity> & { app: string });
  /** The transport for everything (shorthand for `transports: { default: t }`). */
  transport?: Transport;
  /** Named transports; the first is the default for subjects no route names. */
  transports?: Record<string, Transport>;
  /** Subject → transport rules, first match wins. */
  routes?: RouteRule[];
  /** Middleware around every handler, outermost first. */
  middleware?: Middleware[];
  /** Retry policy for handlers that throw. */
  retry?: Partial<RetryPolicy>;
  /** Dead letters go to `<prefix>.<subject>`. Default `dlq`. */
  deadLetterPrefix?: string;
  /** Default timeout for `request()`, ms. Default 5000. */
  requestTimeoutMs?: number;
  /** Most publishes waiting for their transport at once. Default 10,000. */
  maxPendingPublishes?: number;
  /** When that bound is reached: `wait` for room or `reject` with BackpressureError. Default `wait`. */
  onPublishFull?: 'wait' | 'reject';
  /** How long `stop()` waits for in-flight handlers before aborting them, ms. Default 10,000. */
  stopTimeoutMs?: number;
  /** Metric field publication; `false` counts locally but publishes nothing. */
  metrics?: false | { intervalMs?: number; labelQueryKeys?: string[] };
  /** Contract enforcement (from `contracts/`). */
  contracts?: ContractHooks;
  codecs?: CodecRegistry;
  headerLimits?: HeaderLimits;
  logger?: Logger;
  /** Stop gracefully on SIGTERM/SIGINT. Default false. */
  handleSignals?: boolean;
}

export interface SubscribeOptions {
  /** Consumer group: members share the messages, other groups get them too. */
  group?: string;
  /** Handlers running at once. Default 1 with `ordered`, else 64. */
  maxInFlight?: number;
  /** Messages accepted and waiting for a handler. Default 1,000. */
  maxPending?: number;
  /** When `maxPending` is reached: hold the transport back (`wait`) or refuse (`reject`). Default `wait`. */
  onFull?: 'wait' | 'reject';
  /** Handle messages with the same `partitionkey` strictly in order (others concurrently). */
  ordered?: boolean;
  /** Static partition assignment: this instance handles only the keys of its partitions. */
  partitions?: { count: number; instanceIndex: number; instanceCount: number };
  /** Retry policy for this subscription (over the bus'). */
  retry?: Partial<RetryPolicy>;
  /** Middleware for this subscription, inside the bus'. */
  middleware?: Middleware[];
  /** Hand over payloads that are not CloudEvents as raw bytes (device topics). */
  raw?: boolean;
  /** Contract versions accepted (semver range); older compatible ones are upcast. */
  accept?: string;
  /** A transport name from `BusOptions.transports`, over the routes. */
  transport?: string;
}

export interface Subscription {
  readonly pattern: string;
  /** Stops intake and waits for in-flight handlers. */
  drain(): Promise<void>;
  unsubscribe(): Promise<void>;
}

/** Errors that will fail the same way on every retry: dead-letter at once. */
function isPermanent(err: unknown): boolean {
  return err instanceof ContractInvalidError || err instanceof ContractVersionError || err instanceof ContractUnknownError
    || err instanceof CodecDecodeError || err instanceof EnvelopeInvalidError || err instanceof HeaderInvalidError
    || (err instanceof SignalbusError && (err as { permanent?: boolean }).permanent === true);
}

const METRICS_PREFIX = 'signalbus.metrics.';
const DLQ_MESSAGE_MAX = 1024;

/** Per-subject metric counters, built once per subject so the hot path does no string work. */
interface SubjectMetrics {
  published: FieldCounter; rejected: FieldCounter; delivered: FieldCounter; acked: FieldCounter;
  retried: FieldCounter; deadlettered: FieldCounter; invalid: FieldCounter; skipped: FieldCounter; dropped: FieldCounter;
}

const NOT_COUNTED = { add() {} } as unknown as FieldCounter;
/** Logged when settling a message failed; exported for tests. */
export const UNSETTLED_MESSAGE = 'a message could not be settled (its ack, nak, dead letter or error reply failed, usually because the transport lost its connection): '
  + 'a durable transport delivers it again, an at-most-once one has lost it; check the transport\'s connection';

/**
 * What the bus keeps per subject, found with one lookup: its counters and, once it has been
 * published to, its transport. `transport` is set only after the subject passed `validateSubject`;
 * subjects only received (not checked by the bus) leave it undefined.
 */
interface SubjectRoute extends SubjectMetrics { transport: Transport | undefined }

/** What handling one subscription's messages needs, made once when it subscribes. */
interface Handling {
  /** The handler through the middleware: what it returned (a request's reply data), or a promise of that. */
  chain: (ctx: MiddlewareContext) => unknown;
  retry: RetryPolicy;
  raw: boolean;
  accept: string | undefined;
  transport: Transport;
  stopSignal: AbortSignal;
}

interface ActiveSubscription {
  pattern: string;
  transportSub?: TransportSubscription;
  scheduler: KeyedScheduler<InboundMessage>;
  controller: AbortController;
}

/**
 * The runtime a nanoservice talks to: one service identity, its transports, contracts and
 * middleware. Publishes, subscribes (with groups, ordering and retries), does request/reply and
 * shuts down gracefully.
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
  private readonly transports: Map<string, Transport>;
  private readonly defaultTransport: Transport;
  private readonly routes: Array<{ match: SubjectMatcher; transport: Transport }>;
  private readonly routeCache = new Map<string, Transport>();
  private readonly codecs: CodecRegistry;
  private readonly middleware: Middleware[] = [];
  private readonly retry: RetryPolicy;
  private readonly headerLimits: HeaderLimits;
  private readonly subjectRoutes = new Map<string, SubjectRoute>();
  private readonly subscriptions = new Set<ActiveSubscription>();
  private pendingPublishes = 0;
  private publishWaiters: Array<() => void> = [];
  private started?: Promise<void>;
  private isStarted = false;
  private stopping?: Promise<void>;
  private metricsTimer?: NodeJS.Timeout;
  private signalHandler?: () => void;
  private readonly stopHooks: Array<() => Promise<void>> = [];
  /** The last frozen `headers` a publish passed, checked, and their length (see validateCallerHeaders). */
  private checkedHeaders?: Readonly<Record<string, string>>;
  private checkedHeadersLength = 0;

  constructor(private readonly options: BusOptions) {
    this.identity = resolveIdentity(options.service);
    this.source = sourceOf(this.identity);
    this.logger = (options.logger ?? createLogger()).child({ service: this.identity.app, container: this.identity.container });
    const named = { ...(options.transport ? { default: options.transport } : {}), ...options.transports };
    this.transports = new Map(Object.entries(named));
    const first = this.transports.values().next().value;
    if (!first) throw new OptionsInvalidError('a Bus needs a transport (options.transport or options.transports)', { details: { field: 'transport' } });
    this.defaultTransport = first;
    this.routes = (options.routes ?? []).map((r, i) => {
      const t = this.transports.get(r.transport);
      if (!t) throw new OptionsInvalidError(`routes[${i}] names transport "${r.transport}", which is not in options.transports`, { details: { field: `routes[${i}].transport` } });
      return { match: compilePattern(r.pattern), transport: t };
    });
    this.codecs = options.codecs ?? defaultCodecs;
    for (const c of options.contracts?.codecs?.() ?? []) this.codecs.register(c);
    this.retry = resolveRetryPolicy(options.retry);
    this.headerLimits = options.headerLimits ?? DEFAULT_HEADER_LIMITS;
    this.middleware.push(...(options.middleware ?? []));
    this.metrics = new MetricsRecorder(this.identity.app, { labelQueryKeys: options.metrics ? options.metrics.labelQueryKeys : undefined });
    for (const [field, v] of [['requestTimeoutMs', options.requestTimeoutMs], ['maxPendingPublishes', options.maxPendingPublishes], ['stopTimeoutMs', options.stopTimeoutMs]] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new OptionsInvalidError(`${field} must be a positive number`, { details: { field } });
    }
  }

  /**
   * Runs `hook` during `stop()`, after in-flight handlers finished and before the last metric
   * batch and the transports close, so it may still publish (flush windows, save state).
   */
  onStop(hook: () => Promise<void>): void { this.stopHooks.push(hook); }

  /** Adds middleware around every handler subscribed from now on. */
  use(mw: Middleware): this { this.middleware.push(mw); return this; }

  /** Connects every transport and starts metric publication. Called on first use if not before. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await Promise.all([...this.transports.values()].map((t) => t.connect()));
      const interval = this.options.metrics === false ? 0 : this.options.metrics?.intervalMs ?? 10_000;
      if (interval > 0) {
        this.metricsTimer = setInterval(() => { void this.flushMetrics(); }, interval);
        this.metricsTimer.unref();
      }
      if (this.options.handleSignals) this.handleSignals();
      this.isStarted = true;
    })();
    return this.started;
  }

  /** The transport a subject is routed to. */
  transportFor(subject: string): Transport {
    let t = this.routeCache.get(subject);
    if (t) return t;
    t = this.defaultTransport;
    for (const r of this.routes) if (r.match(subject)) { t = r.transport; break; }
    if (this.routeCache.size > 10_000) this.routeCache.clear();
    this.routeCache.set(subject, t);
    return t;
  }

  // ---------------------------------------------------------------- publish

  /**
   * Publishes `data` on `subject`. Resolves with the envelope once the transport has taken it
   * (and, on durable transports, the broker confirmed it).
   */
  async publish<T>(subject: string, data: T, options: PublishOptions = {}): Promise<Envelope<T>> {
    return this.publishWith(subject, data, options, undefined);
  }

  /** Publishes an envelope as it is (a relay, a replay, a dead-letter copy); only the headers are checked. */
  async publishEnvelope(subject: string, envelope: Envelope): Promise<void> {
    validateSubject(subject);
    validateEnvelope(envelope, this.headerLimits);
    await this.send(subject, envelope);
  }

  private publishWith<T>(subject: string, data: T, options: PublishOptions, cause: Envelope | undefined): Promise<Envelope<T>> {
    let envelope: Envelope<T>;
    let route: SubjectRoute;
    try {
      if (this.stopping && !cause) throw new BusStoppedError(`bus ${this.identity.app} is stopping; publish to ${subject} refused`);
      route = this.publishRoute(subject);
      envelope = this.prepareOutbound(subject, data, options, cause);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send(subject, envelope, route);
  }

  /** Checks a subject the first time it is published to and keeps what sending to it needs. */
  private publishRoute(subject: string): SubjectRoute {
    let route = this.subjectRoutes.get(subject);
    if (route === undefined || route.transport === undefined) {
      validateSubject(subject);
      route ??= this.countersFor(subject);
      route.transport = this.transportFor(subject);
    }
    return route;
  }

  /** Builds, checks and contract-stamps an outbound envelope; counts a rejection when it fails. */
  private prepareOutbound<T>(subject: string, data: T, options: PublishOptions, cause: Envelope | undefined): Envelope<T> {
    try {
      // Attributes the bus makes itself are valid by construction; only what the caller gave is checked.
      this.validateCallerHeaders(options);
      const envelope = this.buildEnvelope(subject, data, options, cause);
      this.options.contracts?.outbound(envelope, options.version);
      return envelope;
    } catch (err) {
      this.countersFor(subject).rejected.add();
      throw err;
    }
  }

  private validateCallerHeaders(o: PublishOptions): void {
    const limits = this.headerLimits;
    const headers = o.headers;
    let total = 0;
    if (headers !== undefined) {
      if (headers === this.checkedHeaders) total = this.checkedHeadersLength;
      else {
        total = this.checkHeaders(headers);
        // A frozen object cannot change: the next publish with it (services pass the same frozen
        // headers with every message) needs no second check.
        if (Object.isFrozen(headers)) { this.checkedHeaders = headers; this.checkedHeadersLength = total; }
      }
    }
    total += this.checkAttribute('type', o.type) + this.checkAttribute('id', o.id)
      + this.checkAttribute('partitionkey', o.partitionKey) + this.checkAttribute('datacontenttype', o.contentType);
    // Leave room for the attributes the bus adds (ids, source, time, trace: well under 512).
    if (total > limits.maxTotalLength - 512) {
      throw new EnvelopeInvalidError(`headers total ${total} characters, over the limit of ${limits.maxTotalLength - 512} for caller-given attributes`, { details: { limit: limits.maxTotalLength } });
    }
  }

  /** Checks caller-given headers; returns their length toward the total. */
  private checkHeaders(headers: Record<string, string>): number {
    let total = 0;
    for (const name in headers) {
      const value = headers[name];
      validateHeader(name, value, this.headerLimits);
      total += name.length + (value as string).length;
    }
    if (headers.traceparent !== undefined) checkTraceparent(headers.traceparent);
    if (headers.time !== undefined && Number.isNaN(Date.parse(headers.time))) {
      throw new EnvelopeInvalidError(`attribute "time" is not an RFC 3339 timestamp: ${headers.time}`, { details: { attribute: 'time' } });
    }
    return total;
  }

  /** Checks one caller-given attribute (a publish option); returns its length toward the total. */
  private checkAttribute(name: string, value: string | undefined): number {
    if (value === undefined) return 0;
    if (value === '') throw new EnvelopeInvalidError(`attribute "${name}" must not be empty`, { details: { attribute: name } });
    validateHeader(name, value, this.headerLimits);
    return value.length;
  }

  private buildEnvelope<T>(subject: string, data: T, o: PublishOptions, cause: Envelope | undefined): Envelope<T> {
    const id = o.id ?? newEventId();
    const h = o.headers;
    const env: Envelope<T> = h === undefined
      ? { specversion: '1.0', id, source: this.source, type: o.type ?? subject, time: nowIso(), traceparent: '', correlationid: '' }
      : { ...h, specversion: '1.0', id, source: this.source, type: o.type ?? subject, time: h.time ?? nowIso(), traceparent: '', correlationid: '' };
    env.traceparent = cause ? childTraceparent(cause.traceparent) : h?.traceparent ?? newTraceparent();
    env.correlationid = cause ? cause.correlationid ?? cause.id : h?.correlationid ?? id;
    if (cause) {
      if (h?.tracestate === undefined && cause.tracestate !== undefined) env.tracestate = cause.tracestate;
      env.causationid = cause.id;
      if (cause.tenant !== undefined) env.tenant = cause.tenant;
    }
    if (o.partitionKey !== undefined) env.partitionkey = o.partitionKey;
    if (data !== undefined) {
      env.data = data;
      env.datacontenttype = o.contentType ?? (data instanceof Uint8Array ? 'application/octet-stream' : 'application/json');
    }
    return env;
  }

  /** Hands an envelope to its transport, encoding data where the transport carries bytes; resolves with the envelope. */
  private send<E extends Envelope>(subject: string, envelope: E, route?: SubjectRoute): Promise<E> {
    if (!this.isStarted) return this.start().then(() => this.send(subject, envelope, route));
    const limit = this.options.maxPendingPublishes ?? 10_000;
    if (this.pendingPublishes >= limit) {
      if (this.options.onPublishFull === 'reject') {
        (route ?? this.countersFor(subject)).rejected.add();
        return Promise.reject(new BackpressureError(`${limit} publishes are waiting for the transport; publish to ${subject} refused`, { details: { maxPendingPublishes: limit } }));
      }
      return new Promise<void>((r) => this.publishWaiters.push(r)).then(() => this.send(subject, envelope, route));
    }
    const transport = route?.transport ?? this.transportFor(subject);
    const counters = route ?? this.countersFor(subject);
    let wire: Envelope;
    try {
      wire = this.encodeFor(transport, subject, envelope);
    } catch (err) {
      counters.rejected.add();
      return Promise.reject(err);
    }
    this.pendingPublishes++;
    return transport.publish(subject, wire).then(() => {
      this.publishDone();
      counters.published.add();
      return envelope;
    }, (err: unknown) => {
      this.publishDone();
      counters.rejected.add();
      throw err;
    });
  }

  private publishDone(): void {
    this.pendingPublishes--;
    if (this.publishWaiters.length > 0) this.publishWaiters.shift()!();
  }

  /** The envelope as `transport` takes it: data encoded to bytes where it carries bytes, size-checked. */
  private encodeFor(transport: Transport, subject: string, envelope: Envelope): Envelope {
    if (!transport.capabilities.encodesData || envelope.data === undefined) return envelope;
    const bytes = envelope.data instanceof Uint8Array ? envelope.data : this.codecs.get(envelope.datacontenttype).encode(envelope.data, envelope.type);
    if (bytes.byteLength > transport.capabilities.maxMessageBytes) {
      throw new MessageTooLargeError(`message for ${subject} is ${bytes.byteLength} bytes; ${transport.name} takes at most ${transport.capabilities.maxMessageBytes}`,
        { details: { bytes: bytes.byteLength, limit: transport.capabilities.maxMessageBytes } });
    }
    return bytes === envelope.data ? envelope : { ...envelope, data: bytes };
  }

  // ---------------------------------------------------------------- request/reply

  /**
   * Sends a request and resolves with the reply envelope (data decoded). Rejects with
   * RequestTimeoutError, NoRespondersError, or RemoteHandlerError carrying the handler's code.
   */
  async request<R = unknown, T = unknown>(subject: string, data: T, options: RequestOptions = {}): Promise<Envelope<R>> {
    return this.requestWith<R, T>(subject, data, options, undefined);
  }

  /**
   * Sends an envelope as it is as a request (a gateway or relay forwarding one) and resolves with
   * the reply exactly as the transport delivered it, error replies included (they carry
   * `sberrorcode`/`sberrormessage`). Headers are checked and the request is counted like `request()`.
   */
  async requestEnvelope(subject: string, envelope: Envelope, options: { timeoutMs?: number } = {}): Promise<Envelope> {
    if (this.stopping) throw new BusStoppedError(`bus ${this.identity.app} is stopping; request to ${subject} refused`);
    validateSubject(subject);
    validateEnvelope(envelope, this.headerLimits);
    if (!this.isStarted) await this.start();
    const transport = this.transportFor(subject);
    if (!transport.request) throw new CapabilityMissingError(`transport ${transport.name} has no request/reply`, { details: { transport: transport.name } });
    const reply = await transport.request(subject, this.encodeFor(transport, subject, envelope), { timeoutMs: options.timeoutMs ?? this.options.requestTimeoutMs ?? 5000 });
    this.countersFor(subject).published.add();
    return reply;
  }

  private async requestWith<R, T>(subject: string, data: T, options: RequestOptions, cause: Envelope | undefined): Promise<Envelope<R>> {
    if (this.stopping && !cause) throw new BusStoppedError(`bus ${this.identity.app} is stopping; request to ${subject} refused`);
    validateSubject(subject);
    if (!this.isStarted) await this.start();
    const transport = this.transportFor(subject);
    if (!transport.request) throw new CapabilityMissingError(`transport ${transport.name} has no request/reply`, { details: { transport: transport.name } });
    const envelope = this.prepareOutbound(subject, data, options, cause);
    const wire = this.encodeFor(transport, subject, envelope);
    const reply = await transport.request(subject, wire, { timeoutMs: options.timeoutMs ?? this.options.requestTimeoutMs ?? 5000 });
    this.countersFor(subject).published.add();
    const code = reply[ERROR_HEADERS.code];
    if (typeof code === 'string') {
      throw new RemoteHandlerError(String(reply[ERROR_HEADERS.message] ?? 'remote handler failed'), code);
    }
    if (reply.data instanceof Uint8Array && reply.datacontenttype !== 'application/octet-stream') {
      reply.data = this.codecs.get(reply.datacontenttype).decode(reply.data, reply.type);
    }
    return reply as Envelope<R>;
  }

  // ---------------------------------------------------------------- subscribe

  /**
   * Calls `handler` for every message matching `pattern`. See `Handler` for how its outcome
   * settles the message.
   */
  async subscribe<T = unknown, R = unknown>(pattern: string, handler: Handler<T, R>, options: SubscribeOptions = {}): Promise<Subscription> {
    if (this.stopping) throw new BusStoppedError(`bus ${this.identity.app} is stopping; subscribe to ${pattern} refused`);
    validatePattern(pattern);
    const transport = options.transport !== undefined ? this.transports.get(options.transport) : this.transportFor(pattern);
    if (!transport) throw new OptionsInvalidError(`subscribe: no transport named "${options.transport}"`, { details: { field: 'transport' } });
    const maxInFlight = options.maxInFlight ?? (options.ordered ? 1 : 64);
    const maxPending = options.maxPending ?? 1000;
    if (!(Number.isInteger(maxInFlight) && maxInFlight > 0)) throw new OptionsInvalidError('maxInFlight must be a positive integer', { details: { field: 'maxInFlight' } });
    if (!(Number.isInteger(maxPending) && maxPending > 0)) throw new OptionsInvalidError('maxPending must be a positive integer', { details: { field: 'maxPending' } });
    if (options.group !== undefined && !transport.capabilities.queueGroups) {
      throw new CapabilityMissingError(`transport ${transport.name} has no consumer groups; subscribe without "group"`, { details: { transport: transport.name } });
    }
    if (!transport.capabilities.wildcards && hasWildcards(pattern)) {
      throw new CapabilityMissingError(`transport ${transport.name} has no wildcard subscriptions; subscribe to "${pattern}" token by token`, { details: { transport: transport.name, pattern } });
    }
    const owns = this.partitionFilter(options.partitions);
    const retry = options.retry ? resolveRetryPolicy({ ...this.retry, ...options.retry }) : this.retry;
    const controller = new AbortController();
    const handling: Handling = {
      chain: chainOf([...this.middleware, ...(options.middleware ?? [])], handler),
      retry, raw: options.raw === true, accept: options.accept, transport, stopSignal: controller.signal,
    };
    const scheduler = new KeyedScheduler<InboundMessage>((msg) => this.process(msg, handling), {
      concurrency: maxInFlight, maxPending, onFull: options.onFull ?? 'wait',
      // `process` settles every outcome itself; what still escapes is a settlement that failed (an ack,
      // nak, dead letter or error reply the transport could not take: usually a lost connection).
      onError: (err) => this.logger.error(UNSETTLED_MESSAGE, { pattern, err }),
    });
    const active: ActiveSubscription = { pattern, scheduler, controller };
    const ordered = options.ordered === true;
    if (!this.isStarted) await this.start();
    active.transportSub = await transport.subscribe(pattern, (msg) => {
      if (owns && !owns(msg.envelope.partitionkey)) {
        this.countersFor(msg.subject).skipped.add();
        return msg.ack();
      }
      return scheduler.push(msg, ordered ? msg.envelope.partitionkey : undefined);
    }, { group: options.group, maxInFlight: maxInFlight + (transport.capabilities.redelivery ? 0 : maxPending), raw: options.raw });
    this.subscriptions.add(active);
    return {
      pattern,
      drain: async () => { await active.transportSub?.drain(); await scheduler.idle(); this.subscriptions.delete(active); },
      unsubscribe: async () => { await active.transportSub?.unsubscribe(); controller.abort(); this.subscriptions.delete(active); },
    };
  }

  private partitionFilter(p: SubscribeOptions['partitions']): ((key: string | undefined) => boolean) | undefined {
    if (!p) return undefined;
    const { count, instanceIndex, instanceCount } = p;
    if (!(Number.isInteger(count) && count > 0 && Number.isInteger(instanceCount) && instanceCount > 0 && instanceCount <= count
      && Number.isInteger(instanceIndex) && instanceIndex >= 0 && instanceIndex < instanceCount)) {
      throw new OptionsInvalidError('partitions needs integers count >= instanceCount >= 1 and 0 <= instanceIndex < instanceCount', { details: { field: 'partitions' } });
    }
    // Messages without a key belong to partition 0.
    return (key) => partitionOf(key, count) % instanceCount === instanceIndex;
  }

  /**
   * One message through decode, contracts, middleware and handler, then settlement. When all of
   * it finishes synchronously (a handler that returned no promise, a transport that acks without
   * one), so does this: no promise is made and nothing waits for a microtask.
   */
  private process(msg: InboundMessage, h: Handling): Promise<void> | void {
    const m = this.countersFor(msg.subject);
    m.delivered.add();
    let envelope = msg.envelope;
    try {
      if (!h.raw && envelope.data instanceof Uint8Array && envelope.datacontenttype !== 'application/octet-stream') {
        envelope = { ...envelope, data: this.codecs.get(envelope.datacontenttype).decode(envelope.data, envelope.type) };
      }
      if (!h.raw && this.options.contracts) envelope = this.options.contracts.inbound(envelope, h.accept);
    } catch (err) {
      m.invalid.add();
      if (msg.reply) return this.replyError(msg, err);
      return this.deadLetter(msg, msg.envelope, err, msg.attempt);
    }
    return this.attempt(msg, envelope, msg.attempt, h, m);
  }

  /** One try: the chain, then settlement; a throw and a rejection both go to `failed`. */
  private attempt(msg: InboundMessage, envelope: Envelope, attempt: number, h: Handling, m: SubjectMetrics): Promise<void> | void {
    const ctx = new MessageContext(this, msg.subject, envelope, attempt, h.stopSignal);
    let result: unknown;
    try {
      result = h.chain(ctx);
    } catch (err) {
      return this.failed(msg, envelope, err, attempt, h, m);
    }
    if (isThenable(result)) return this.settleWhenHandled(result, msg, envelope, ctx, h, m);
    ctx.result = result;
    return this.settleOrFail(msg, envelope, ctx, h, m);
  }

  // Plain `then` rather than an async function: a couple of hundred bytes less per message.
  private settleWhenHandled(result: PromiseLike<unknown>, msg: InboundMessage, envelope: Envelope, ctx: MessageContext, h: Handling, m: SubjectMetrics): Promise<void> {
    return Promise.resolve(result).then(
      (value) => { ctx.result = value; return this.settleOrFail(msg, envelope, ctx, h, m); },
      (err: unknown) => this.failed(msg, envelope, err, ctx.attempt, h, m));
  }

  /** Settles a handled message; a reply or ack that fails makes the try a failed one. */
  private settleOrFail(msg: InboundMessage, envelope: Envelope, ctx: MessageContext, h: Handling, m: SubjectMetrics): Promise<void> | void {
    let settled: Promise<void> | void;
    try {
      settled = this.settle(msg, envelope, ctx, h.transport, m);
    } catch (err) {
      return this.failed(msg, envelope, err, ctx.attempt, h, m);
    }
    if (settled !== undefined) return this.failedIfRejected(settled, msg, envelope, ctx.attempt, h, m);
  }

  // Its own method, so the closure's captured context is made only when a settlement is asynchronous.
  private failedIfRejected(settled: Promise<void>, msg: InboundMessage, envelope: Envelope, attempt: number, h: Handling, m: SubjectMetrics): Promise<void> {
    return settled.then(undefined, (err: unknown) => this.failed(msg, envelope, err, attempt, h, m));
  }

  /** Replies to a request, acks and counts the message handled; a promise only when the transport needs one. */
  private settle(msg: InboundMessage, envelope: Envelope, ctx: MessageContext, transport: Transport, m: SubjectMetrics): Promise<void> | void {
    if (msg.reply) return this.replyAndAck(msg, envelope, ctx, transport, m);
    const acked = msg.ack();
    if (acked) return acked.then(() => { m.acked.add(); });
    m.acked.add();
  }

  private async replyAndAck(msg: InboundMessage, envelope: Envelope, ctx: MessageContext, transport: Transport, m: SubjectMetrics): Promise<void> {
    await msg.reply!(this.replyEnvelope(envelope, ctx.result, transport));
    const acked = msg.ack();
    if (acked) await acked;
    m.acked.add();
  }

  /** After a failed try: an error reply, a dead letter, a redelivery the transport does later, or the next try after a backoff. */
  private async failed(msg: InboundMessage, envelope: Envelope, err: unknown, attempt: number, h: Handling, m: SubjectMetrics): Promise<void> {
    if (msg.reply) return this.replyError(msg, err);
    if (isPermanent(err)) { m.invalid.add(); return this.deadLetter(msg, envelope, err, attempt); }
    if (attempt >= h.retry.maxAttempts) return this.deadLetter(msg, envelope, err, attempt);
    const delay = retryDelay(h.retry, attempt);
    m.retried.add();
    this.logger.debug('handler failed, retrying', { subject: msg.subject, id: envelope.id, attempt, delay, err });
    if (h.transport.capabilities.redelivery && msg.nak) { await msg.nak(delay); return; }
    await sleep(delay, h.stopSignal);
    return this.attempt(msg, envelope, attempt + 1, h, m);
  }

  private replyEnvelope(request: Envelope, data: unknown, transport: Transport): Envelope {
    const env: Envelope = {
      specversion: '1.0', id: newEventId(), source: this.source, type: `${request.type}.reply`, time: nowIso(),
      correlationid: request.correlationid ?? request.id, causationid: request.id, traceparent: childTraceparent(request.traceparent),
    };
    if (data !== undefined) {
      env.datacontenttype = data instanceof Uint8Array ? 'application/octet-stream' : 'application/json';
      env.data = data;
    }
    // Replies travel on the transport the request came from; encode when it carries bytes.
    if (env.data !== undefined && !(env.data instanceof Uint8Array) && transport.capabilities.encodesData) {
      env.data = this.codecs.get(env.datacontenttype).encode(env.data, env.type);
    }
    return env;
  }

  private async replyError(msg: InboundMessage, err: unknown): Promise<void> {
    const env: Envelope = {
      specversion: '1.0', id: newEventId(), source: this.source, type: `${msg.envelope.type}.error`, time: nowIso(),
      correlationid: msg.envelope.correlationid ?? msg.envelope.id, causationid: msg.envelope.id,
      [ERROR_HEADERS.code]: errorCode(err), [ERROR_HEADERS.message]: headerSafe(errorMessage(err)),
    };
    try { await msg.reply!(env); } catch (replyErr) { this.logger.warn('could not send an error reply', { subject: msg.subject, err: replyErr }); }
    await msg.ack();
    this.countersFor(msg.subject).invalid.add();
  }

  /**
   * Publishes a copy with `dlq*` headers to the dead-letter subject, then settles the original.
   * If the copy cannot be published the original is not acked, so it is not lost.
   */
  private async deadLetter(msg: InboundMessage, envelope: Envelope, err: unknown, attempts: number): Promise<void> {
    if (typeof msg.envelope.dlqreason === 'string') {
      // A dead letter that fails again is not dead-lettered again: a `dlq.>` consumer would
      // otherwise feed itself forever. It is logged whole, so it is not lost silently.
      this.logger.error('handling a dead letter failed; it is not dead-lettered again', {
        subject: msg.subject, id: envelope.id, reason: errorCode(err), message: errorMessage(err), envelope: loggable(msg.envelope),
      });
      this.countersFor(msg.subject).dropped.add();
      await (msg.term ?? msg.ack).call(msg);
      return;
    }
    const copy: Envelope = {
      ...envelope,
      dlqreason: errorCode(err), dlqmessage: headerSafe(errorMessage(err)), dlqattempts: String(attempts),
      dlqsubject: msg.subject, dlqservice: `${this.identity.app}@${this.identity.container}`,
    };
    if (copy.data === undefined) delete copy.datacontenttype;
    // Bytes nobody could decode (a device's broken JSON) must not be decoded again downstream.
    else if (copy.data instanceof Uint8Array && (copy.datacontenttype === undefined || err instanceof CodecDecodeError)) copy.datacontenttype = 'application/octet-stream';
    const subject = deadLetterSubject(msg.subject, this.options.deadLetterPrefix);
    for (let i = 1; ; i++) {
      try {
        await this.send(subject, copy);
        break;
      } catch (sendErr) {
        this.logger.error('dead-lettering failed', { subject, id: envelope.id, attempt: i, err: sendErr });
        if (i >= 5) {
          // Keep the original: a transport that redelivers gets it back; others log it loudly.
          if (msg.nak) await msg.nak(1000);
          else this.logger.error('message could not be dead-lettered and the transport cannot redeliver it', { subject: msg.subject, id: envelope.id, envelope });
          return;
        }
        await sleep(100 * 2 ** i);
      }
    }
    await (msg.term ?? msg.ack).call(msg);
    this.countersFor(msg.subject).deadlettered.add();
    this.logger.warn('message dead-lettered', { subject: msg.subject, id: envelope.id, reason: copy.dlqreason, attempts });
  }

  // ---------------------------------------------------------------- metrics

  /** A subject's counters (its route entry, made on first use). */
  countersFor(subject: string): SubjectRoute {
    let m = this.subjectRoutes.get(subject);
    if (m) return m;
    // Metric batches are not counted: counting them would publish a batch about batches forever.
    const counted = !subject.startsWith(METRICS_PREFIX);
    const f = (event: string, action: string) => counted
      ? this.metrics.counter({ app: this.identity.app, container: this.identity.container, context: subject, event, action })
      : NOT_COUNTED;
    m = {
      published: f('published', 'sent'), rejected: f('published', 'rejected'), delivered: f('received', 'delivered'),
      acked: f('handled', 'acked'), retried: f('failed', 'retried'), deadlettered: f('failed', 'deadlettered'),
      invalid: f('invalid', 'deadlettered'), skipped: f('received', 'skipped'), dropped: f('failed', 'dropped'),
      transport: undefined,
    };
    // Bounded: past 10,000 subjects it starts afresh (the recorder keeps the counters themselves).
    if (this.subjectRoutes.size >= 10_000) this.subjectRoutes.clear();
    this.subjectRoutes.set(subject, m);
    return m;
  }

  /** Counts a metric field for this service. */
  metric(event: string, action: string, options: MetricOptions & { context: string }): void {
    const field = { app: this.identity.app, container: this.identity.container, context: options.context, event, action, ...(options.query ? { query: options.query } : {}) };
    this.metrics.record(field, options.value, options.unit);
  }

  /** Publishes what was counted since the last flush as one `metric.field` envelope. */
  async flushMetrics(): Promise<MetricBatch | undefined> {
    const batch = this.metrics.take();
    if (!batch || this.options.metrics === false) return batch;
    try {
      await this.send(`${METRICS_PREFIX}${this.identity.app}`, {
        specversion: '1.0', id: newEventId(), source: this.source, type: 'metric.field', time: batch.end,
        datacontenttype: 'application/json', data: batch,
      });
    } catch (err) {
      this.logger.warn('could not publish metric fields', { err });
    }
    return batch;
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Stops gracefully: no new intake, in-flight handlers finish (aborted after `stopTimeoutMs`),
   * settles, publishes the last metric batch and closes the transports. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.signalHandler) { process.off('SIGTERM', this.signalHandler); process.off('SIGINT', this.signalHandler); }
      const grace = this.options.stopTimeoutMs ?? 10_000;
      const subs = [...this.subscriptions];
      const drained = Promise.all(subs.map(async (s) => {
        try { await s.transportSub?.drain(); } catch (err) { this.logger.warn('drain failed', { pattern: s.pattern, err }); }
        await s.scheduler.idle();
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
      await Promise.all([...this.transports.values()].map((t) => t.close().catch((err) => this.logger.warn('close failed', { transport: t.name, err }))));
    })();
    return this.stopping;
  }

  get isStopping(): boolean { return this.stopping !== undefined; }

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

  /** @internal used by MessageContext */
  _publishCaused<T>(cause: Envelope, subject: string, data: T, options: PublishOptions | undefined): Promise<Envelope<T>> {
    return this.publishWith(subject, data, options ?? {}, cause);
  }

  /** @internal used by MessageContext */
  _requestCaused<R, T>(cause: Envelope, subject: string, data: T, options: RequestOptions | undefined): Promise<Envelope<R>> {
    return this.requestWith<R, T>(subject, data, options ?? {}, cause);
  }
}

/** The per-message context handed to middleware and handlers. */
class MessageContext implements MiddlewareContext {
  result?: unknown;
  private controller?: AbortController;

  constructor(private readonly bus: Bus, readonly subject: string, readonly message: Envelope, readonly attempt: number,
    private readonly stopSignal: AbortSignal) {}

  get signal(): AbortSignal {
    // Made on first use: most handlers never look at it.
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.stopSignal.aborted) this.controller.abort(this.stopSignal.reason);
      else this.stopSignal.addEventListener('abort', () => this.controller!.abort(this.stopSignal.reason), { once: true });
    }
    return this.controller.signal;
  }

  get logger(): Logger { return this.bus.logger; }

  abort(reason: unknown): void { (this.controller ??= new AbortController()).abort(reason); }

  publish<T>(subject: string, data: T, options?: PublishOptions): Promise<Envelope<T>> {
    return this.bus._publishCaused(this.message, subject, data, options);
  }

  request<R = unknown, T = unknown>(subject: string, data: T, options?: RequestOptions): Promise<Envelope<R>> {
    return this.bus._requestCaused<R, T>(this.message, subject, data, options);
  }

  metric(event: string, action: string, options: MetricOptions = {}): void {
    this.bus.metric(event, action, { ...options, context: options.context ?? this.subject });
  }
}

/** Header values may not hold control characters; error messages sometimes do. */
function headerSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return clean.length > DLQ_MESSAGE_MAX ? `${clean.slice(0, DLQ_MESSAGE_MAX - 1)}…` : clean;
}

/** An envelope for a log line: binary data as base64. */
function loggable(env: Envelope): Record<string, unknown> {
  return env.data instanceof Uint8Array ? { ...env, data: undefined, data_base64: Buffer.from(env.data).toString('base64') } : env;
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

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== undefined && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

export type { HandlerContext };
