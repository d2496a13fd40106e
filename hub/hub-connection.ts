/**
 * One client connection of the hub: parses its frames, publishes, subscribes and answers on its
 * behalf, and delivers to it within its send-buffer bound.
 */
import type { RawData, WebSocket } from 'ws';
import {
  CapabilityMissingError, EnvelopeInvalidError, OptionsInvalidError, SubjectInvalidError, isSubject,
  checkInboundEnvelope, inboundProblem, validatePattern, validateSubject, type Bus, type CodecRegistry, type Envelope, type Logger, type InboundMessage, type SignalbusError, type Transport,
  type TransportSubscription,
} from '../core/index.js';
import { checkSubjectAllowed, groupFor, mayRead, type AuthResult } from '../auth/authenticator.js';
import {
  ackFrameText, deliveryFrameText, errorFrameText, toWebSocketEventText, parseClientFrame, replyFrameText,
  type ClientFrame, type FrameId, type RequestFrame, type SubscribeFrame, type UnsubscribeFrame,
} from '../transports/websocket/binding.js';
import { CLOSE_CODES, SubscriptionLimitError } from '../transports/websocket/errors.js';

/** Limits and collaborators the connections read; resolved once. */
export interface HubSettings {
  readonly bus: Bus;
  readonly codecs: CodecRegistry;
  readonly logger: Logger;
  readonly authenticated: boolean;
  readonly maxBufferedBytes: number;
  readonly maxQueuedPerSubscription: number;
  readonly maxSubscriptionsPerConnection: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestTimeoutMs: number;
  /**
   * The event a client publish is handing to the bus right now, with its frame text as received:
   * subscriptions the bus delivers to in that same call relay the text instead of serialising
   * the event again. Set and cleared around the synchronous part of `publishEnvelope`.
   */
  readonly relay: RelaySlot;
}

export interface RelaySlot { envelope?: Envelope; text?: string }

/** Encodes `data` for a bus transport that carries bytes (replies and requests bypass the Bus' own encoding). */
export function encodeFor(transport: Transport, envelope: Envelope, codecs: CodecRegistry): Envelope {
  if (!transport.capabilities.encodesData || envelope.data === undefined || envelope.data instanceof Uint8Array) return envelope;
  return { ...envelope, data: codecs.get(envelope.datacontenttype).encode(envelope.data, envelope.type) };
}

/** Logs a settlement that failed instead of leaving an unhandled rejection. */
function settle(result: void | Promise<void>, conn: HubConnection): void {
  if (result) result.catch((err: unknown) => conn.settings.logger.warn('settling a delivery failed', { err }));
}

/** Gives a message back to the bus transport: redelivered where it can be, else acked (at most once). */
function release(msg: InboundMessage, conn: HubConnection): void {
  settle(msg.nak ? msg.nak(0) : msg.ack(), conn);
}

/** A delivery the client has not acked (or replied to) yet, and the bytes it counts against `maxBufferedBytes`. */
class Delivery {
  constructor(readonly sub: HubSubscription, readonly msg: InboundMessage, readonly bytes: number) {}
}

/** Bytes a delivery frame adds to its event text: `{"op":"msg","sid":…,"subject":…,"id":…,"event":…}`. */
const FRAME_OVERHEAD_BYTES = 64;

/**
 * One client subscription: a subscription on the bus transport plus its `inflight` window.
 * What a full window holds back waits in its own queue, bounded in messages
 * (`maxQueuedPerSubscription`) and, with the connection's other queues and unsent bytes, in bytes
 * (`maxBufferedBytes`); over either bound the client is dropped with 4008. It never makes the
 * bus transport wait: on the in-memory bus that would hold back every publisher, and with them
 * every other subscriber, behind the slowest client.
 */
class HubSubscription {
  readonly sidJson: string;
  transportSub?: TransportSubscription;
  active = true;
  inflight = 0;
  private readonly queue: InboundMessage[] = [];
  /** The frame text of each queued message, encoded when it was queued (`queue[i]` ⇔ `texts[i]` ⇔ `sizes[i]`). */
  private readonly texts: string[] = [];
  /** The bytes each queued message counts against the connection's `maxBufferedBytes`. */
  private readonly sizes: number[] = [];
  /** Handed to the bus transport once per subscription. */
  readonly onMessage = (msg: InboundMessage): void => this.deliver(msg);

