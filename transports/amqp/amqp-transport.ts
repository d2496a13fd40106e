import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage, Message } from 'amqplib';
import {
  MessageTooLargeError, NoRespondersError, RequestTimeoutError, SubjectInvalidError, TransportClosedError, TransportConnectError,
  validatePattern, type Envelope, type InboundHandler, type Logger, type SignalbusError, type Transport, type TransportCapabilities,
  type TransportSubscribeOptions, type TransportSubscription,
} from '../../core/index.js';
import { fromAmqpMessage, toAmqpMessage, type AmqpProperties } from './binding.js';
import { connectTarget, resolveAmqpOptions, type AmqpConnectTarget, type AmqpQueueType, type AmqpTransportOptions, type ResolvedAmqpOptions } from './options.js';
import { accessRefusal, amqpPermissionError, type AccessRefusal } from './permission.js';
import { ChannelPublisher } from './publisher.js';
import { AmqpSubscription, type SubscriptionHost } from './subscription.js';
import { declareExchangeTopology, declareRetryTier, deleteTopology, topologyNames, type TopologyNames } from './topology.js';
import { amqpConnectError, openAmqpConnection } from './connect.js';

/** RabbitMQ's pseudo-queue for direct reply-to: replies skip queues entirely. */
const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

interface PendingRequest {
  subject: string;
  resolve(reply: Envelope): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

type State = 'idle' | 'open' | 'reconnecting' | 'closing' | 'closed' | 'failed';

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return silentLogger; } };

/**
 * AMQP 0-9-1 (RabbitMQ) transport. Subjects are routing keys on a durable topic exchange;
 * a consumer group is a durable queue `<group>.<pattern>`, a subscription without a group an
 * exclusive queue. Failed handlers are retried through delayed TTL queues (the origin queue is
 * never blocked), request/reply uses direct reply-to, and a lost connection is re-established
 * with backoff: topology re-declared, consumers resumed, unconfirmed publishes re-sent.
 * See README.md in this folder for the guarantees of each mode.
 *
 * @example
 * const transport = new AmqpTransport({ url: 'amqp://guest:guest@127.0.0.1:5672', durable: true });
 * const bus = new Bus({ service: 'billing', transport });
 * await bus.subscribe('orders.created', handle, { group: 'billing' });
 */
export class AmqpTransport implements Transport, SubscriptionHost {
  readonly name = 'amqp';
  readonly capabilities: TransportCapabilities;
  readonly options: ResolvedAmqpOptions;
  readonly names: TopologyNames;
  readonly logger: Logger;
  readonly durable: boolean;
  readonly groupQueueExpiresMs: number | undefined;
  readonly queueType: AmqpQueueType;
  readonly singleActiveConsumer: boolean;
  readonly deliveryLimit: number | undefined;
  /** Durable group queues this transport declared (for operators and tear-down). */
  readonly groupQueues = new Set<string>();
  readonly retryPublisher: ChannelPublisher;
  private readonly publisher: ChannelPublisher;
  private readonly target: AmqpConnectTarget;
  private state: State = 'idle';
  private model?: ChannelModel;
  private opening?: Promise<void>;
  private closing?: Promise<void>;
  private reconnectAttempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private openWaiters: Array<{ resolve(m: ChannelModel): void; reject(e: unknown): void }> = [];
  private topologyChannel?: Promise<Channel>;
  private readonly retryTiers = new Map<number, Promise<void>>();
  private readonly subs = new Set<AmqpSubscription>();
  private requestChannel?: Promise<Channel>;
  private readonly pendingRequests = new Map<string, PendingRequest>();
  private readonly requestPrefix = randomUUID().slice(0, 8);
  private requestCounter = 0;
  private lastError?: unknown;

