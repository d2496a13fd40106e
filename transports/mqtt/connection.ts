/**
 * One MQTT client connection: typed first connect, reconnection with exponential backoff and
 * jitter, a bounded offline publish queue, and inbound backpressure (the next packet is read
 * only when the handler's promise resolves, so a slow consumer holds the broker back over TCP).
 *
 * The hot paths bypass mqtt.js's packet writer and parser (packet-codec.ts, packet-stream.ts):
 * while connected, a PUBLISH is encoded into one Buffer and written to the socket, with QoS >= 1
 * registered in mqtt.js's outgoing table and store so that mqtt.js still matches the PUBACK and
 * resends after a reconnect; inbound QoS 0/1 PUBLISH packets are decoded here and acknowledged
 * here. Everything else (connect, subscribe, keepalive, QoS 2, offline queueing) stays mqtt.js's.
 */
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { MqttClient, type IClientOptions, type IClientPublishOptions, type IPublishPacket } from 'mqtt';
import { DLQ_TRUNCATED_DATA_BYTES } from '../../core/outbound-envelope.js';
import {
  BackpressureError, reconnectDelayMs, TransportAuthError, TransportClosedError, TransportConnectError, TransportPermissionError, type Logger,
} from '../../core/index.js';
import type { MqttWireProperties } from './binding.js';
import type { ResolvedMqttOptions } from './options.js';
import { decodePublish, encodePuback, encodePublish, fromMqttPacket, topicField, type InboundPublish } from './packet-codec.js';
import { PacketStream, type HeldKeepalive, type OversizeSkip, type PublishTap } from './packet-stream.js';

/** Handles one inbound PUBLISH; a returned promise holds back the next one until it settles. */
export type PublishHandler = (packet: InboundPublish) => void | Promise<void>;

/**
 * Handles one inbound PUBLISH longer than `maxMessageBytes` that was skipped (MQTT 3.1.1):
 * `packet.payload` is only the head kept of it, `payloadBytes` the payload's whole size,
 * `packetBytes` the packet's. It is acknowledged like any message once this returns or settles.
 */
export type OversizeHandler = (packet: InboundPublish, payloadBytes: number, packetBytes: number) => void | Promise<void>;

/** The mqtt.js client state the fast publish path reads and updates (mqtt 5.x, see MqttClient). */
interface ClientInternals {
  connected: boolean;
  disconnecting: boolean;
  stream: unknown;
  queue: unknown[];
  _storeProcessing: boolean;
  _storeProcessingQueue: unknown[];
  outgoing: Record<number, { volatile: boolean; cmd: string; cb: (err?: Error) => void }>;
  outgoingStore: { put(packet: object, cb: (err?: Error) => void): unknown };
  messageIdProvider: { allocate(): number | null };
}


/** CONNACK codes that mean "who you are is not accepted" (3.1.1: 4, 5; MQTT 5: 0x86, 0x87, 0x8C). */
const AUTH_CODES = new Set([4, 5, 134, 135, 140]);
const CONNACK_REASONS: Record<number, string> = {
  1: 'unacceptable protocol version', 2: 'identifier rejected', 3: 'server unavailable', 4: 'bad user name or password',
  5: 'not authorized', 128: 'unspecified error', 129: 'malformed packet', 130: 'protocol error', 132: 'unsupported protocol version',
  133: 'client identifier not valid', 134: 'bad user name or password', 135: 'not authorized', 136: 'server unavailable',
  137: 'server busy', 138: 'banned', 140: 'bad authentication method', 149: 'packet too large', 151: 'quota exceeded',
};

/** The URL with `protocolVersion=4` added to its query, for the hint to a 3.1.1-only broker. */
function withProtocol4(url: string): string {
  if (/[?&]protocolVersion=/.test(url)) return url.replace(/([?&]protocolVersion=)[^&]*/, '$14');
  return `${url}${url.includes('?') ? '&' : '?'}protocolVersion=4`;
}

/** PUBACK/SUBACK reason code 0x87: the broker's ACL does not permit this topic for these credentials (MQTT 5). */
const NOT_AUTHORIZED = 135;

const noop = () => {};

/**
 * Payload bytes kept of a skipped oversize PUBLISH for its dead letter: core's DLQ_TRUNCATED_DATA_BYTES
 * at most, and a quarter of `maxMessageBytes`, so that the dead letter (the head as base64 in a
 * structured event, plus the `dlq*` attributes) still fits under the same limit.
 */
