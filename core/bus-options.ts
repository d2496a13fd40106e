import { CodecRegistry, defaultCodecs } from './codec.js';
import type { ContractHooks } from './contract-hooks.js';
import { CapabilityMissingError, OptionsInvalidError } from './errors.js';
import { DEFAULT_HEADER_LIMITS, type HeaderLimits } from './headers.js';
import { createLogger, type Logger } from './logger.js';
import type { Middleware } from './middleware.js';
import { partitionOf, PartitionedSubjects, type PartitionScheme } from './partitions.js';
import { DEFAULT_RETRY, resolveRetryPolicy, type RetryPolicy } from './retry.js';
import { resolveIdentity, sourceOf, type ServiceIdentity } from './service-identity.js';
import { compilePattern, hasWildcards, type SubjectMatcher } from './subjects.js';
import { TenantSubjects, type TenantSubjectsOptions } from './tenant-subjects.js';
import type { TracerProviderLike } from './tracing.js';
import type { Transport } from './transport.js';

export interface RouteRule {
  /** Subjects (a pattern) this rule sends to `transport`. */
  pattern: string;
  /** A key of `BusOptions.transports`. */
  transport: string;
}

export interface BusOptions {
  /** The service identity: `'filter'`, `'filter@edge-1'` or `{ app, container, version }`. */
  service: string | (Partial<ServiceIdentity> & { app: string });
  /**
   * The CloudEvents `source` of everything it emits. Default `/signalbus/<app>/<container>`.
   * Members of a scaled service share one (`signalbus run` sets it), so an output replayed by
   * another member after a takeover is the same event, source and id (what sinks and `dedupe()` key on).
   */
  source?: string;
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
  /**
   * Metric field publication: a batch every `intervalMs` (default 10,000; 0 = none), Prometheus
   * labels for `labelQueryKeys` (see `MetricsOptions`). `false` counts locally but publishes nothing.
   */
  metrics?: false | { intervalMs?: number; labelQueryKeys?: string[] };
  /** Contract enforcement (from `contracts/`). */
  contracts?: ContractHooks;
  codecs?: CodecRegistry;
  headerLimits?: HeaderLimits;
  logger?: Logger;
  /** Stop gracefully on SIGTERM/SIGINT. Default false. */
  handleSignals?: boolean;
  /**
   * Scale-out: subjects carried partitioned (`<prefix>.<partition>.<subject>`), so instances
   * subscribe to the partitions they own (`SubscribeOptions.partition`). Every Bus publishing or
   * consuming such subjects needs the same scheme.
   */
  partitioning?: PartitionScheme;
  /**
   * Tenant isolation by subject (core/tenant-subjects.ts, SECURITY.md): each tenant's events travel
   * under its prefix (`{tenant}.` by default). A publish whose `tenant` does not match the space of
   * its subject (or that has one outside every space, or none inside one) is refused with
   * TenantMismatchError; such a delivery is dead-lettered at once with `SB_ERR_TENANT_MISMATCH`,
   * never reaching the handler. A raw payload (not a CloudEvent) on a raw subscription takes the
   * tenant of its subject's space. Pair it with broker permissions that confine each tenant's
   * credentials to its space: the check makes a forged `tenant` visible, the broker stops it.
   */
  tenantSubjects?: TenantSubjectsOptions;
  /**
   * OpenTelemetry spans (core/tracing.ts, README "Tracing with OpenTelemetry"). Default `true`:
   * when the Bus starts, the tracer provider registered with `@opentelemetry/api` (an optional
   * peer dependency) makes them; without the package or a registered provider there are none and
   * the hot path does no tracing work. `false` makes none; `{ tracerProvider }` uses that provider.
   */
  tracing?: boolean | { tracerProvider: TracerProviderLike };
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
  /**
   * Handle messages with the same `partitionkey` strictly in order (others concurrently). A failing
   * message is retried before any later message of its key is handled, on every transport: the Bus
   * retries it in process, holding its key (other keys go on), instead of handing it back to a
   * broker that would redeliver it later. See `Handler`. A message without a `partitionkey` is
   * kept in order with the others of its subject (a device's raw payloads name it in the subject).
   */
  ordered?: boolean;
  /** Static partition assignment: this instance handles only the keys of its partitions. */
  partitions?: { count: number; instanceIndex: number; instanceCount: number };
  /** Retry policy for this subscription (over the bus'). */
  retry?: Partial<RetryPolicy>;
  /** Middleware for this subscription, inside the bus'. */
  middleware?: Middleware[];
  /**
   * Take payloads that are not CloudEvents (device topics): the handler gets an envelope the
   * transport made up around the bytes (`data` a Uint8Array, not decoded), and CloudEvents
   * undecoded too. Without it such a payload is dead-lettered (`SB_ERR_ENVELOPE_INVALID`) on
   * every transport.
   */
  raw?: boolean;
  /** Contract versions accepted (semver range); older compatible ones are upcast. */
  accept?: string;
  /** A transport name from `BusOptions.transports`, over the routes. */
  transport?: string;
  /**
   * Scale-out: consume only this partition of the pattern (its subjects must be covered by
   * `BusOptions.partitioning`). Handlers see the subject without the partition prefix.
   */
  partition?: number;
  /**
   * Replay: start after this log position (transports with `capabilities.replay`; each message's
   * position is its `InboundMessage.position`); 0 = the whole log. Takes no `group`.
   */
  startAfter?: number;
  /**
   * Asked before each message is handled. `false` means this consumer lost the right to the
   * messages (a partition lease lapsed): the message is left unsettled, not handled, and the
   * subscription stops taking messages. The new owner replays it.
   */
  admit?: () => boolean;
  /**
   * Messages published from the handler get ids derived from the handled message's id and their
   * order (unless given one), so handling the same message again (a retry, a replay after a
   * takeover) re-creates the same ids and the broker's duplicate window absorbs the copies.
   */
  deriveIds?: boolean;
  /**
   * Checkpointing without a log: settled messages stay unacknowledged on the broker until
   * `Subscription.commit()`, so a consumer that dies before saving its state gets them redelivered.
   * Up to this many held besides `maxInFlight` (a positive integer). Only on transports with
   * `capabilities.holdAcks`. See `TransportSubscribeOptions.holdAcks`.
   */
  holdAcks?: number;
  /**
   * Called (synchronously, once per interruption) when the transport lost this subscription's
   * consumer while it was active: the unacked messages, held ones included, go back to the broker
   * and will be handled again, so state built from uncommitted messages is suspect. Called before
   * any message of the replacement consumer is handed over; not on drain, unsubscribe or stop.
   */
  onInterrupted?: () => void;
}