  constructor(readonly conn: HubConnection, readonly sid: string, readonly transport: Transport, readonly window: number, readonly bare: boolean) {
    this.sidJson = JSON.stringify(sid);
  }

  private deliver(msg: InboundMessage): void {
    const conn = this.conn;
    if (!this.active || conn.closed) return release(msg, conn);
    // Clients get CloudEvents; a device payload on the same subjects is for raw subscribers (ingest), not for them.
    if (msg.notCloudEvent !== undefined) return settle(msg.ack(), conn);
    // An envelope the inbound rules refuse (core/inbound-envelope.ts) is for the Bus' dead letters, not for clients.
    if (inboundProblem(msg.envelope) !== undefined) return settle(msg.ack(), conn);
    // A tenant's subscription carries its own events only: without subject prefixes tenants share subjects.
    if (!mayRead(conn.reader, msg.envelope)) return settle(msg.ack(), conn);
    if (this.bare) {
      conn.send(conn.textOf(msg.envelope));
      return settle(msg.ack(), conn);
    }
    if (this.window === 0 && msg.reply === undefined) {
      conn.send(deliveryFrameText(this.sidJson, msg.subject, 0, false, conn.textOf(msg.envelope)));
      return settle(msg.ack(), conn);
    }
    const text = conn.textOf(msg.envelope);
    const tracked = this.window === 0 || this.inflight < this.window;
    if (!tracked && this.queue.length >= conn.settings.maxQueuedPerSubscription) {
      conn.drop(CLOSE_CODES.slowConsumer, 'slow consumer: a subscription held back more deliveries than maxQueuedPerSubscription');
      return release(msg, conn);
    }
    // Held back or sent, the message stays with the hub until the client acks or answers it: its
    // bytes count against the connection's bound until then (an `inflight` window as large as the
    // client likes, or requests it never answers, would otherwise grow without bound).
    const bytes = conn.byteLengthOf(text) + msg.subject.length + this.sidJson.length + FRAME_OVERHEAD_BYTES;
    if (!conn.hold(bytes)) return release(msg, conn);
    if (tracked) return this.sendTracked(msg, text, bytes);
    this.queue.push(msg);
    this.texts.push(text);
    this.sizes.push(bytes);
  }

  /** Sends `msg` with an id to ack or answer; its `bytes` are held already and stay held until then. */
  private sendTracked(msg: InboundMessage, text: string, bytes: number): void {
    const conn = this.conn;
    const id = conn.nextDeliveryId++;
    conn.deliveries.set(id, new Delivery(this, msg, bytes));
    if (this.window > 0) this.inflight++;
    conn.send(deliveryFrameText(this.sidJson, msg.subject, id, msg.reply !== undefined, text), bytes);
  }

  /** A tracked delivery was acked or replied to: send what the full window held back. */
  settled(d: Delivery): void {
    this.conn.unhold(d.bytes);
    if (this.window === 0) return;
    this.inflight--;
    while (this.active && this.inflight < this.window && this.queue.length > 0) {
      this.sendTracked(this.queue.shift()!, this.texts.shift()!, this.sizes.shift()!);
    }
  }

  /** Ends it: held-back messages go back to the bus transport and stop counting against the connection. */
  stop(): Promise<void> {
    this.active = false;
    let bytes = 0;
    for (const size of this.sizes) bytes += size;
    this.conn.unhold(bytes);
    this.texts.length = 0;
    this.sizes.length = 0;
    for (const msg of this.queue.splice(0)) release(msg, this.conn);
    return this.transportSub ? this.transportSub.unsubscribe() : Promise.resolve();
  }
}

export class HubConnection {
  readonly subs = new Map<string, HubSubscription>();
  readonly deliveries = new Map<number, Delivery>();
  nextDeliveryId = 1;
  alive = true;
  closed = false;
  private acks: FrameId[] = [];
  private ackScheduled = false;
  private corked = false;
  /** Frames sent in one turn of the event loop leave in one write (one syscall, not one per frame). */
  private readonly uncork = () => {
    this.corked = false;
    (this.ws as unknown as { _socket?: { uncork(): void } })._socket?.uncork();
  };
  private lastEnvelope?: Envelope;
  private lastText = '';
  /** `lastText`'s UTF-8 length once asked for (-1: not yet), shared by the subscriptions it fans out to. */
  private lastBytes = -1;
  /**
   * Bytes of the delivery frames this connection's subscriptions hold back behind full `inflight`
   * windows, or sent and not acked or answered yet.
   */
  private queuedBytes = 0;
  /** The most this connection held (held back plus unsent) against `maxBufferedBytes`. */
  peakBufferedBytes = 0;
  private readonly flushAcks = () => {
    this.ackScheduled = false;
    const ids = this.acks;
    this.acks = [];
    if (ids.length > 0) this.send(ackFrameText(ids));
  };