export function oversizeHeadBytes(maxMessageBytes: number): number {
  return Math.min(DLQ_TRUNCATED_DATA_BYTES, Math.floor(maxMessageBytes / 4));
}

/** Sizes of the oversize QoS 2 messages handed to mqtt.js truncated, by packet id, until mqtt.js delivers them. */
interface OversizeSizes { payloadBytes: number; packetBytes: number }

export class MqttConnection {
  readonly client: MqttClient;
  /** Largest packet the broker accepts (CONNACK Maximum Packet Size), when it says. */
  brokerMaxPacket?: number;
  private offlinePublishes = 0;
  private reconnectAttempt = 0;
  private connecting?: Promise<void>;
  private ended?: Promise<void>;
  private readonly v5: boolean;
  private readonly internals: ClientInternals;

  /** MQTT 3.1.1: oversize QoS 2 packets mqtt.js holds (truncated) between PUBREC and PUBREL. */
  private readonly oversizeQos2 = new Map<number, OversizeSizes>();

  /**
   * `onOversize` (MQTT 3.1.1 only, where the client cannot announce `maxMessageBytes` to the
   * broker): gets each PUBLISH longer than that, skipped without being buffered; unset, such a
   * packet is acknowledged and dropped with a warning.
   */
  constructor(private readonly o: ResolvedMqttOptions, readonly clientId: string, clean: boolean, private readonly onPublish: PublishHandler,
    private readonly logger: Logger, private readonly onOversize?: OversizeHandler) {
    const opts: IClientOptions = {
      clientId, clean, protocolVersion: o.protocolVersion, keepalive: o.keepaliveSeconds, connectTimeout: o.connectTimeoutMs,
      reconnectPeriod: o.reconnect.initialDelayMs, rejectUnauthorized: o.tls.rejectUnauthorized, resubscribe: true, queueQoSZero: true,
      manualConnect: true,
    };
    if (o.username !== undefined) opts.username = o.username;
    if (o.password !== undefined) opts.password = o.password;
    if (o.tls.ca !== undefined) opts.ca = o.tls.ca;
    if (o.tls.cert !== undefined) opts.cert = o.tls.cert;
    if (o.tls.key !== undefined) opts.key = o.tls.key;
    if (o.protocolVersion === 5) {
      opts.properties = { sessionExpiryInterval: clean ? 0 : o.sessionExpirySeconds, maximumPacketSize: o.maxMessageBytes };
    }
    this.v5 = o.protocolVersion === 5;
    // While the inbound tap holds the socket paused, the keepalive is kept by hand (packet-stream.ts).
    const held = { intervalMs: (o.keepaliveSeconds * 1000) / 2, ping: () => { this.client.sendPing(); this.client.reschedulePing(true); } };
    // MQTT 5 announced the limit in CONNECT: a longer packet breaks the protocol and ends the
    // connection. 3.1.1 announced nothing: a longer PUBLISH is skipped as it streams past.
    const skip: OversizeSkip | undefined = this.v5 ? undefined : { headBytes: oversizeHeadBytes(o.maxMessageBytes), skipped: this.skipped };
    this.client = new MqttClient(() => openStream(o, this.tap, held, skip) as never, opts);
    this.internals = this.client as unknown as ClientInternals;
    this.client.handleMessage = (packet, done) => {
      let r: void | Promise<void> = undefined;
      try {
        const big = packet.qos === 2 && this.oversizeQos2.size > 0 ? this.oversizeQos2.get(packet.messageId!) : undefined;
        if (big === undefined) r = onPublish(fromMqttPacket(packet));
        else {
          this.oversizeQos2.delete(packet.messageId!);
          r = this.handleOversize(fromMqttPacket(packet), big.payloadBytes, big.packetBytes);
        }
      } catch (err) { this.logger.error('mqtt inbound handler threw', { err }); }
      if (r) r.then(() => done(), (err) => { this.logger.error('mqtt inbound handler failed', { err }); done(); });
      else done();
    };
    this.client.on('connect', (connack) => {
      this.reconnectAttempt = 0;
      this.client.options.reconnectPeriod = o.reconnect.initialDelayMs;
      const max = connack.properties?.maximumPacketSize;
      if (max !== undefined) this.brokerMaxPacket = max;
      // mqtt.js drops the QoS 2 messages it held when the session did not survive; so do we.
      if (!connack.sessionPresent) this.oversizeQos2.clear();
    });
    this.client.on('reconnect', () => {
      // mqtt.js waits a fixed period; widen it for the next attempt (backoff with jitter).
      this.client.options.reconnectPeriod = reconnectDelayMs(o.reconnect, ++this.reconnectAttempt + 1);
    });
    this.client.on('offline', () => this.logger.warn('mqtt connection lost; reconnecting', { clientId }));
    this.client.on('error', (err) => this.logger.debug('mqtt client error', { clientId, err }));
  }

