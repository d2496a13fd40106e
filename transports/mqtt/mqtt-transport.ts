import { randomUUID } from 'node:crypto';
import {
  CodecTooDeepError, createLogger, Delivery, EnvelopeInvalidError, refuseInbound, MessageTooLargeError, OptionsInvalidError, RequestTimeoutError, TransportClosedError,
  type Envelope, type InboundHandler, type Logger, type Transport, type TransportCapabilities,
  type TransportSubscribeOptions, type TransportSubscription,
} from '../../core/index.js';
import {
  fromMqttBinary, fromMqttStructured, toMqttBinary, toMqttStructured, rawEnvelope, type MqttInboundProperties,
} from './binding.js';
import { MqttConnection } from './connection.js';
import type { InboundPublish } from './packet-codec.js';
import { resolveMqttOptions, type MqttTransportOptions, type ResolvedMqttOptions } from './options.js';
import type { LocalSubscription } from './subscription.js';
import { brokerFilter, patternToFilter, subjectToTopic, topicMatchesFilter, topicToSubject } from './topics.js';

interface PendingRequest {
  resolve(reply: Envelope): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

const noop = () => {};
const INBOX_PREFIX = '_sb/inbox/';
/** One instance for every payload that is not a CloudEvent (a device stream makes many; the dead letter's `dlqsubject` names the topic). */
const NOT_A_CLOUDEVENT = new EnvelopeInvalidError('mqtt message is not a CloudEvent (neither specversion user properties nor a structured event)');

/**
 * MQTT 3.1.1 and 5 transport (npm `mqtt`). MQTT 5 uses binary mode (attributes as user properties),
 * 3.1.1 structured mode (the event as JSON). Consumer groups are shared subscriptions; with
 * `clean: false`, `qos` >= 1 and a stable `clientId` every subscription is a persistent session
 * that keeps messages while its subscriber is away. See transports/mqtt/README.md for guarantees.
 *
 * @example
 * const t = new MqttTransport({ url: 'mqtt://127.0.0.1:1883', qos: 1 });
 * const bus = new Bus({ service: 'ingest@edge-1', transport: t });
 */
export class MqttTransport implements Transport {
  readonly name = 'mqtt';
  readonly capabilities: TransportCapabilities;
  readonly options: ResolvedMqttOptions;
  private readonly logger: Logger;
  private readonly v5: boolean;
  private main?: MqttConnection;
  private connecting?: Promise<MqttConnection>;
  private readonly subs = new Set<LocalSubscription>();
  private readonly routeCache = new Map<string, LocalSubscription[]>();
  private readonly sessionOwners = new Map<MqttConnection, LocalSubscription>();
  /**
   * The main connection's filters at the broker, each subscribed once under the identifier of the
   * subscription that brought it: mqtt.js sends a filter its connection already holds no second
   * time, so local subscriptions with the same filter (a console and a stream on `alerts.>`) share one.
   */
  private readonly brokerFilters = new Map<string, { id: number; ready: Promise<void> }>();
  private readonly idFilters = new Map<number, string>();
  /** The main connection's subscriptions per broker filter (cleared with the route cache). */
  private readonly filterSubs = new Map<string, LocalSubscription[]>();
  private nextSubscriptionId = 1;
  private readonly inboxTopic: string;
  private inboxReady?: Promise<void>;
  private readonly pending = new Map<string, PendingRequest>();
  private closing?: Promise<void>;

