/**
 * OpenTelemetry spans for what a Bus publishes, handles and requests, following the messaging
 * semantic conventions. `@opentelemetry/api` is an optional peer dependency: it is imported once,
 * when the first Bus starts, and a missing package or a global provider nobody registered (the
 * api's no-op proxy) leaves tracing off. Then the Bus holds no `Tracing` and the hot path pays
 * one `undefined` check per message: no span, allocation or await.
 *
 * The chain of one message across services and transports:
 * - `<subject> publish` (PRODUCER): its context is written into the envelope's `traceparent`,
 *   so the wire carries the span, not only the trace. Parent: the process span of the message
 *   being handled (a handler's `ctx.publish`), else a caller-given `headers.traceparent`, else
 *   the active context.
 * - `<subject> process` (CONSUMER; SERVER for a request): parented by the delivered envelope's
 *   `traceparent`; none or a malformed one makes it a new root. It covers the whole delivery:
 *   decoding, every try (a failed one adds an exception event), the ack, reply or dead letter.
 *   A delivery that ends dead-lettered, refused, replied to with an error or handed back to the
 *   broker ends with ERROR status and `error.type` = the error's `SB_ERR_*` code. The handler
 *   sees a copy of the envelope whose `traceparent` is this span, so whatever it causes
 *   (publishes, requests, replies, a dead letter) descends from it.
 * - `<subject> request` (CLIENT): like a publish; a RemoteHandlerError ends it in ERROR.
 *
 * Envelopes sent as they are (`publishEnvelope`, `requestEnvelope`: relays, replays) keep their
 * traceparent and get no span: a replay must not re-parent history.
 */
import type * as Otel from '@opentelemetry/api';
import type { Envelope } from './envelope.js';
import { errorCode, errorMessage } from './errors.js';
import { checkTraceparent, formatTraceparent } from './traceparent.js';
import type { InboundMessage } from './transport.js';

type OtelApi = typeof import('@opentelemetry/api');

/** What a Bus needs of a tracer provider (`@opentelemetry/api`'s TracerProvider), stated here so signalbus' types do not need the package. */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): unknown;
}

/** A span as the Bus uses it; `@opentelemetry/api`'s Span. */
export interface MessageSpan {
  end(): void;
}

/** The instrumentation scope name of every span a Bus makes. */
export const TRACER_NAME = 'signalbus';

let loading: Promise<OtelApi | undefined> | undefined;

/** `@opentelemetry/api`, imported once per process; undefined when it is not installed. */
function loadOtelApi(): Promise<OtelApi | undefined> {
  loading ??= import('@opentelemetry/api').then((api) => api, () => undefined);
  return loading;
}

/**
 * The Bus' tracing, decided when it starts: `false` = none; `'global'` = the provider registered
 * with `@opentelemetry/api` by then, if any; else the provider given. Undefined = no spans.
 */
export function resolveTracing(setting: false | 'global' | TracerProviderLike): Promise<Tracing | undefined> {
  return Tracing.resolve(setting);
}

/** The span context a traceparent names; undefined when it is malformed. */
function remoteSpanContext(traceparent: string): Otel.SpanContext | undefined {
  try { checkTraceparent(traceparent); } catch { return undefined; }
  return { traceId: traceparent.slice(3, 35), spanId: traceparent.slice(36, 52), traceFlags: parseInt(traceparent.slice(53, 55), 16) & 1, isRemote: true };
}

/** W3C traceparent of a span's context. */
function traceparentOf(sc: Otel.SpanContext): string {
  return formatTraceparent({ version: '00', traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags & 1 ? '01' : '00' });
}

/**
 * The CloudEvents attributes every span of a message carries. Only strings: a delivered envelope
 * is looked at before the inbound rules refuse a malformed one (its span records the refusal).
 */
