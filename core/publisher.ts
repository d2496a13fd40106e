import type { CodecRegistry } from './codec.js';
import type { ContractHooks } from './contract-hooks.js';
import { validateEnvelope, type Envelope } from './envelope.js';
import { markPublished, publishedEnvelope } from './inbound-envelope.js';
import { BackpressureError, MessageTooLargeError } from './errors.js';
import type { PublishOptions } from './handler.js';
import type { HeaderLimits } from './headers.js';
import type { PartitionedSubjects } from './partitions.js';
import { buildEnvelope, checkCallerHeaders, type CheckedHeaders } from './outbound-envelope.js';
import type { SubjectEntry, SubjectTable } from './subject-table.js';
import { validateSubject } from './subjects.js';
import type { TenantSubjects } from './tenant-subjects.js';
import type { Tracing } from './tracing.js';
import type { Transport } from './transport.js';

/** What publishing needs from the Bus' options. */
export interface PublisherSettings {
  source: string;
  codecs: CodecRegistry;
  contracts: ContractHooks | undefined;
  headerLimits: HeaderLimits;
  maxPendingPublishes: number;
  onPublishFull: 'wait' | 'reject';
  /** Subjects carried partitioned (scale-out); undefined = none. */
  partitioning: PartitionedSubjects | undefined;
  /** Tenant subject spaces whose match publishes must keep; undefined = not checked. */
  tenantSubjects: TenantSubjects | undefined;
}

/**
 * Outbound messages: builds and checks envelopes, encodes them for their transport and hands them
 * over, with at most `maxPendingPublishes` waiting for a transport at once.
 */
export class Publisher {
  /** Set once the transports are connected; until then a send starts the Bus first. */
  started = false;
  /** Set when the Bus starts with a tracer (core/tracing.ts); undefined = no spans. */
  tracing: Tracing | undefined;
  private pending = 0;
  private waiters: Array<() => void> = [];
  private readonly checked: CheckedHeaders = { length: 0 };

  constructor(private readonly settings: PublisherSettings, private readonly subjects: SubjectTable, private readonly start: () => Promise<void>) {}

  /** Builds an envelope for `data` (caused by `cause`, if given) and sends it. */
  publish<T>(subject: string, data: T, options: PublishOptions, cause: Envelope | undefined): Promise<Envelope<T>> {
    // Whether a publish makes a span is known once the Bus has started.
    if (!this.started) return this.start().then(() => this.publish(subject, data, options, cause));
    let envelope: Envelope<T>;
    let entry: SubjectEntry;
    try {
      entry = this.subjects.forPublish(subject);
      envelope = this.prepare(subject, data, options, cause, entry.transport);
    } catch (err) {
      return Promise.reject(err);
    }
    const tracing = this.tracing;
    if (tracing !== undefined) return this.sendTraced(tracing, subject, envelope, entry, cause ? cause.traceparent : options.headers?.traceparent, options.traceLinks);
    return this.send(subject, envelope, entry);
  }

  /** `send` inside a publish span, which continues `parent` and puts itself in the envelope's traceparent. */
  private sendTraced<T>(tracing: Tracing, subject: string, envelope: Envelope<T>, entry: SubjectEntry, parent: string | undefined,
    links: readonly string[] | undefined): Promise<Envelope<T>> {
    const span = tracing.startSend('publish', subject, envelope, entry.transport.name, parent, links);
    return this.send(subject, envelope, entry).then((sent) => { tracing.endSend(span); return sent; }, (err: unknown) => { tracing.endSend(span, err); throw err; });
  }

  /** Sends an envelope as it is (a relay, a replay); only the headers are checked. */
  publishEnvelope(subject: string, envelope: Envelope): Promise<Envelope> {
    validateSubject(subject);
    validateEnvelope(envelope, this.settings.headerLimits);
    this.checkTenant(subject, envelope);
    const entry = this.subjects.entry(subject);
    // A caller's envelope, checked just now: marked in place (a defineProperty) where it passes through.
    if (!entry.transport.capabilities.encodesData) markPublished(envelope, this.settings.headerLimits);
    return this.send(subject, envelope, entry);
  }