  get connected(): boolean { return this.client.connected; }

  /** Inbound QoS 0/1 PUBLISH packets, decoded here; QoS 2 and anything unusual go to mqtt.js. */
  private readonly tap = (buf: Buffer, flags: number, start: number, end: number): boolean | Promise<void> => {
    if (flags & 0x04) return false; // QoS 2: mqtt.js keeps its PUBREC/PUBREL state
    const packet = decodePublish(buf, flags, start, end, this.v5);
    if (!packet) return false;
    let r: void | Promise<void> = undefined;
    try { r = this.onPublish(packet); } catch (err) { this.logger.error('mqtt inbound handler threw', { err }); }
    return this.ackWhenTaken(packet, r);
  };

  /**
   * Acknowledges a QoS 1 `packet` once its handling `r` is done, failed or not (the Bus settled
   * it): true when that is now, else the promise the stream holds the next packet back on.
   */
  private ackWhenTaken(packet: InboundPublish, r: void | Promise<void>): true | Promise<void> {
    const stream = this.client.stream as unknown as PacketStream;
    if (!r) {
      if (packet.qos === 1) this.puback(stream, packet.messageId);
      return true;
    }
    return r.then(() => { if (packet.qos === 1) this.puback(stream, packet.messageId); }, (err) => {
      this.logger.error('mqtt inbound handler failed', { err });
      if (packet.qos === 1) this.puback(stream, packet.messageId);
    });
  }

  /**
   * MQTT 3.1.1: a PUBLISH longer than `maxMessageBytes` went past without being buffered
   * (packet-stream.ts); `prefix` holds its topic, packet id and the head of its payload. It is
   * acknowledged as any message at its QoS, so the broker does not send it again: QoS 0/1 here
   * once the handler took it; QoS 2 goes to mqtt.js cut down to that head, which runs the
   * PUBREC/PUBREL/PUBCOMP handshake as for every QoS 2 message and delivers it through
   * `handleMessage`, which knows it by its packet id.
   */
  private readonly skipped = (prefix: Buffer, flags: number, remaining: number): true | Buffer | Promise<void> => {
    const packetBytes = 1 + (remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x200000 ? 3 : 4) + remaining;
    const packet = decodePublish(prefix, flags, 0, prefix.length, false);
    if (!packet) {
      // No topic to name or packet id to acknowledge: mqtt.js would have called the packet malformed.
      this.logger.warn('mqtt malformed oversize PUBLISH skipped', { clientId: this.clientId, bytes: packetBytes, limit: this.o.maxMessageBytes });
      return true;
    }
    const payloadBytes = remaining - (prefix.length - packet.payload.length);
    if (packet.qos === 2) {
      this.oversizeQos2.set(packet.messageId, { payloadBytes, packetBytes });
      const out = encodePublish(prefix.subarray(0, 2 + Buffer.byteLength(packet.topic)), packet.payload, 2, packet.messageId, false);
      out[0] = 0x30 | flags; // keeps DUP and RETAIN
      return out;
    }
    let r: void | Promise<void> = undefined;
    try { r = this.handleOversize(packet, payloadBytes, packetBytes); } catch (err) { this.logger.error('mqtt inbound handler threw', { err }); }
    return this.ackWhenTaken(packet, r);
  };

  private handleOversize(packet: InboundPublish, payloadBytes: number, packetBytes: number): void | Promise<void> {
    if (this.onOversize) return this.onOversize(packet, payloadBytes, packetBytes);
    this.logger.warn('mqtt message larger than maxMessageBytes dropped', { topic: packet.topic, bytes: packetBytes, limit: this.o.maxMessageBytes });
  }