/** Every default of the Bus and its subscriptions, in one place. */
export const BUS_DEFAULTS = {
  retry: DEFAULT_RETRY,
  headerLimits: DEFAULT_HEADER_LIMITS,
  requestTimeoutMs: 5000,
  maxPendingPublishes: 10_000,
  onPublishFull: 'wait',
  stopTimeoutMs: 10_000,
  metricsIntervalMs: 10_000,
  deadLetterPrefix: 'dlq',
  /** `maxInFlight` of an ordered subscription: one key at a time unless asked for more. */
  orderedMaxInFlight: 1,
  maxInFlight: 64,
  maxPending: 1000,
  onFull: 'wait',
} as const;

/** BusOptions with every default applied and every field checked. */
export interface ResolvedBusOptions {
  identity: ServiceIdentity;
  source: string;
  logger: Logger;
  transports: Map<string, Transport>;
  /** The first transport: subjects no route names go there. */
  defaultTransport: Transport;
  routes: Array<{ pattern: string; match: SubjectMatcher; transport: Transport }>;
  codecs: CodecRegistry;
  contracts: ContractHooks | undefined;
  retry: RetryPolicy;
  headerLimits: HeaderLimits;
  middleware: Middleware[];
  deadLetterPrefix: string;
  requestTimeoutMs: number;
  maxPendingPublishes: number;
  onPublishFull: 'wait' | 'reject';
  stopTimeoutMs: number;
  /** 0 when metric batches are not published. */
  metricsIntervalMs: number;
  publishMetrics: boolean;
  labelQueryKeys: string[] | undefined;
  handleSignals: boolean;
  partitioning: PartitionedSubjects | undefined;
  tenantSubjects: TenantSubjects | undefined;
  /** `false` = no spans; `'global'` = the provider registered with `@opentelemetry/api`, if any. */
  tracing: false | 'global' | TracerProviderLike;
}