  constructor(options: MqttTransportOptions & { logger?: Logger }) {
    this.options = resolveMqttOptions(options);
    this.logger = (options.logger ?? createLogger()).child({ transport: 'mqtt' });
    this.v5 = this.options.protocolVersion === 5;
    this.inboxTopic = `${INBOX_PREFIX}${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    this.capabilities = {
      requestReply: true, queueGroups: this.options.sharedSubscriptions, durable: this.options.durable, ordered: true,
      wildcards: true, redelivery: false, encodesData: true, maxMessageBytes: this.options.maxMessageBytes,
    };
  }

  async connect(): Promise<void> { await this.mainConnection(); }

  private mainConnection(): Promise<MqttConnection> {
    if (this.closing) return Promise.reject(new TransportClosedError('mqtt transport is closed'));
    if (this.main) return Promise.resolve(this.main);
    this.connecting ??= (async () => {
      const o = this.options;
      const conn: MqttConnection = new MqttConnection(o, o.clientId, o.clean, (p) => this.onPublish(conn, p), this.logger,
        (p, payloadBytes, packetBytes) => this.onOversize(conn, p, payloadBytes, packetBytes));
      try { await conn.connect(); } catch (err) { this.connecting = undefined; throw err; }
      if (conn.brokerMaxPacket !== undefined) this.capabilities.maxMessageBytes = Math.min(this.capabilities.maxMessageBytes, conn.brokerMaxPacket);
      this.main = conn;
      return conn;
    })();
    return this.connecting;
  }

  publish(subject: string, envelope: Envelope): Promise<void> {
    const main = this.main;
    if (!main || this.closing) return this.publishSlow(subject, envelope);
    let topic: string;
    let wire;
    try {
      topic = subjectToTopic(subject);
      wire = this.v5 ? toMqttBinary(envelope) : toMqttStructured(envelope);
    } catch (err) { return Promise.reject(err); }
    if (wire.payload.length > this.capabilities.maxMessageBytes) return Promise.reject(this.tooLarge(subject, wire.payload.length));
    return main.publish(topic, wire.payload, this.options.qos, this.v5 ? wire.properties : undefined);
  }

  private async publishSlow(subject: string, envelope: Envelope): Promise<void> {
    await this.mainConnection();
    return this.publish(subject, envelope);
  }

  private tooLarge(subject: string, bytes: number): MessageTooLargeError {
    return new MessageTooLargeError(`message for ${subject} is ${bytes} bytes; the MQTT broker takes at most ${this.capabilities.maxMessageBytes}`,
      { details: { bytes, limit: this.capabilities.maxMessageBytes } });
  }

  async subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    const filter = patternToFilter(pattern);
    if (options.group !== undefined && !this.options.sharedSubscriptions) {
      throw new OptionsInvalidError('consumer groups need shared subscriptions; this transport has sharedSubscriptions=false', { details: { field: 'group' } });
    }
    const shared = brokerFilter(filter, options.group);
    const main = await this.mainConnection();
    const connection = this.options.durable ? this.sessionFor(options.group, pattern) : main;
    const sub: LocalSubscription = {
      id: this.nextSubscriptionId++, pattern, filter, brokerFilter: shared, handler: onMessage, connection, active: true,
    };
    // Registered before the session connects: what the broker kept for it arrives right after CONNACK.
    this.add(sub);
    try {
      if (connection !== main) {
        await connection.connect();
        await connection.subscribe(shared, this.options.qos, this.v5 ? sub.id : undefined);
      } else {
        await this.brokerFilter(main, shared, sub.id);
      }
      if (connection !== main && options.group !== undefined) {
        // Mosquitto 2.0.11 does not route to $share subscriptions restored from its persistence file
        // after a restart, though it restores the session: subscribe again whenever the session resumes.
        connection.client.on('connect', (connack) => {
          if (connack.sessionPresent && sub.active) {
            // Unsubscribe first: Mosquitto lists the lost subscription in the session and ignores a plain re-subscribe.
            connection.unsubscribe(shared).then(() => connection.subscribe(shared, this.options.qos, this.v5 ? sub.id : undefined))
              .catch((err) => this.logger.warn('mqtt re-subscription after reconnect failed', { filter: shared, err }));
          }
        });
      }
    } catch (err) {
      this.remove(sub);
      if (connection !== main) await connection.end(false);
      throw err;
    }
    return {
      pattern,
      drain: () => this.stopSubscription(sub, false),
      unsubscribe: () => this.stopSubscription(sub, true),
    };
  }

  /** Subscribes the main connection to `filter` at the broker, or joins the subscription it has. */
  private brokerFilter(main: MqttConnection, filter: string, id: number): Promise<void> {
    const held = this.brokerFilters.get(filter);
    if (held) return held.ready;
    const entry = { id, ready: main.subscribe(filter, this.options.qos, this.v5 ? id : undefined) };
    this.brokerFilters.set(filter, entry);
    this.idFilters.set(id, filter);
    entry.ready.catch(() => {
      if (this.brokerFilters.get(filter) !== entry) return;
      this.brokerFilters.delete(filter);
      this.idFilters.delete(id);
    });
    return entry.ready;
  }

  /**
   * A persistent session of its own for one durable subscription, named from the client id, the
   * group and the pattern: the same service instance finds its session (and what was kept for it) again.
   */
  private sessionFor(group: string | undefined, pattern: string): MqttConnection {
    const id = `${this.options.clientId}-${fnv1a(`${group ?? ''}|${pattern}`)}`;
    const conn: MqttConnection = new MqttConnection(this.options, id, false, (p) => this.onPublish(conn, p), this.logger,
      (p, payloadBytes, packetBytes) => this.onOversize(conn, p, payloadBytes, packetBytes));
    return conn;
  }

  private async stopSubscription(sub: LocalSubscription, unsubscribe: boolean): Promise<void> {
    if (!sub.active && !this.subs.has(sub)) return;
    sub.active = false;
    if (sub.connection === this.main) {
      this.remove(sub);
      // The broker's subscription goes with the last local subscription that shares it.
      if ([...this.subs].some((s) => s.connection === this.main && s.brokerFilter === sub.brokerFilter)) return;
      const held = this.brokerFilters.get(sub.brokerFilter);
      this.brokerFilters.delete(sub.brokerFilter);
      if (held) this.idFilters.delete(held.id);
      await sub.connection.unsubscribe(sub.brokerFilter);
      return;
    }
    // A durable session: on drain keep it (the broker keeps messages for it); on unsubscribe end it.
    if (unsubscribe) await sub.connection.unsubscribe(sub.brokerFilter);
    this.remove(sub);
    await sub.connection.end(true, unsubscribe);
  }

  private add(sub: LocalSubscription): void {
    this.subs.add(sub);
    if (sub.connection !== this.main) this.sessionOwners.set(sub.connection, sub);
    this.routeCache.clear();
    this.filterSubs.clear();
  }

  private remove(sub: LocalSubscription): void {
    this.subs.delete(sub);
    if (this.sessionOwners.get(sub.connection) === sub) this.sessionOwners.delete(sub.connection);
    this.routeCache.clear();
    this.filterSubs.clear();
  }

  /** The local subscriptions a message on `topic` reached through `conn`. */
  private route(conn: MqttConnection, packet: InboundPublish, topic: string): LocalSubscription[] | LocalSubscription | undefined {
    // A session connection serves one subscription; identifiers it kept may be from an earlier process.
    if (conn !== this.main) return this.sessionOwners.get(conn);
    const ids = packet.properties?.subscriptionIdentifier;
    if (typeof ids === 'number') return this.sharing(ids);
    if (Array.isArray(ids)) return ids.flatMap((i) => this.sharing(i));
    // MQTT 3.1.1: no identifiers; match the topic against this connection's filters.
    let targets = this.routeCache.get(topic);
    if (!targets) {
      targets = [];
      for (const s of this.subs) if (s.connection === conn && topicMatchesFilter(s.filter, topic)) targets.push(s);
      if (this.routeCache.size > 10_000) this.routeCache.clear();
      this.routeCache.set(topic, targets);
    }
    return targets;
  }

  /** The main connection's subscriptions that share the broker subscription made under identifier `id`. */
  private sharing(id: number): LocalSubscription[] {
    const filter = this.idFilters.get(id);
    if (filter === undefined) return [];
    let subs = this.filterSubs.get(filter);
    if (!subs) {
      subs = [];
      for (const s of this.subs) if (s.connection === this.main && s.brokerFilter === filter) subs.push(s);
      this.filterSubs.set(filter, subs);
    }
    return subs;
  }

  /** Every inbound PUBLISH: replies to our requests, then the subscriptions it reached. */
  private onPublish(conn: MqttConnection, packet: InboundPublish): void | Promise<void> {
    const topic = packet.topic;
    const payload = packet.payload as Buffer;
    const props = packet.properties;
    if (topic === this.inboxTopic) return this.onReply(payload, props);
    const targets = this.route(conn, packet, topic);
    if (targets === undefined || (Array.isArray(targets) && targets.length === 0)) return;

    let envelope = fromMqttBinary(payload, props);
    let replyTopic: string | undefined;
    let structured = false;
    let tooDeep: CodecTooDeepError | undefined;
    if (envelope !== undefined) {
      replyTopic = props!.responseTopic;
    } else {
      try {
        const s = fromMqttStructured(payload);
        if (s) { envelope = s.envelope; replyTopic = s.replyTo ?? props?.responseTopic; structured = true; }
      } catch (err) {
        if (!(err instanceof CodecTooDeepError)) throw err;
        tooDeep = err;
      }
    }
    const subject = topicToSubject(topic);
    if (subject === undefined) {
      this.logger.warn('mqtt message on a topic that is no subject dropped', { topic });
      return;
    }
    // A device payload (no CloudEvent) is wrapped once, shared by every subscription it reaches; the Bus
    // hands it to raw subscriptions and dead-letters it on the others.
    const rawEnv = envelope === undefined ? rawEnvelope(topic, payload, props?.contentType, randomUUID(), new Date().toISOString()) : undefined;
    // A CloudEvent too deep to parse is no device payload either: refused with its code, on raw subscriptions too.
    if (tooDeep !== undefined) refuseInbound(rawEnv!, tooDeep);
    if (!Array.isArray(targets)) return this.deliver(targets, subject, envelope, rawEnv, replyTopic, structured, props);
    if (targets.length === 1) return this.deliver(targets[0]!, subject, envelope, rawEnv, replyTopic, structured, props);
    let waits: Promise<void>[] | undefined;
    for (const s of targets) { const r = this.deliver(s, subject, envelope, rawEnv, replyTopic, structured, props); if (r) (waits ??= []).push(r); }
    return waits ? Promise.all(waits).then(noop) : undefined;
  }

  /**
   * MQTT 3.1.1: a message longer than `maxMessageBytes` (3.1.1 cannot tell the broker the limit),
   * skipped by the connection without being buffered; `packet.payload` is the head it kept.
   *
   * Why a dead letter and not an intake drop: MQTT hands every message to the Bus (`onDropped` is
   * for transports that cannot hold their sender back, which this one can), and bad input goes to
   * the dead-letter subject with its reason, as everywhere. So each subscription the topic reaches
   * gets a stand-in envelope, refused with MessageTooLargeError (`refuseInbound`): the Bus
   * dead-letters it at once, on raw subscriptions too (`dlq.<subject>`, `dlqreason`
   * SB_ERR_MESSAGE_TOO_LARGE, `dlqtruncated` = the payload's size, data = the head as opaque
   * bytes), counts it invalid and logs it. The connection acknowledges it after that.
   */
  private onOversize(conn: MqttConnection, packet: InboundPublish, payloadBytes: number, packetBytes: number): void | Promise<void> {
    const topic = packet.topic;
    const limit = this.options.maxMessageBytes;
    const fields = { topic, bytes: packetBytes, limit };
    if (topic === this.inboxTopic) {
      this.logger.warn('mqtt reply larger than maxMessageBytes dropped; its request will time out', fields);
      return;
    }
    const targets = this.route(conn, packet, topic);
    if (targets === undefined || (Array.isArray(targets) && targets.length === 0)) return;
    const subject = topicToSubject(topic);
    if (subject === undefined) {
      this.logger.warn('mqtt message on a topic that is no subject dropped', fields);
      return;
    }
    const envelope = rawEnvelope(topic, packet.payload, 'application/octet-stream', randomUUID(), new Date().toISOString());
    envelope.dlqtruncated = String(payloadBytes);
    refuseInbound(envelope, new MessageTooLargeError(
      `MQTT message on ${topic} is ${packetBytes} bytes; this subscriber takes at most ${limit} (maxMessageBytes), skipped unread: publish smaller messages or raise maxMessageBytes`,
      { details: { bytes: packetBytes, limit, topic } }));
    if (!Array.isArray(targets)) return this.deliver(targets, subject, envelope, undefined, undefined, false, undefined);
    let waits: Promise<void>[] | undefined;
    for (const s of targets) { const r = this.deliver(s, subject, envelope, undefined, undefined, false, undefined); if (r) (waits ??= []).push(r); }
    return waits ? Promise.all(waits).then(noop) : undefined;
  }

  /** Hands one inbound message to one local subscription (a method, not a closure per message: this is the hot path). */
  private deliver(s: LocalSubscription, subject: string, envelope: Envelope | undefined, rawEnv: Envelope | undefined,
    replyTopic: string | undefined, structured: boolean, props: MqttInboundProperties | undefined): void | Promise<void> {
    if (!s.active) return s.connection === this.main ? undefined : HOLD;
    const msg = envelope
      ? new Delivery(subject, envelope, replyTopic === undefined ? undefined : this.replier(replyTopic, props?.correlationData, structured, envelope.id))
      : new Delivery(subject, rawEnv!, undefined, NOT_A_CLOUDEVENT);
    return s.handler(msg);
  }

  private replier(replyTopic: string, correlationData: Buffer | undefined, structured: boolean, requestId: string) {
    return async (reply: Envelope): Promise<void> => {
      const main = await this.mainConnection();
      let wire;
      if (structured || !this.v5) {
        // Structured requests are answered in structured mode, which any protocol version reads.
        wire = toMqttStructured(reply.causationid === undefined ? { ...reply, causationid: requestId } : reply);
      } else {
        wire = toMqttBinary(reply, undefined, correlationData ?? Buffer.from(requestId));
      }
      await main.publish(replyTopic, wire.payload, this.options.qos, this.v5 ? wire.properties : undefined);
    };
  }

  private onReply(payload: Buffer, props: MqttInboundProperties | undefined): void {
    let envelope = fromMqttBinary(payload, props);
    let key: string | undefined;
    if (envelope !== undefined) key = props!.correlationData?.toString('utf8');
    else {
      try { envelope = fromMqttStructured(payload)?.envelope; } catch { return; } // a reply too deep to read: the request times out
    }
    if (!envelope) return;
    key ??= envelope.causationid;
    const p = key === undefined ? undefined : this.pending.get(key);
    if (!p) return; // late reply after a timeout, or a second responder
    this.pending.delete(key!);
    clearTimeout(p.timer);
    p.resolve(envelope);
  }

  async request(subject: string, envelope: Envelope, options: { timeoutMs: number }): Promise<Envelope> {
    const main = await this.mainConnection();
    const topic = subjectToTopic(subject);
    this.inboxReady ??= main.subscribe(this.inboxTopic, this.options.qos).catch((err) => { this.inboxReady = undefined; throw err; });
    await this.inboxReady;
    const key = envelope.id;
    if (this.pending.has(key)) throw new OptionsInvalidError(`a request with id ${key} is already waiting for its reply`, { details: { field: 'id' } });
    const wire = this.v5 ? toMqttBinary(envelope, this.inboxTopic, Buffer.from(key)) : toMqttStructured(envelope, this.inboxTopic);
    if (wire.payload.length > this.capabilities.maxMessageBytes) throw this.tooLarge(subject, wire.payload.length);
    const reply = new Promise<Envelope>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new RequestTimeoutError(`no reply on ${subject} within ${options.timeoutMs} ms`, { details: { subject, timeoutMs: options.timeoutMs } }));
      }, options.timeoutMs);
      this.pending.set(key, { resolve, reject, timer });
    });
    try {
      await main.publish(topic, wire.payload, this.options.qos, this.v5 ? wire.properties : undefined);
    } catch (err) {
      const p = this.pending.get(key);
      if (p) { clearTimeout(p.timer); this.pending.delete(key); }
      throw err;
    }
    return reply;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subs].map((s) => this.stopSubscription(s, false).catch(noop)));
      for (const [key, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new TransportClosedError('mqtt transport closed while waiting for a reply'));
        this.pending.delete(key);
      }
      const main = this.main ?? await this.connecting?.catch(() => undefined);
      await Promise.all([main?.end(true), ...[...this.sessionOwners.keys()].map((s) => s.end(true))]);
      this.sessionOwners.clear();
    })();
    return this.closing;
  }
}

/**
 * Returned for a message that reached a durable subscription being drained: the promise never
 * settles, so the message is never acknowledged and the broker delivers it again to the session.
 */
const HOLD: Promise<void> = new Promise<void>(noop);

/** A short stable hash (FNV-1a, base 36) for naming sessions. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}