  /** Acknowledges on the connection the message came through (after a reconnect the broker sends it again). */
  private puback(stream: PacketStream, messageId: number): void {
    if (stream.usable) stream.writePacket(encodePuback(messageId));
  }
  /** Connects once. Rejects with TransportAuthError (naming the reason code) or TransportConnectError. */
  connect(): Promise<void> {
    this.connecting ??= new Promise<void>((resolve, reject) => {
      const c = this.client;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: Error) => {
        clearTimeout(timer);
        c.off('connect', onConnect);
        c.off('error', onError);
        if (!err) return resolve();
        c.end(true);
        reject(err);
      };
      const onConnect = () => finish();
      const onError = (err: Error & { code?: number | string }) => {
        if (typeof err.code === 'number') {
          const reason = CONNACK_REASONS[err.code] ?? 'refused';
          const details = { url: redact(this.o.url), clientId: this.clientId, reasonCode: err.code, reason };
          // A 3.1.1-only broker (aedes, older Mosquitto, many device gateways) answers an MQTT 5 CONNECT with 3.1.1's code 1.
          const olderBroker = this.v5 && (err.code === 1 || err.code === 132);
          const hint = olderBroker ? `; the broker speaks only MQTT 3.1.1: add ?protocolVersion=4 to the URL (${withProtocol4(redact(this.o.url))})` : '';
          const message = `MQTT broker refused the connection: reason code ${err.code} (${reason})${hint}`;
          finish(AUTH_CODES.has(err.code) ? new TransportAuthError(message, { cause: err, details }) : new TransportConnectError(message, { cause: err, details }));
        } else {
          finish(new TransportConnectError(`cannot connect to MQTT broker ${redact(this.o.url)}: ${err.message}`, { cause: err, details: { url: redact(this.o.url), code: err.code } }));
        }
      };
      c.on('connect', onConnect);
      c.on('error', onError);
      timer = setTimeout(() => finish(new TransportConnectError(`no CONNACK from ${redact(this.o.url)} within ${this.o.connectTimeoutMs} ms`,
        { details: { url: redact(this.o.url) } })), this.o.connectTimeoutMs + 100);
      c.connect();
    });
    return this.connecting;
  }

  /**
   * Publishes; resolves when written (QoS 0) or acknowledged by the broker (QoS 1/2). While
   * disconnected at most `maxBufferedPublishes` publishes wait, then BackpressureError.
   */
  publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, properties?: MqttWireProperties): Promise<void> {
    if (this.ended) return Promise.reject(new TransportClosedError(`mqtt connection ${this.clientId} is closed`));
    const c = this.internals;
    const stream = c.stream;
    if (c.connected && !c.disconnecting && !c._storeProcessing && c._storeProcessingQueue.length === 0 && c.queue.length === 0
      && stream instanceof PacketStream && stream.usable) {
      return this.publishDirect(stream, topic, payload, qos, properties);
    }
    return this.publishViaClient(topic, payload, this.v5 && properties ? { qos, properties } : { qos });
  }

  /** Connected and nothing queued in mqtt.js: one Buffer straight to the socket. */
  private publishDirect(stream: PacketStream, topic: string, payload: Buffer, qos: 0 | 1 | 2, properties?: MqttWireProperties): Promise<void> {
    const field = topicField(topic);
    if (qos === 0) {
      const packet = encodePublish(field, payload, 0, 0, this.v5, properties);
      stream.writePacket(packet);
      return stream.afterTurn();
    }
    const c = this.internals;
    const messageId = c.messageIdProvider.allocate();
    if (messageId === null) return this.publishViaClient(topic, payload, this.v5 && properties ? { qos, properties } : { qos });
    let packet: Buffer;
    try { packet = encodePublish(field, payload, qos, messageId, this.v5, properties); } catch (err) { return Promise.reject(err); }
    return new Promise<void>((resolve, reject) => {
      // mqtt.js matches the PUBACK/PUBCOMP to this entry, frees the id and drops the stored copy;
      // after a reconnect it resends the stored copy itself.
      c.outgoing[messageId] = {
        volatile: false, cmd: 'publish',
        cb: (err) => (err ? reject(this.publishError(topic, err)) : resolve()),
      };
      c.outgoingStore.put({ cmd: 'publish', topic, payload, qos, retain: false, messageId, dup: false, properties: this.v5 ? properties : undefined }, noop);
      stream.writePacket(packet);
    });
  }

  private publishError(topic: string, err: Error): Error {
    if ((err as { code?: unknown }).code === NOT_AUTHORIZED) {
      return new TransportPermissionError(`the MQTT broker does not permit publishing to ${topic} for these credentials`, { cause: err, details: { operation: 'publish', subject: topic, reasonCode: NOT_AUTHORIZED } });
    }
    return this.ended ? new TransportClosedError(`mqtt connection ${this.clientId} closed before the publish completed`, { cause: err })
      : new TransportConnectError(`MQTT publish to ${topic} failed: ${err.message}`, { cause: err, details: { topic } });
  }

  private publishViaClient(topic: string, payload: Buffer, options: IClientPublishOptions): Promise<void> {
    const offline = !this.client.connected;
    if (offline) {
      if (this.offlinePublishes >= this.o.maxBufferedPublishes) {
        return Promise.reject(new BackpressureError(`MQTT broker unreachable and ${this.offlinePublishes} publishes already wait (maxBufferedPublishes)`,
          { details: { maxBufferedPublishes: this.o.maxBufferedPublishes, topic } }));
      }
      this.offlinePublishes++;
    }
    return new Promise<void>((resolve, reject) => {
      this.client.publish(topic, payload, options, (err) => {
        if (offline) this.offlinePublishes--;
        if (!err) return resolve();
        reject(this.publishError(topic, err));
      });
    });
  }

  subscribe(filter: string, qos: 0 | 1 | 2, subscriptionIdentifier?: number): Promise<void> {
    const opts = this.o.protocolVersion === 5 && subscriptionIdentifier !== undefined
      ? { qos, properties: { subscriptionIdentifier } } : { qos };
    return new Promise<void>((resolve, reject) => {
      this.client.subscribe(filter, opts, (err, granted) => {
        // mqtt.js types the granted code as a QoS or 128; MQTT 5 brokers send any reason code there.
        const code = granted?.[0]?.qos as number | undefined;
        if (code === NOT_AUTHORIZED) {
          return reject(new TransportPermissionError(`the MQTT broker does not permit subscribing to ${filter} for these credentials`, { details: { operation: 'subscribe', subject: filter, reasonCode: code } }));
        }
        if (err || code === undefined || code >= 128) {
          return reject(new TransportConnectError(`MQTT broker refused the subscription to ${filter}${code !== undefined ? ` (reason code ${code})` : ''}`,
            { cause: err ?? undefined, details: { filter, reasonCode: code } }));
        }
        resolve();
      });
    });
  }

  unsubscribe(filter: string): Promise<void> {
    if (this.ended || !this.client.connected) return Promise.resolve();
    return new Promise<void>((resolve) => { this.client.unsubscribe(filter, () => resolve()); });
  }

  /**
   * Disconnects. `graceful` waits (bounded) for in-flight publishes; `endSession` asks an MQTT 5
   * broker to drop the persistent session. Idempotent.
   */
  end(graceful = true, endSession = false): Promise<void> {
    this.ended ??= new Promise<void>((resolve) => {
      const c = this.client;
      if (!c.connected || !graceful) { c.end(true, {}, () => resolve()); return; }
      const timer = setTimeout(() => c.end(true, {}, noop), 5000);
      const opts = endSession && this.o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {};
      c.end(false, opts, () => { clearTimeout(timer); resolve(); });
    });
    return this.ended;
  }
}

/**
 * A TCP or TLS socket to the broker, wrapped in the PacketStream that splits out inbound PUBLISH
 * packets. MQTT 5 announces `maxMessageBytes` as the Maximum Packet Size in CONNECT, so a longer
 * packet breaks the protocol and is refused before it is buffered; 3.1.1 has no such promise, so
 * a longer PUBLISH is skipped as it streams past and handed to `skip` (the connection lives on).
 */
function openStream(o: ResolvedMqttOptions, tap: PublishTap, held: HeldKeepalive, skip: OversizeSkip | undefined): Duplex {
  const maxPacket = o.maxMessageBytes;
  const url = new URL(o.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol === 'mqtts:') {
    const socket = tlsConnect({
      host, port: Number(url.port || 8883), servername: o.tls.servername ?? (/^[\d.:]+$/.test(host) ? undefined : host),
      rejectUnauthorized: o.tls.rejectUnauthorized, ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key,
    });
    return new PacketStream(socket, tap, maxPacket, held, skip);
  }
  const socket = netConnect({ host, port: Number(url.port || 1883) });
  socket.setNoDelay(true);
  return new PacketStream(socket, tap, maxPacket, held, skip);
}

/** The URL without its password, for errors and logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch { return url; }
}