/** Applies the defaults and checks BusOptions; a bad field is an OptionsInvalidError naming it. */
export function resolveBusOptions(options: BusOptions): ResolvedBusOptions {
  const identity = resolveIdentity(options.service);
  const logger = (options.logger ?? createLogger()).child({ service: identity.app, container: identity.container });
  const transports = new Map(Object.entries({ ...(options.transport ? { default: options.transport } : {}), ...options.transports }));
  const defaultTransport = transports.values().next().value;
  if (!defaultTransport) throw new OptionsInvalidError('a Bus needs a transport (options.transport or options.transports)', { details: { field: 'transport' } });
  const routes = (options.routes ?? []).map((r, i) => {
    const transport = transports.get(r.transport);
    if (!transport) throw new OptionsInvalidError(`routes[${i}] names transport "${r.transport}", which is not in options.transports`, { details: { field: `routes[${i}].transport` } });
    return { pattern: r.pattern, match: compilePattern(r.pattern), transport };
  });
  const codecs = options.codecs ?? defaultCodecs;
  for (const c of options.contracts?.codecs?.() ?? []) codecs.register(c);
  const retry = resolveRetryPolicy(options.retry);
  const positive = (field: 'requestTimeoutMs' | 'maxPendingPublishes' | 'stopTimeoutMs'): number => {
    const v = options[field];
    if (v === undefined) return BUS_DEFAULTS[field];
    if (!(Number.isFinite(v) && v > 0)) throw new OptionsInvalidError(`${field} must be a positive number`, { details: { field } });
    return v;
  };
  const metrics = options.metrics;
  const metricsIntervalMs = metrics === false ? 0 : metrics?.intervalMs ?? BUS_DEFAULTS.metricsIntervalMs;
  if (!(Number.isFinite(metricsIntervalMs) && metricsIntervalMs >= 0)) throw new OptionsInvalidError('metrics.intervalMs must be a number >= 0', { details: { field: 'metrics.intervalMs' } });
  const deadLetterPrefix = options.deadLetterPrefix ?? BUS_DEFAULTS.deadLetterPrefix;
  if (options.source !== undefined && (typeof options.source !== 'string' || options.source.length === 0)) {
    throw new OptionsInvalidError('source must be a non-empty string (a URI-reference)', { details: { field: 'source' } });
  }
  return {
    identity, source: options.source ?? sourceOf(identity), logger, transports, defaultTransport, routes, codecs,
    contracts: options.contracts, retry,
    headerLimits: options.headerLimits ?? BUS_DEFAULTS.headerLimits,
    middleware: [...(options.middleware ?? [])],
    deadLetterPrefix,
    requestTimeoutMs: positive('requestTimeoutMs'),
    maxPendingPublishes: positive('maxPendingPublishes'),
    onPublishFull: oneOf('onPublishFull', options.onPublishFull, ['wait', 'reject'], BUS_DEFAULTS.onPublishFull),
    stopTimeoutMs: positive('stopTimeoutMs'),
    metricsIntervalMs,
    publishMetrics: metrics !== false,
    labelQueryKeys: metrics ? metrics.labelQueryKeys : undefined,
    handleSignals: options.handleSignals ?? false,
    partitioning: options.partitioning === undefined ? undefined : new PartitionedSubjects(options.partitioning),
    tenantSubjects: options.tenantSubjects === undefined ? undefined : new TenantSubjects(options.tenantSubjects, deadLetterPrefix),
    tracing: resolveTracingOption(options.tracing),
  };
}

function resolveTracingOption(tracing: BusOptions['tracing']): ResolvedBusOptions['tracing'] {
  if (tracing === undefined || tracing === true) return 'global';
  if (tracing === false) return false;
  if (typeof tracing?.tracerProvider?.getTracer !== 'function') {
    throw new OptionsInvalidError('tracing must be true, false or { tracerProvider } with a getTracer method', { details: { field: 'tracing.tracerProvider' } });
  }
  return tracing.tracerProvider;
}

/** SubscribeOptions with every default applied and every field checked against its transport. */
export interface ResolvedSubscribeOptions {
  transport: Transport;
  group: string | undefined;
  maxInFlight: number;
  maxPending: number;
  onFull: 'wait' | 'reject';
  ordered: boolean;
  /** Whether this instance handles a key; undefined without static partitions. */
  owns: ((key: string | undefined) => boolean) | undefined;
  retry: RetryPolicy;
  raw: boolean;
  accept: string | undefined;
  /** The pattern subscribed on the transport: with `partition`, the partition's wire pattern. */
  wirePattern: string;
  /** Length of the partition prefix deliveries arrive with (0 = none), stripped before handling. */
  prefixLength: number;
  startAfter: number | undefined;
  admit: (() => boolean) | undefined;
  /** How many settled messages' acks may wait for `commit()` (0 = acks are not held). */
  holdAcks: number;
  onInterrupted: (() => void) | undefined;
  /** Salt of derived ids (the service name); undefined = ids are not derived. */
  idSalt: string | undefined;
}