  /** Whose events this connection may read; undefined (all) without auth, where clients are trusted. */
  readonly reader: AuthResult | undefined;

  constructor(readonly settings: HubSettings, readonly ws: WebSocket, readonly who: AuthResult | undefined) {
    this.reader = settings.authenticated ? who : undefined;
  }

  /** The frame text of an event; one message fanned out to many subscriptions is serialised once. */
  textOf(envelope: Envelope): string {
    if (envelope !== this.lastEnvelope) {
      this.lastText = this.relayTextOf(envelope) ?? toWebSocketEventText(envelope);
      this.lastEnvelope = envelope;
      this.lastBytes = -1;
    }
    return this.lastText;
  }

  /** The UTF-8 length of a frame text; the last event's is measured once for all its subscriptions. */
  byteLengthOf(text: string): number {
    if (text !== this.lastText) return Buffer.byteLength(text);
    if (this.lastBytes < 0) this.lastBytes = Buffer.byteLength(text);
    return this.lastBytes;
  }

  /** What the connection holds against `maxBufferedBytes`: frames held back plus the socket's unsent bytes. */
  get bufferedBytes(): number {
    return this.queuedBytes + this.ws.bufferedAmount;
  }

  /**
   * Counts `bytes` of a held-back delivery against the connection's bound; false (and the client
   * dropped with 4008) when they would take it over.
   */
  hold(bytes: number): boolean {
    const total = this.bufferedBytes + bytes;
    if (total > this.settings.maxBufferedBytes) {
      this.drop(CLOSE_CODES.slowConsumer, 'slow consumer: held-back and unsent bytes over maxBufferedBytes');
      return false;
    }
    this.queuedBytes += bytes;
    if (total > this.peakBufferedBytes) this.peakBufferedBytes = total;
    return true;
  }

  /** Held-back bytes that were sent or given back. */
  unhold(bytes: number): void {
    this.queuedBytes -= bytes;
  }

  /** The text a client sent `envelope` as, while the bus is handing that publish out. */
  relayTextOf(envelope: Envelope): string | undefined {
    const relay = this.settings.relay;
    return relay.envelope === envelope ? relay.text : undefined;
  }

  /**
   * Sends a frame unless it would take the connection over `maxBufferedBytes`, in which case it is
   * dropped. `held`: bytes of this frame already counted by `hold` (a tracked delivery), not counted twice.
   */
  send(text: string, held = 0): void {
    if (this.closed) return;
    // `text.length` for its bytes: exact for ASCII and cheap; the socket's count corrects it on the next send.
    const total = this.bufferedBytes + text.length - held;
    if (total > this.settings.maxBufferedBytes) {
      this.drop(CLOSE_CODES.slowConsumer, 'slow consumer: unsent bytes over maxBufferedBytes');
      return;
    }
    if (total > this.peakBufferedBytes) this.peakBufferedBytes = total;
    if (!this.corked) {
      const socket = (this.ws as unknown as { _socket?: { cork(): void } })._socket;
      if (socket) {
        socket.cork();
        this.corked = true;
        setImmediate(this.uncork);
      }
    }
    this.ws.send(text);
  }

  onFrame(data: RawData, isBinary: boolean): void {
    this.alive = true;
    if (isBinary) {
      this.send(errorFrameText(new EnvelopeInvalidError(`binary frames are not part of ${'cloudevents.json'}; send events as text`)));
      return;
    }
    let frame: ClientFrame;
    try {
      frame = parseClientFrame((data as Buffer).toString('utf8'));
    } catch (err) {
      this.send(errorFrameText(err, (err as SignalbusError).details?.ref as FrameId | undefined));
      return;
    }
    switch (frame.op) {
      case 'event': void this.publish(undefined, undefined, frame.event, undefined); break;
      case 'pub': void this.publish(frame.id, frame.subject, frame.event, frame.eventText); break;
      case 'sub': void this.subscribe(frame); break;
      case 'unsub': void this.unsubscribe(frame); break;
      case 'req': void this.request(frame); break;
      case 'ack': this.onAcks(frame.ids); break;
      case 'reply': void this.onReply(frame.ref, frame.event); break;
    }
  }

