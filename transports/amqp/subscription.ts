import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { EnvelopeInvalidError, type Envelope, type InboundHandler, type InboundMessage, type Logger, type TransportSubscription } from '../../core/index.js';
import { fromAmqpMessage, retryCopyProperties, type AmqpProperties } from './binding.js';
import { declareSubscriptionQueue, retryTier, type TopologyNames } from './topology.js';
import type { AmqpQueueType } from './options.js';
import type { ChannelPublisher } from './publisher.js';

/** What a subscription needs from its transport. */
export interface SubscriptionHost {
  readonly names: TopologyNames;
  readonly durable: boolean;
  readonly groupQueueExpiresMs: number | undefined;
  readonly queueType: AmqpQueueType;
  readonly singleActiveConsumer: boolean;
  readonly deliveryLimit: number | undefined;
  readonly logger: Logger;
  readonly retryPublisher: ChannelPublisher;
  /** The live connection, if any. */
  currentModel(): ChannelModel | undefined;
  ensureRetryTier(tierMs: number): Promise<void>;
  sendReply(request: AmqpProperties, reply: Envelope): Promise<void>;
  groupQueueDeclared(queue: string): void;
  forget(sub: AmqpSubscription): void;
}

export interface SubscriptionSpec {
  pattern: string;
  group?: string;
  maxInFlight: number;
  /** Settled deliveries whose acks wait for `commit()`, besides `maxInFlight` (0 = acks go out at once). */
  holdAcks: number;
  onInterrupted?: () => void;
}

const RESUME_DELAY_MS = 250;

/** One instance for every payload that is not a CloudEvent; the Bus hands it to raw subscriptions and dead-letters it elsewhere. */
const NOT_A_CLOUDEVENT = new EnvelopeInvalidError('amqp message is not a CloudEvent (no cloudEvents:specversion header, and no message_id and type properties)');
const PENDING = 0;
const ACK = 1;
const REQUEUE = 2;

/**
 * One consumer on its own channel (so one failing channel never takes others with it), with
 * prefetch = maxInFlight (+ holdAcks) and manual acks. It is re-opened on every new connection.
 *
 * With `holdAcks`, an ack settles the delivery but is only sent by `commit()`; requeues still go
 * out at once. Held acks belong to the channel the deliveries came on: when that channel goes
 * (closed, connection lost, consumer cancelled) the broker takes them back, `onInterrupted` is
 * called, and the next `commit()` says so by returning false.
 */
export class AmqpSubscription implements TransportSubscription {
  readonly pattern: string;
  channel?: Channel;
  queue?: string;
  private consumerTag?: string;
  private startedOn?: ChannelModel;
  private starting?: Promise<void>;
  private state: 'active' | 'draining' | 'stopped' = 'active';
  private unsettled = 0;
  private idleWaiters: Array<() => void> = [];
  private draining?: Promise<void>;
  /** Deliveries on the current channel not yet acked to the broker, in delivery order. */
  private unacked: AmqpDelivery[] = [];
  private flushScheduled = false;
  /** Acks wait for `commit()`. */
  private readonly holding: boolean;
  /** Since the last commit, a held ack was lost with its channel (the broker redelivers that message). */
  private heldAckLost = false;
  /** Its queue is a quorum queue, so deliveries carry the broker's exact delivery count. */
  private readonly quorum: boolean;
  private readonly onDelivery = (msg: ConsumeMessage | null) => this.deliver(msg);
  // Holding, only requeues are flushed between commits.
  private readonly flush = () => this.flushAcks(!this.holding);

  constructor(private readonly host: SubscriptionHost, private readonly spec: SubscriptionSpec, private readonly onMessage: InboundHandler) {
    this.pattern = spec.pattern;
    this.quorum = spec.group !== undefined && host.queueType === 'quorum';
    this.holding = spec.holdAcks > 0;
  }

  get active(): boolean { return this.state === 'active'; }

  /** Opens the channel, declares and binds the queue and consumes (once per connection). */
  start(model: ChannelModel): Promise<void> {
    if (this.state !== 'active') return Promise.resolve();
    if (this.startedOn === model && this.starting) return this.starting;
    this.startedOn = model;
    this.starting = this.open(model).catch((err) => {
      if (this.startedOn === model) { this.startedOn = undefined; this.starting = undefined; }
      throw err;
    });
    return this.starting;
  }