function messageAttributes(attributes: Otel.Attributes, envelope: Envelope): Otel.Attributes {
  const { id, source, type, specversion, correlationid } = envelope as Record<string, unknown>;
  if (typeof id === 'string') { attributes['messaging.message.id'] = id; attributes['cloudevents.event_id'] = id; }
  if (typeof source === 'string') attributes['cloudevents.event_source'] = source;
  if (typeof type === 'string') attributes['cloudevents.event_type'] = type;
  if (typeof specversion === 'string') attributes['cloudevents.event_spec_version'] = specversion;
  if (typeof correlationid === 'string') attributes['messaging.message.conversation_id'] = correlationid;
  return attributes;
}

/** Spans for one Bus; made by `resolveTracing` only when there is a tracer to make them. */
export class Tracing {
  /** The process span of each delivery being handled, for settlement to report its outcome on. */
  private readonly processing = new WeakMap<InboundMessage, Otel.Span>();

  // Private, so signalbus' published declarations never name `@opentelemetry/api` (it may be absent).
  private constructor(private readonly api: OtelApi, private readonly tracer: Otel.Tracer) {}

  /** See `resolveTracing`. */
  static async resolve(setting: false | 'global' | TracerProviderLike): Promise<Tracing | undefined> {
    if (setting === false) return undefined;
    const api = await loadOtelApi();
    if (api === undefined) return undefined;
    let tracer: Otel.Tracer | undefined;
    if (setting === 'global') {
      const provider = api.trace.getTracerProvider() as Otel.TracerProvider & Partial<Pick<Otel.ProxyTracerProvider, 'getDelegateTracer'>>;
      // The global provider is a proxy whose tracers are no-ops until an SDK registers a delegate.
      tracer = typeof provider.getDelegateTracer === 'function' ? provider.getDelegateTracer(TRACER_NAME) : provider.getTracer(TRACER_NAME);
    } else {
      tracer = setting.getTracer(TRACER_NAME) as Otel.Tracer;
    }
    return tracer === undefined ? undefined : new Tracing(api, tracer);
  }

  /**
   * Starts the span of a publish (`operation` 'publish', PRODUCER) or request ('request', CLIENT)
   * and writes its context into `envelope.traceparent`. `parent` is the traceparent it continues
   * (the handled message's, a caller's); undefined = the active context. `links`: traceparents
   * of other messages it derives from.
   */
  startSend(operation: 'publish' | 'request', subject: string, envelope: Envelope, transport: string, parent: string | undefined,
    links: readonly string[] | undefined): MessageSpan {
    const api = this.api;
    const attributes = messageAttributes({
      'messaging.system': transport, 'messaging.destination.name': subject, 'messaging.operation.type': 'send', 'messaging.operation.name': operation,
    }, envelope);
    const kind = operation === 'publish' ? api.SpanKind.PRODUCER : api.SpanKind.CLIENT;
    const context = parent === undefined ? api.context.active() : this.remoteContext(parent, envelope.tracestate);
    const options: Otel.SpanOptions = { kind, attributes };
    if (links !== undefined && links.length > 0) options.links = this.linksTo(links);
    const span = this.tracer.startSpan(`${subject} ${operation}`, options, context);
    const sc = span.spanContext();
    if (api.trace.isSpanContextValid(sc)) {
      envelope.traceparent = traceparentOf(sc);
      const state = sc.traceState?.serialize();
      if (state) envelope.tracestate = state;
    }
    return span;
  }

  /** Ends a publish or request span; `err` = it failed. */
  endSend(span: MessageSpan, err?: unknown): void {
    if (err !== undefined) this.markFailed(span as Otel.Span, err);
    span.end();
  }