  constructor(options: AmqpTransportOptions) {
    this.options = resolveAmqpOptions(options);
    this.target = connectTarget(this.options.url);
    this.names = topologyNames(this.options.exchange);
    this.logger = this.options.logger ?? silentLogger;
    this.durable = this.options.durable;
    this.groupQueueExpiresMs = this.options.groupQueueExpiresMs;
    this.queueType = this.options.queueType;
    this.singleActiveConsumer = this.options.singleActiveConsumer;
    this.deliveryLimit = this.options.deliveryLimit;
    this.publisher = new ChannelPublisher(this.durable, this.options.maxUnconfirmed);
    this.retryPublisher = new ChannelPublisher(true, 256);
    this.capabilities = {
      requestReply: true, queueGroups: true, durable: true, ordered: true, wildcards: true, redelivery: true,
      encodesData: true, maxMessageBytes: this.options.maxMessageBytes, holdAcks: true,
    };
  }

  // ------------------------------------------------------------------ connection

  connect(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return Promise.reject(new TransportClosedError('amqp transport is closed'));
    if (this.state === 'failed') return Promise.reject(this.connectError(this.lastError));
    if (this.state !== 'idle') return Promise.resolve();
    this.opening ??= this.open().catch((err) => {
      this.opening = undefined;
      throw this.connectError(err);
    });
    return this.opening;
  }

  /** One connection attempt: connect, declare, attach publishers, resume consumers. */
  private async open(): Promise<void> {
    const model = await openAmqpConnection(this.options, this.target);
    let lost = false;
    model.on('error', (err: Error) => this.logger.warn('amqp connection error', { err }));
    model.on('blocked', (reason: string) => this.logger.warn('amqp connection blocked by the broker (resource alarm)', { reason }));
    model.on('close', (err?: Error) => { lost = true; this.connectionLost(model, err); });
    try {
      const topo = await this.newTopologyChannel(model);
      await declareExchangeTopology(topo, this.names, this.options);
      for (const tier of this.retryTiers.keys()) await declareRetryTier(topo, this.names, tier);
      this.attachPublisher(model, this.publisher, this.durable ? await model.createConfirmChannel() : await model.createChannel());
      this.attachPublisher(model, this.retryPublisher, await model.createConfirmChannel());
      if (lost) throw new Error('connection closed during setup');
      if (this.state === 'closing' || this.state === 'closed') throw new TransportClosedError('amqp transport closed while connecting');
      this.model = model;
      this.state = 'open';
      for (const sub of this.subs) {
        sub.start(model).catch((err) => {
          this.logger.error('amqp consumer could not be resumed; retrying', { pattern: sub.pattern, err });
          sub.resumeLater(model);
        });
      }
    } catch (err) {
      this.model = undefined;
      await model.close().catch(() => {});
      throw err;
    }
    for (const w of this.openWaiters.splice(0)) w.resolve(model);
  }