/** Applies the defaults and checks SubscribeOptions; `transport` is the one the pattern routes to. */
export function resolveSubscribeOptions(pattern: string, options: SubscribeOptions, bus: ResolvedBusOptions, routed: () => Transport): ResolvedSubscribeOptions {
  const transport = options.transport !== undefined ? bus.transports.get(options.transport) : routed();
  if (!transport) throw new OptionsInvalidError(`subscribe: no transport named "${options.transport}"`, { details: { field: 'transport' } });
  const ordered = options.ordered === true;
  const maxInFlight = options.maxInFlight ?? (ordered ? BUS_DEFAULTS.orderedMaxInFlight : BUS_DEFAULTS.maxInFlight);
  const maxPending = options.maxPending ?? BUS_DEFAULTS.maxPending;
  if (!(Number.isInteger(maxInFlight) && maxInFlight > 0)) throw new OptionsInvalidError('maxInFlight must be a positive integer', { details: { field: 'maxInFlight' } });
  if (!(Number.isInteger(maxPending) && maxPending > 0)) throw new OptionsInvalidError('maxPending must be a positive integer', { details: { field: 'maxPending' } });
  if (options.group !== undefined && !transport.capabilities.queueGroups) {
    throw new CapabilityMissingError(`transport ${transport.name} has no consumer groups; subscribe without "group"`, { details: { transport: transport.name } });
  }
  if (!transport.capabilities.wildcards && hasWildcards(pattern)) {
    throw new CapabilityMissingError(`transport ${transport.name} has no wildcard subscriptions; subscribe to "${pattern}" token by token`, { details: { transport: transport.name, pattern } });
  }
  let wirePattern = pattern;
  if (options.partition !== undefined) {
    const scheme = bus.partitioning;
    if (!scheme) throw new OptionsInvalidError('subscribe: "partition" needs BusOptions.partitioning', { details: { field: 'partition' } });
    if (options.partitions !== undefined) throw new OptionsInvalidError('subscribe: give "partition" (owned through the broker) or "partitions" (a static filter), not both', { details: { field: 'partition' } });
    wirePattern = scheme.partitionPattern(pattern, options.partition);
  }
  const startAfter = options.startAfter;
  if (startAfter !== undefined) {
    if (!(Number.isInteger(startAfter) && startAfter >= 0)) throw new OptionsInvalidError('startAfter must be an integer >= 0 (a log position)', { details: { field: 'startAfter' } });
    if (!transport.capabilities.replay) {
      throw new CapabilityMissingError(`transport ${transport.name} keeps no log to replay from; subscribe without "startAfter"`, { details: { transport: transport.name } });
    }
    if (options.group !== undefined) throw new OptionsInvalidError('subscribe: a replay ("startAfter") belongs to one consumer and takes no "group"', { details: { field: 'group' } });
  }
  if (options.admit !== undefined && typeof options.admit !== 'function') throw new OptionsInvalidError('admit must be a function', { details: { field: 'admit' } });
  const holdAcks = options.holdAcks ?? 0;
  if (options.holdAcks !== undefined) {
    if (!(Number.isInteger(holdAcks) && holdAcks > 0)) throw new OptionsInvalidError('holdAcks must be a positive integer', { details: { field: 'holdAcks' } });
    if (!transport.capabilities.holdAcks) {
      throw new OptionsInvalidError(`transport ${transport.name} cannot hold acks until commit(); subscribe without "holdAcks"`, { details: { field: 'holdAcks', transport: transport.name } });
    }
  }
  if (options.onInterrupted !== undefined && typeof options.onInterrupted !== 'function') throw new OptionsInvalidError('onInterrupted must be a function', { details: { field: 'onInterrupted' } });
  return {
    transport, group: options.group, maxInFlight, maxPending, onFull: oneOf('onFull', options.onFull, ['wait', 'reject'], BUS_DEFAULTS.onFull), ordered,
    owns: partitionFilter(options.partitions),
    retry: options.retry ? resolveRetryPolicy({ ...bus.retry, ...options.retry }) : bus.retry,
    raw: options.raw === true, accept: options.accept,
    wirePattern, prefixLength: wirePattern.length - pattern.length, startAfter, admit: options.admit,
    holdAcks, onInterrupted: options.onInterrupted,
    idSalt: options.deriveIds === true ? bus.identity.app : undefined,
  };
}

function oneOf<T extends string>(field: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new OptionsInvalidError(`${field} must be one of ${allowed.join(', ')}`, { details: { field } });
  return value;
}

function partitionFilter(p: SubscribeOptions['partitions']): ((key: string | undefined) => boolean) | undefined {
  if (!p) return undefined;
  const { count, instanceIndex, instanceCount } = p;
  if (!(Number.isInteger(count) && count > 0 && Number.isInteger(instanceCount) && instanceCount > 0 && instanceCount <= count
    && Number.isInteger(instanceIndex) && instanceIndex >= 0 && instanceIndex < instanceCount)) {
    throw new OptionsInvalidError('partitions needs integers count >= instanceCount >= 1 and 0 <= instanceIndex < instanceCount', { details: { field: 'partitions' } });
  }
  // Messages without a key belong to partition 0.
  return (key) => partitionOf(key, count) % instanceCount === instanceIndex;
}