  /**
   * With `tenantSubjects`: throws TenantMismatchError (counted as rejected) unless the envelope's
   * `tenant` matches the space of `subject`. Dead letters and metric batches (`send`) are not
   * checked: a dead letter keeps the space of its subject, a batch belongs to no tenant.
   */
  checkTenant(subject: string, envelope: Envelope): void {
    const refused = this.settings.tenantSubjects?.mismatch(subject, envelope.tenant);
    if (refused === undefined) return;
    this.subjects.entry(subject).rejected.add();
    throw refused;
  }

  /**
   * Builds, checks and contract-stamps an outbound envelope for `transport`; counts a rejection
   * when it fails. On a transport that passes objects through, the envelope is made marked as
   * having passed the publish checks (it is returned only once it has), so a subscriber handed
   * this very object skips the inbound ones (core/inbound-envelope.ts); one that encodes data
   * hands its subscribers a new object decoded from bytes, and needs no mark.
   */
  prepare<T>(subject: string, data: T, options: PublishOptions, cause: Envelope | undefined, transport: Transport): Envelope<T> {
    try {
      checkCallerHeaders(options, this.settings.headerLimits, this.checked);
      const into = transport.capabilities.encodesData ? undefined : publishedEnvelope(this.settings.headerLimits);
      const envelope = buildEnvelope(this.settings.source, subject, data, options, cause, into);
      const refused = this.settings.tenantSubjects?.mismatch(subject, envelope.tenant);
      if (refused !== undefined) throw refused;
      this.settings.contracts?.outbound(envelope, options.version);
      return envelope;
    } catch (err) {
      this.subjects.entry(subject).rejected.add();
      throw err;
    }
  }

  /**
   * Hands an envelope to its transport, encoding data where the transport carries bytes; resolves
   * with the envelope. `entry` is the subject's, when the caller already looked it up.
   */
  send<E extends Envelope>(subject: string, envelope: E, entry?: SubjectEntry): Promise<E> {
    if (!this.started) return this.start().then(() => this.send(subject, envelope, entry));
    const limit = this.settings.maxPendingPublishes;
    if (this.pending >= limit) {
      if (this.settings.onPublishFull === 'reject') {
        (entry ?? this.subjects.entry(subject)).rejected.add();
        return Promise.reject(new BackpressureError(`${limit} publishes are waiting for the transport; publish to ${subject} refused`, { details: { maxPendingPublishes: limit } }));
      }
      return new Promise<void>((r) => this.waiters.push(r)).then(() => this.send(subject, envelope, entry));
    }
    const e = entry ?? this.subjects.entry(subject);
    let wire: Envelope;
    try {
      wire = encodeFor(this.settings.codecs, e.transport, subject, envelope);
    } catch (err) {
      e.rejected.add();
      return Promise.reject(err);
    }
    this.pending++;
    const partitioning = this.settings.partitioning;
    const wireSubject = partitioning === undefined ? subject : partitioning.wireSubject(subject, envelope.partitionkey);
    return e.transport.publish(wireSubject, wire).then(() => {
      this.done();
      e.published.add();
      return envelope;
    }, (err: unknown) => {
      this.done();
      e.rejected.add();
      throw err;
    });
  }

  private done(): void {
    this.pending--;
    if (this.waiters.length > 0) this.waiters.shift()!();
  }
}

/** The envelope as `transport` takes it: data encoded to bytes where it carries bytes, size-checked. */
export function encodeFor(codecs: CodecRegistry, transport: Transport, subject: string, envelope: Envelope): Envelope {
  if (!transport.capabilities.encodesData || envelope.data === undefined) return envelope;
  const bytes = envelope.data instanceof Uint8Array ? envelope.data : codecs.get(envelope.datacontenttype).encode(envelope.data, envelope.type);
  if (bytes.byteLength > transport.capabilities.maxMessageBytes) {
    throw new MessageTooLargeError(`message for ${subject} is ${bytes.byteLength} bytes; ${transport.name} takes at most ${transport.capabilities.maxMessageBytes}`,
      { details: { bytes: bytes.byteLength, limit: transport.capabilities.maxMessageBytes } });
  }
  return bytes === envelope.data ? envelope : { ...envelope, data: bytes };
}