  private async newTopologyChannel(model: ChannelModel): Promise<Channel> {
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.logger.warn('amqp topology channel error', { err }));
    const current = Promise.resolve(ch);
    ch.on('close', () => { if (this.topologyChannel === current) this.topologyChannel = undefined; });
    this.topologyChannel = current;
    return ch;
  }

  private attachPublisher(model: ChannelModel, publisher: ChannelPublisher, ch: Channel): void {
    ch.on('error', (err: Error) => {
      const refusal = accessRefusal(err);
      if (!refusal) return this.logger.warn('amqp publish channel error', { err });
      // A permission refusal is final: what it refused fails now instead of being re-sent forever.
      const refused = refusal.resource === 'topic'
        ? (exchange: string, key: string) => exchange === refusal.exchange && key === refusal.name
        : (exchange: string) => refusal.resource === 'exchange' && exchange === refusal.name;
      const subject = refusal.resource === 'topic' ? refusal.name : undefined;
      const rejected = publisher.refuse(refused, amqpPermissionError(refusal, 'publishing to', subject, err));
      this.logger.warn('amqp publish refused by the broker\'s permissions', { refused: refusal.text, rejected });
    });
    ch.on('close', () => {
      publisher.detach(ch);
      // Closed by the broker while the connection lives (e.g. a channel error): open another.
      if (this.model === model && this.state === 'open') {
        const next = publisher === this.publisher && !this.durable ? model.createChannel() : model.createConfirmChannel();
        next.then((c) => this.attachPublisher(model, publisher, c), () => { /* the connection is going; reconnect handles it */ });
      }
    });
    publisher.attach(ch);
  }

  private connectionLost(model: ChannelModel, err: Error | undefined): void {
    if (this.model !== model) return;
    this.model = undefined;
    this.topologyChannel = undefined;
    this.requestChannel = undefined;
    this.publisher.detachCurrent();
    this.retryPublisher.detachCurrent();
    for (const sub of this.subs) sub.connectionLost();
    this.failRequests(new TransportConnectError('the AMQP connection was lost before the reply arrived', { cause: err }));
    if (this.state !== 'open' && this.state !== 'reconnecting') return;
    this.logger.warn('amqp connection lost; reconnecting', { err });
    this.state = 'reconnecting';
    this.scheduleReconnect(err);
  }

  private scheduleReconnect(cause: unknown): void {
    const attempt = ++this.reconnectAttempt;
    const r = this.options.reconnect;
    if (attempt > r.maxAttempts) return this.giveUp(cause);
    const base = Math.min(r.maxDelayMs, r.initialDelayMs * r.multiplier ** (attempt - 1));
    const delay = Math.round(base * (1 - r.jitter) + base * r.jitter * Math.random());
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state !== 'reconnecting') return;
      this.open().then(() => {
        this.reconnectAttempt = 0;
        this.logger.info('amqp reconnected', { attempt });
      }, (err) => {
        this.lastError = err;
        this.logger.warn('amqp reconnect failed', { attempt, err });
        if (this.state === 'reconnecting') this.scheduleReconnect(err);
      });
    }, delay);
  }

  private giveUp(cause: unknown): void {
    this.state = 'failed';
    const err = this.connectError(cause);
    this.logger.error('amqp reconnect gave up', { err });
    this.publisher.fail(err);
    this.retryPublisher.fail(err);
    for (const w of this.openWaiters.splice(0)) w.reject(err);
  }

  /** The live connection, waiting through a reconnect. */
  private whenOpen(): Promise<ChannelModel> {
    if (this.model) return Promise.resolve(this.model);
    if (this.state === 'closing' || this.state === 'closed') return Promise.reject(new TransportClosedError('amqp transport is closed'));
    if (this.state === 'failed') return Promise.reject(this.connectError(this.lastError));
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  currentModel(): ChannelModel | undefined { return this.model; }

  private connectError(err: unknown): SignalbusError {
    return amqpConnectError(err, this.target);
  }

  // ------------------------------------------------------------------ publish

  publish(subject: string, envelope: Envelope): Promise<void> {
    if (this.state !== 'open' && this.state !== 'reconnecting') {
      if (this.state === 'idle') return this.connect().then(() => this.publish(subject, envelope));
      return Promise.reject(this.state === 'failed' ? this.connectError(this.lastError) : new TransportClosedError('amqp transport is closed'));
    }
    // A routing key is an AMQP short string: 255 bytes. Only a foreign subject can be longer (a
    // dead letter's); amqplib would throw a bare TypeError for it.
    if (subject.length > 85 && Buffer.byteLength(subject) > 255) {
      return Promise.reject(new SubjectInvalidError(`subject "${subject.slice(0, 64)}…" is ${Buffer.byteLength(subject)} bytes; an AMQP routing key holds at most 255`,
        { details: { subjectBytes: Buffer.byteLength(subject), limit: 255 } }));
    }
    const { content, properties } = toAmqpMessage(envelope, { persistent: this.durable });
    if (content.length > this.options.maxMessageBytes) {
      return Promise.reject(new MessageTooLargeError(`message for ${subject} is ${content.length} bytes; amqp takes at most ${this.options.maxMessageBytes}`,
        { details: { bytes: content.length, limit: this.options.maxMessageBytes } }));
    }
    return this.publisher.send(this.names.exchange, subject, content, properties);
  }

  /** Sends a reply to a request's direct reply-to address. */
  sendReply(request: AmqpProperties, reply: Envelope): Promise<void> {
    if (!request.replyTo) return Promise.resolve();
    const { content, properties } = toAmqpMessage(reply, { persistent: false, correlationId: request.correlationId });
    return this.publisher.send('', request.replyTo, content, properties);
  }

  /** Declares a retry tier's TTL queue once (again after each reconnect, see `open`). */
  ensureRetryTier(tierMs: number): Promise<void> {
    let p = this.retryTiers.get(tierMs);
    if (!p) {
      p = this.topology().then((ch) => declareRetryTier(ch, this.names, tierMs));
      p.catch(() => this.retryTiers.delete(tierMs));
      this.retryTiers.set(tierMs, p);
    }
    return p;
  }

  private async topology(): Promise<Channel> {
    if (this.topologyChannel) return this.topologyChannel;
    const model = await this.whenOpen();
    return this.topologyChannel ?? this.newTopologyChannel(model);
  }

  groupQueueDeclared(queue: string): void { this.groupQueues.add(queue); }

  forget(sub: AmqpSubscription): void { this.subs.delete(sub); }

  // ------------------------------------------------------------------ subscribe

  async subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    validatePattern(pattern);
    await this.connect();
    const sub = new AmqpSubscription(this, {
      pattern, group: options.group, maxInFlight: Math.min(options.maxInFlight, 65_535), holdAcks: options.holdAcks ?? 0, onInterrupted: options.onInterrupted,
    }, onMessage);
    this.subs.add(sub);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await sub.start(await this.whenOpen());
          break;
        } catch (err) {
          // The connection went while declaring (RabbitMQ 3.10 closes it with an internal error when
          // a consumer subscribes to a quorum queue another client is still creating): declare again
          // on the next connection. A refusal with a reply code (406, 404, 403) is final.
          if (hasReplyCode(err) || attempt >= SUBSCRIBE_ATTEMPTS || this.state === 'closing' || this.state === 'closed') throw err;
          this.logger.warn('amqp connection lost while subscribing; subscribing again once reconnected', { pattern, attempt, err });
          await new Promise((r) => setTimeout(r, 250 * attempt));
        }
      }
    } catch (err) {
      this.subs.delete(sub);
      await sub.unsubscribe().catch(() => {});
      const refusal = accessRefusal(err);
      if (refusal) throw amqpPermissionError(refusal, 'subscribing to', pattern, err);
      throw hasReplyCode(err)
        ? new TransportConnectError(`cannot subscribe to ${pattern}${options.group ? ` as group ${options.group}` : ''}: ${err.message}`, { cause: err, details: { pattern } })
        : err;
    }
    return sub;
  }

  // ------------------------------------------------------------------ request/reply

  async request(subject: string, envelope: Envelope, options: { timeoutMs: number }): Promise<Envelope> {
    await this.connect();
    const ch = await this.replyChannel();
    const key = `${this.requestPrefix}.${++this.requestCounter}`;
    const { content, properties } = toAmqpMessage(envelope, { persistent: false, correlationId: key, replyTo: DIRECT_REPLY_TO });
    // mandatory: with no queue bound the broker returns the message, which means no responders.
    properties.mandatory = true;
    return new Promise<Envelope>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingRequests.delete(key);
        reject(new RequestTimeoutError(`no reply on ${subject} within ${options.timeoutMs} ms`, { details: { subject, timeoutMs: options.timeoutMs } }));
      }, options.timeoutMs);
      this.pendingRequests.set(key, { subject, resolve, reject, timer });
      try {
        ch.publish(this.names.exchange, subject, content, properties);
      } catch (err) {
        this.settleRequest(key, new TransportConnectError(`request on ${subject} could not be sent`, { cause: err }));
      }
    });
  }

  /** The channel requests are published on; it consumes direct reply-to, as RabbitMQ requires. */
  private replyChannel(): Promise<Channel> {
    this.requestChannel ??= (async () => {
      const model = await this.whenOpen();
      const ch = await model.createChannel();
      let refusal: AccessRefusal | undefined;
      let refusalCause: Error | undefined;
      ch.on('error', (err: Error) => {
        refusal = accessRefusal(err);
        refusalCause = err;
        if (!refusal) this.logger.warn('amqp request channel error', { err });
      });
      ch.on('return', (msg: Message) => {
        const key = msg.properties.correlationId as string | undefined;
        const p = key === undefined ? undefined : this.pendingRequests.get(key);
        if (key !== undefined && p) this.settleRequest(key, new NoRespondersError(`no responders for ${p.subject}`, { details: { subject: p.subject } }));
      });
      const current = this.requestChannel;
      ch.on('close', () => {
        if (this.requestChannel === current) this.requestChannel = undefined;
        const lost = new TransportConnectError('the AMQP request channel closed before the reply arrived');
        // The request the broker's permissions refused fails with that; the others only lost their channel.
        this.failRequests((subject: string) => refusal && (refusal.resource !== 'topic' || refusal.name === subject)
          ? amqpPermissionError(refusal, 'requesting on', subject, refusalCause) : lost);
      });
      await ch.consume(DIRECT_REPLY_TO, (msg: ConsumeMessage | null) => { if (msg) this.onReply(msg); }, { noAck: true });
      return ch;
    })();
    const p = this.requestChannel;
    p.catch(() => { if (this.requestChannel === p) this.requestChannel = undefined; });
    return p;
  }

  private onReply(msg: ConsumeMessage): void {
    const key = msg.properties.correlationId as string | undefined;
    const pending = key === undefined ? undefined : this.pendingRequests.get(key);
    if (!pending || key === undefined) { this.logger.debug('amqp reply for an unknown or timed-out request dropped', { key }); return; }
    this.pendingRequests.delete(key);
    clearTimeout(pending.timer);
    const { envelope } = fromAmqpMessage({ routingKey: msg.fields.routingKey, redelivered: false, content: msg.content,
      properties: msg.properties as unknown as AmqpProperties });
    pending.resolve(envelope);
  }

  private settleRequest(key: string, err: unknown): void {
    const p = this.pendingRequests.get(key);
    if (!p) return;
    this.pendingRequests.delete(key);
    clearTimeout(p.timer);
    p.reject(err);
  }

  private failRequests(err: unknown | ((subject: string) => unknown)): void {
    for (const [key, pending] of [...this.pendingRequests]) this.settleRequest(key, typeof err === 'function' ? err(pending.subject) : err);
  }

  // ------------------------------------------------------------------ shutdown

  /** Drains consumers, waits for unconfirmed publishes (up to `closeTimeoutMs`) and disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const wasConnected = this.state === 'open' || this.state === 'reconnecting';
      this.state = 'closing';
      clearTimeout(this.reconnectTimer);
      if (wasConnected) {
        await Promise.all([...this.subs].map((s) => s.drain().catch(() => {})));
        const ok = (await this.publisher.flushed(this.options.closeTimeoutMs)) && (await this.retryPublisher.flushed(this.options.closeTimeoutMs));
        if (!ok) this.logger.error('amqp close: publishes still unconfirmed after the timeout', { pending: this.publisher.pending });
        await Promise.all([this.publisher.closeChannel(), this.retryPublisher.closeChannel()]);
      }
      const closed = new TransportClosedError('amqp transport is closed');
      this.publisher.fail(closed);
      this.retryPublisher.fail(closed);
      this.failRequests(closed);
      for (const w of this.openWaiters.splice(0)) w.reject(closed);
      const model = this.model;
      this.model = undefined;
      if (model) await model.close().catch(() => {});
      this.state = 'closed';
    })();
    return this.closing;
  }

  /**
   * Deletes this transport's exchange-scoped objects and the group queues it declared. For tests
   * and tearing down a private exchange; never for an exchange other services share.
   */
  async deleteTopology(extraQueues: Iterable<string> = []): Promise<void> {
    const model = await this.whenOpen();
    const ch = await model.createChannel();
    try {
      await deleteTopology(ch, this.names, [...this.groupQueues, ...extraQueues]);
    } finally {
      await ch.close().catch(() => {});
    }
  }
}

/** How often a subscribe is tried when the connection goes while it declares. */
const SUBSCRIBE_ATTEMPTS = 5;

/** A channel or connection closed by the broker with an AMQP reply code (a refusal, not a lost connection). */
function hasReplyCode(err: unknown): err is Error & { code: number } {
  return err instanceof Error && 'code' in err && typeof err.code === 'number';
}