  /** Starts the process span of a delivery on a subscription to `pattern` (in `group`, if any). */
  startProcess(msg: InboundMessage, transport: string, pattern: string, group: string | undefined): void {
    const api = this.api;
    const envelope = msg.envelope;
    const attributes = messageAttributes({
      'messaging.system': transport, 'messaging.destination.name': msg.subject, 'messaging.destination.template': pattern,
      'messaging.operation.type': 'process', 'messaging.operation.name': 'process',
    }, envelope);
    if (group !== undefined) attributes['messaging.consumer.group.name'] = group;
    if (msg.attempt > 1) attributes['signalbus.delivery_attempt'] = msg.attempt;
    const tp = envelope.traceparent;
    const context = typeof tp === 'string' ? this.remoteContext(tp, typeof envelope.tracestate === 'string' ? envelope.tracestate : undefined) : api.ROOT_CONTEXT;
    const kind = msg.reply ? api.SpanKind.SERVER : api.SpanKind.CONSUMER;
    this.processing.set(msg, this.tracer.startSpan(`${msg.subject} process`, { kind, attributes }, context));
  }

  /** The envelope a handler sees: a copy carrying the process span as its traceparent, so all it causes descends from that span. */
  handled(msg: InboundMessage, envelope: Envelope): Envelope {
    const span = this.processing.get(msg);
    if (span === undefined) return envelope;
    const sc = span.spanContext();
    return this.api.trace.isSpanContextValid(sc) ? { ...envelope, traceparent: traceparentOf(sc) } : envelope;
  }

  /**
   * Runs a try of the handler with the process span as the active context, so spans the handler
   * makes itself (a database call, an HTTP client) are its children where a context manager is
   * registered (`@opentelemetry/context-async-hooks` in Node).
   */
  run<T>(msg: InboundMessage, handler: () => T): T {
    const span = this.processing.get(msg);
    if (span === undefined) return handler();
    const api = this.api;
    return api.context.with(api.trace.setSpan(api.context.active(), span), handler);
  }

  /** A try failed (a later one may still succeed): an exception event on the process span. */
  tryFailed(msg: InboundMessage, err: unknown, attempt: number): void {
    // The semconv `exception` event, written out so it can carry the try it belongs to.
    const attributes: Otel.Attributes = { 'exception.type': err instanceof Error ? err.name : typeof err, 'exception.message': errorMessage(err), 'signalbus.attempt': attempt };
    if (err instanceof Error && err.stack !== undefined) attributes['exception.stacktrace'] = err.stack;
    this.processing.get(msg)?.addEvent('exception', attributes);
  }

  /** The delivery ends failed (`outcome`: dead-lettered, error-replied, handed-back, dropped): ERROR status. */
  failed(msg: InboundMessage, err: unknown, outcome: string): void {
    const span = this.processing.get(msg);
    if (span === undefined) return;
    this.markFailed(span, err);
    span.setAttribute('signalbus.outcome', outcome);
  }

  /** The delivery is settled (or settling it failed with `err`): its process span ends. */
  endProcess(msg: InboundMessage, err?: unknown): void {
    const span = this.processing.get(msg);
    if (span === undefined) return;
    this.processing.delete(msg);
    if (err !== undefined) this.markFailed(span, err);
    span.end();
  }

  private markFailed(span: Otel.Span, err: unknown): void {
    span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: errorMessage(err) });
    span.setAttribute('error.type', errorCode(err));
  }

  /** The context a traceparent continues; a malformed one continues nothing (a new root, as W3C says). */
  private remoteContext(traceparent: string, tracestate: string | undefined): Otel.Context {
    const api = this.api;
    const sc = remoteSpanContext(traceparent);
    if (sc === undefined) return api.ROOT_CONTEXT;
    if (tracestate) sc.traceState = api.createTraceState(tracestate);
    return api.trace.setSpanContext(api.ROOT_CONTEXT, sc);
  }

  /** Span links to the valid ones of `traceparents`. */
  private linksTo(traceparents: readonly string[]): Otel.Link[] {
    const links: Otel.Link[] = [];
    for (const tp of traceparents) {
      const context = typeof tp === 'string' ? remoteSpanContext(tp) : undefined;
      if (context !== undefined) links.push({ context });
    }
    return links;
  }
}