  /** Publishes from this client the bus has not settled yet; shutdown waits for them to be acked. */
  private publishing = 0;
  private onPublished?: () => void;

  private queueAck(id: FrameId): void {
    this.acks.push(id);
    if (!this.ackScheduled) {
      this.ackScheduled = true;
      setImmediate(this.flushAcks);
    }
  }

  /** Tenant scoping and stamping: with auth, `tenant` comes from the credentials only. */
  private authorize(subjectOrPattern: string, envelope?: Envelope): void {
    const who = this.who;
    if (!this.settings.authenticated || who === undefined) return;
    checkSubjectAllowed(who, subjectOrPattern);
    if (envelope === undefined) return;
    if (who.tenant === undefined) delete envelope.tenant;
    else envelope.tenant = who.tenant;
  }

  private async publish(id: FrameId | undefined, subject: string | undefined, envelope: Envelope, text: string | undefined): Promise<void> {
    this.publishing++;
    try {
      const target = subject ?? envelope.subject;
      if (typeof target !== 'string') {
        throw new SubjectInvalidError('no subject: set the "subject" of the pub frame or of the event', { details: { subject: target } });
      }
      const clientTenant = envelope.tenant;
      const clientTrace = envelope.traceparent;
      // The rules every binding applies to what comes in; a malformed traceparent starts a new trace.
      checkInboundEnvelope(envelope);
      this.authorize(target, envelope);
      const unchanged = envelope.tenant === clientTenant && envelope.traceparent === clientTrace;
      await this.publishRelayed(target, envelope, text !== undefined && unchanged ? text : undefined);
      if (id !== undefined) this.queueAck(id);
    } catch (err) {
      this.send(errorFrameText(err, id, typeof envelope.id === 'string' ? envelope.id : undefined));
    } finally {
      if (--this.publishing === 0 && this.onPublished) this.onPublished();
    }
  }

  /** `bus.publishEnvelope`, with the event's received text on offer to the subscriptions it reaches at once. */
  private publishRelayed(subject: string, envelope: Envelope, text: string | undefined): Promise<void> {
    if (text === undefined) return this.settings.bus.publishEnvelope(subject, envelope);
    const relay = this.settings.relay;
    relay.envelope = envelope;
    relay.text = text;
    try {
      return this.settings.bus.publishEnvelope(subject, envelope);
    } finally {
      relay.envelope = undefined;
      relay.text = undefined;
    }
  }

  private async subscribe(f: SubscribeFrame): Promise<void> {
    let sub: HubSubscription | undefined;
    try {
      if (this.subs.has(f.sid)) throw new OptionsInvalidError(`subscription id "${f.sid}" is already in use on this connection`, { details: { field: 'sid' } });
      if (this.subs.size >= this.settings.maxSubscriptionsPerConnection) {
        throw new SubscriptionLimitError(`a connection may hold ${this.settings.maxSubscriptionsPerConnection} subscriptions (maxSubscriptionsPerConnection)`,
          { details: { limit: this.settings.maxSubscriptionsPerConnection } });
      }
      validatePattern(f.pattern);
      if (f.group !== undefined && !isSubject(f.group)) throw new OptionsInvalidError(`group "${f.group}" must be subject tokens`, { details: { field: 'group' } });
      this.authorize(f.pattern);
      const transport = this.settings.bus.transportFor(f.pattern);
      if (f.group !== undefined && !transport.capabilities.queueGroups) {
        throw new CapabilityMissingError(`the hub's transport ${transport.name} has no consumer groups`, { details: { transport: transport.name } });
      }
      sub = new HubSubscription(this, f.sid, transport, f.inflight ?? 0, f.bare === true);
      this.subs.set(f.sid, sub);
      const window = sub.window > 0 ? sub.window : 1000;
      sub.transportSub = await transport.subscribe(f.pattern, sub.onMessage, { group: groupFor(this.reader, f.group), maxInFlight: window + this.settings.maxQueuedPerSubscription });
      if (!sub.active) { await sub.transportSub.unsubscribe(); return; }
      if (f.id !== undefined) this.queueAck(f.id);
    } catch (err) {
      if (sub && this.subs.get(f.sid) === sub) { this.subs.delete(f.sid); void sub.stop(); }
      this.send(errorFrameText(err, f.id));
    }
  }