  private async open(model: ChannelModel): Promise<void> {
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.host.logger.warn('amqp consumer channel error', { pattern: this.pattern, err }));
    ch.on('close', () => this.channelClosed(model, ch));
    // Held deliveries stay unacked: room for them on top of the ones being handled.
    await ch.prefetch(Math.min(this.spec.maxInFlight + this.spec.holdAcks, 65_535));
    const h = this.host;
    const queue = await declareSubscriptionQueue(ch, h.names, {
      group: this.spec.group, pattern: this.spec.pattern, groupQueueExpiresMs: h.groupQueueExpiresMs, queueType: h.queueType,
      singleActiveConsumer: h.singleActiveConsumer, deliveryLimit: h.deliveryLimit,
    });
    if (this.spec.group !== undefined) this.host.groupQueueDeclared(queue);
    if (this.state !== 'active') { await ch.close().catch(() => {}); return; }
    this.channel = ch;
    this.queue = queue;
    this.forgetUnacked();
    this.consumerTag = (await ch.consume(queue, this.onDelivery, { noAck: false })).consumerTag;
  }

  /** The channel closed under us: re-open on the same connection if it still lives. */
  private channelClosed(model: ChannelModel, ch: Channel): void {
    if (this.channel !== ch) return;
    this.consumerLost();
    if (this.state === 'active') this.resumeLater(model);
  }

  /**
   * The consumer is gone with its channel: what it delivered and was not acked goes back to the
   * queue. While active that is an interruption the subscriber hears of now, before any
   * delivery of the replacement consumer. Only a consumer that was there is reported, so a
   * channel close followed by its connection's close (or a broker cancel closing its own channel)
   * is one interruption.
   */
  private consumerLost(): void {
    const hadConsumer = this.channel !== undefined;
    this.channel = undefined;
    this.forgetUnacked();
    this.consumerTag = undefined;
    this.startedOn = undefined;
    this.starting = undefined;
    if (hadConsumer && this.state === 'active') this.interrupted();
  }

  private interrupted(): void {
    const notify = this.spec.onInterrupted;
    if (!notify) return;
    try {
      notify();
    } catch (err) {
      this.host.logger.error('amqp onInterrupted threw', { pattern: this.pattern, err });
    }
  }

  /** The unacked deliveries can no longer be acked (their channel is gone): a held settled one is a lost ack. */
  private forgetUnacked(): void {
    if (this.holding && !this.heldAckLost) this.heldAckLost = this.unacked.some((d) => d.outcome === ACK);
    this.unacked = [];
  }

  /** Tries again shortly; gives up quietly when the connection is gone (reconnect resumes us). */
  resumeLater(model: ChannelModel): void {
    setTimeout(() => {
      if (this.state !== 'active' || this.host.currentModel() !== model) return;
      this.start(model).catch((err) => {
        this.host.logger.warn('amqp consumer could not resume; retrying', { pattern: this.pattern, err });
        this.resumeLater(model);
      });
    }, RESUME_DELAY_MS).unref();
  }

  /** The connection is gone: deliveries in hand can no longer be acked (the broker redelivers them). */
  connectionLost(): void {
    this.consumerLost();
  }

  private deliver(msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer (its queue was deleted): re-declare and consume again.
      const ch = this.channel;
      const model = this.startedOn;
      this.consumerLost();
      ch?.close().catch(() => {});
      if (model && this.state === 'active') this.resumeLater(model);
      return;
    }
    const ch = this.channel;
    if (!ch) return; // stopping: unacked, so the broker keeps it
    const props = msg.properties as unknown as AmqpProperties;
    const decoded = fromAmqpMessage({ routingKey: msg.fields.routingKey, redelivered: msg.fields.redelivered, content: msg.content, properties: props, quorum: this.quorum });
    const delivery = props.replyTo
      ? new AmqpRequestDelivery(this, ch, msg, decoded.subject, decoded.envelope, decoded.attempt, decoded.raw)
      : new AmqpDelivery(this, ch, msg, decoded.subject, decoded.envelope, decoded.attempt, decoded.raw);
    this.unsettled++;
    this.unacked.push(delivery);
    try {
      const wait = this.onMessage(delivery);
      if (wait) wait.then(undefined, (err: unknown) => this.refused(delivery, err));
    } catch (err) {
      this.refused(delivery, err);
    }
  }

  /** The Bus would not take it (full and set to reject): back to the queue at once. */
  private refused(delivery: AmqpDelivery, err: unknown): void {
    this.host.logger.warn('amqp delivery refused by the bus; requeued', { pattern: this.pattern, err });
    if (delivery.claim()) this.settle(delivery, REQUEUE);
  }

  /** @internal acks on the channel it came from, if that channel still lives (else the broker redelivers it). */
  ack(delivery: AmqpDelivery): void { this.settle(delivery, ACK); }

  private settle(delivery: AmqpDelivery, outcome: number): void {
    delivery.outcome = outcome;
    if (delivery.channel !== this.channel) {
      if (this.holding && outcome === ACK) this.heldAckLost = true; // its channel is gone: the broker redelivers it
    } else if ((!this.holding || outcome === REQUEUE) && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    this.settled();
  }

  /**
   * Acks every held delivery settled so far; false when a held ack was lost with its channel since
   * the last commit (those messages come again). See `TransportSubscription.commit`.
   */
  commit(): boolean {
    if (!this.holding) return true;
    this.flushAcks(true);
    const ok = !this.heldAckLost;
    this.heldAckLost = false;
    return ok;
  }

  /**
   * Sends the outcomes settled since the last flush: the settled run at the head as one
   * `multiple` ack (one frame for many messages, less work for the broker), requeues and
   * settled messages behind a still-running one individually, so prefetch never stalls.
   * Without `acks` (holding between commits) only the requeues go out.
   */
  private flushAcks(acks: boolean): void {
    this.flushScheduled = false;
    const ch = this.channel;
    const q = this.unacked;
    if (!ch || q.length === 0) return;
    if (!acks) { this.flushRequeues(ch, q); return; }
    try {
      let i = 0;
      let last: AmqpDelivery | undefined;
      for (; i < q.length; i++) {
        const d = q[i]!;
        if (d.outcome === PENDING) break;
        if (d.outcome === REQUEUE) {
          if (last) { ch.ack(last.message, true); last = undefined; }
          ch.nack(d.message, false, true);
        } else {
          last = d;
        }
      }
      if (last) ch.ack(last.message, true);
      if (i === q.length) { this.unacked = []; return; }
      const running: AmqpDelivery[] = [];
      for (; i < q.length; i++) {
        const d = q[i]!;
        if (d.outcome === PENDING) running.push(d);
        else if (d.outcome === ACK) ch.ack(d.message);
        else ch.nack(d.message, false, true);
      }
      this.unacked = running;
    } catch {
      this.forgetUnacked(); // the channel is gone: the broker redelivers what was not acked
    }
  }

  /** Holding: requeues go back at once (nacked one by one, never `multiple`), acks stay held. */
  private flushRequeues(ch: Channel, q: AmqpDelivery[]): void {
    if (!q.some((d) => d.outcome === REQUEUE)) return;
    try {
      for (const d of q) if (d.outcome === REQUEUE) ch.nack(d.message, false, true);
      this.unacked = q.filter((d) => d.outcome !== REQUEUE);
    } catch {
      this.forgetUnacked();
    }
  }

  /**
   * @internal Parks a copy in the retry tier nearest `delayMs`, confirmed, then acks the original;
   * the copy comes back to this queue with its delivery count. If the copy cannot be parked the
   * original goes back to the queue at once, so nothing is lost either way.
   */
  async retry(delivery: AmqpDelivery, delayMs: number): Promise<void> {
    const ch = delivery.channel;
    try {
      if (ch !== this.channel || this.queue === undefined) { this.settled(); return; } // stale: the broker redelivers it
      const tier = retryTier(delayMs);
      await this.host.ensureRetryTier(tier);
      const props = retryCopyProperties(delivery.message.properties as unknown as AmqpProperties, delivery.subject, delivery.attempt + 1, tier, this.host.durable);
      await this.host.retryPublisher.send(this.host.names.retryExchange, this.queue, delivery.message.content, props);
      this.settle(delivery, ACK);
    } catch (err) {
      this.host.logger.warn('amqp retry copy failed; requeueing the original', { pattern: this.pattern, err });
      this.settle(delivery, REQUEUE);
    }
  }

  /** @internal */
  reply(request: AmqpProperties, reply: Envelope): Promise<void> { return this.host.sendReply(request, reply); }

  private settled(): void {
    if (--this.unsettled === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  drain(): Promise<void> {
    if (this.state === 'stopped') return this.draining ?? Promise.resolve();
    if (this.draining) return this.draining;
    this.state = 'draining';
    this.draining = (async () => {
      const ch = this.channel;
      if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => {});
      if (this.unsettled > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      await this.stop();
    })();
    return this.draining;
  }

  async unsubscribe(): Promise<void> {
    if (this.state === 'stopped') return;
    await this.stop();
  }

  /**
   * Holding, nothing held is acked here: a caller that wants it kept commits first, else it goes
   * back to the queue with the channel (and a later `commit()` returns false).
   */
  private async stop(): Promise<void> {
    this.state = 'stopped';
    this.host.forget(this);
    this.flushAcks(!this.holding);
    const ch = this.channel;
    this.channel = undefined;
    this.forgetUnacked();
    // Unacked deliveries go back to the queue when the channel closes.
    if (ch) await ch.close().catch(() => {});
  }
}

/** A delivered message; settles through its subscription. One object per message, no closures. */
class AmqpDelivery implements InboundMessage {
  notCloudEvent?: EnvelopeInvalidError;
  /** @internal PENDING until settled, then ACK or REQUEUE. */
  outcome = PENDING;
  private done = false;

  constructor(readonly sub: AmqpSubscription, readonly channel: Channel, readonly message: ConsumeMessage,
    readonly subject: string, readonly envelope: Envelope, readonly attempt: number, raw: boolean) {
    if (raw) this.notCloudEvent = NOT_A_CLOUDEVENT;
  }

  /** True the first time: every settlement happens once. */
  claim(): boolean {
    if (this.done) return false;
    this.done = true;
    return true;
  }

  ack(): void { if (this.claim()) this.sub.ack(this); }
  term(): void { if (this.claim()) this.sub.ack(this); }
  nak(delayMs: number): Promise<void> | void { if (this.claim()) return this.sub.retry(this, delayMs); }
}

/** A request (it has `reply_to`): `reply()` answers the requester. */
class AmqpRequestDelivery extends AmqpDelivery {
  reply(reply: Envelope): Promise<void> {
    return this.sub.reply(this.message.properties as unknown as AmqpProperties, reply);
  }
}