  private async unsubscribe(f: UnsubscribeFrame): Promise<void> {
    const sub = this.subs.get(f.sid);
    this.subs.delete(f.sid);
    try {
      await sub?.stop();
      if (f.id !== undefined) this.queueAck(f.id);
    } catch (err) {
      this.send(errorFrameText(err, f.id));
    }
  }

  private async request(f: RequestFrame): Promise<void> {
    try {
      const subject = f.subject ?? f.event.subject;
      if (typeof subject !== 'string') throw new SubjectInvalidError('no subject: set the "subject" of the req frame or of the event', { details: { subject } });
      validateSubject(subject);
      checkInboundEnvelope(f.event);
      this.authorize(subject, f.event);
      const transport = this.settings.bus.transportFor(subject);
      if (!transport.request) throw new CapabilityMissingError(`the hub's transport ${transport.name} has no request/reply`, { details: { transport: transport.name } });
      const timeoutMs = Math.min(f.timeout ?? this.settings.requestTimeoutMs, this.settings.maxRequestTimeoutMs);
      const reply = await transport.request(subject, encodeFor(transport, f.event, this.settings.codecs), { timeoutMs });
      this.send(replyFrameText(f.id, reply));
    } catch (err) {
      this.send(errorFrameText(err, f.id));
    }
  }

  private onAcks(ids: FrameId[]): void {
    for (const id of ids) {
      if (typeof id !== 'number') continue;
      const d = this.deliveries.get(id);
      if (!d) continue;
      this.deliveries.delete(id);
      settle(d.msg.ack(), this);
      d.sub.settled(d);
    }
  }

  private async onReply(ref: FrameId, envelope: Envelope): Promise<void> {
    const d = typeof ref === 'number' ? this.deliveries.get(ref) : undefined;
    // Unknown or late (the requester gave up, the client replied twice): nothing to answer.
    if (!d || !d.msg.reply) return;
    this.deliveries.delete(ref as number);
    try {
      if (this.settings.authenticated && this.who) {
        if (this.who.tenant === undefined) delete envelope.tenant; else envelope.tenant = this.who.tenant;
      }
      checkInboundEnvelope(envelope);
      await d.msg.reply(encodeFor(d.sub.transport, envelope, this.settings.codecs));
    } catch (err) {
      this.send(errorFrameText(err, ref));
    }
    settle(d.msg.ack(), this);
    d.sub.settled(d);
  }

  heartbeat(): void {
    if (this.closed) return;
    if (!this.alive) {
      this.settings.logger.info('terminating a connection that missed a heartbeat', { principal: this.who?.principal });
      this.ws.terminate();
      this.cleanup();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  /** Closes with `code` (e.g. 4008 slow consumer) and frees everything at once. */
  drop(code: number, reason: string): void {
    if (this.closed) return;
    this.settings.logger.warn('dropping a connection', { code, reason, principal: this.who?.principal, bufferedBytes: this.bufferedBytes });
    this.cleanup();
    this.ws.close(code, reason);
  }

  /** The hub is closing: 1001 to the client, then wait (briefly) for the close handshake. */
  async shutdown(): Promise<void> {
    // Publishes the bus is taking, and acks batched for this turn, would otherwise die with the
    // connection: the client would keep them unacked and send them again to whoever comes back.
    if (this.publishing > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => { this.onPublished = resolve; timer = setTimeout(resolve, 1000); });
      clearTimeout(timer);
      this.onPublished = undefined;
    }
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.flushAcks();
    this.cleanup();
    if (this.ws.readyState === this.ws.CLOSED) return;
    const done = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close(CLOSE_CODES.goingAway, 'hub shutting down');
    const timer = setTimeout(() => this.ws.terminate(), 1000);
    await done;
    clearTimeout(timer);
  }

  /** Unsubscribes everything and gives unacked deliveries back. Idempotent. */
  cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs.values()) {
      sub.stop().catch((err: unknown) => this.settings.logger.warn('unsubscribing failed', { err }));
    }
    this.subs.clear();
    for (const d of this.deliveries.values()) release(d.msg, this);
    this.deliveries.clear();
    this.acks = [];
  }
}
