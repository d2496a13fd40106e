import type { Channel, ConfirmChannel } from 'amqplib';
import { TransportConnectError } from '../../core/index.js';
import type { AmqpProperties } from './binding.js';

interface Outbound {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: AmqpProperties;
  resolve(): void;
  reject(err: unknown): void;
  /** Times the broker refused it (basic.nack). */
  nacks: number;
}

const RESOLVED = Promise.resolve();
const MAX_NACKS = 3;

/**
 * Publishes on one channel at a time and survives its loss.
 *
 * Confirm mode: every message is tracked by its publish sequence number until the broker acks
 * it (`basic.ack`, possibly `multiple`). At most `window` messages are outstanding (sent and
 * unconfirmed, or waiting for a channel); further `send()`s wait for room, which is the
 * backpressure. When the channel goes, every unconfirmed message is kept and re-sent, in order,
 * on the next channel: nothing is lost, and a message the broker did take before the loss may
 * arrive twice (dedupe removes it). No per-message callbacks: confirms are matched from the
 * channel's `ack`/`nack` events.
 *
 * Fast mode: a send resolves once the message is written to the socket buffer (or, when the
 * buffer is full, once it drained). While there is no channel, sends wait for one.
 *
 * @example const p = new ChannelPublisher(true, 1000); p.attach(await conn.createConfirmChannel()); await p.send('signalbus', 'a.b', body, {});
 */
export class ChannelPublisher {
  private channel?: Channel;
  private nextSeq = 1;
  private readonly unconfirmed = new Map<number, Outbound>();
  private backlog: Outbound[] = [];
  private outstanding = 0;
  private roomWaiters: Array<() => void> = [];
  private drained?: Promise<void>;
  private resolveDrained?: () => void;
  private emptyWaiters: Array<() => void> = [];
  private failure?: Error;
  private readonly onAck = (f: { deliveryTag: number; multiple: boolean }) => this.confirmed(f.deliveryTag, f.multiple, false);
  private readonly onNack = (f: { deliveryTag: number; multiple: boolean }) => this.confirmed(f.deliveryTag, f.multiple, true);
  private readonly onDrain = () => { const r = this.resolveDrained; this.drained = undefined; this.resolveDrained = undefined; r?.(); };

  constructor(private readonly confirm: boolean, private readonly window: number) {}

  /** Sent and not confirmed, or waiting for a channel. */
  get pending(): number { return this.outstanding; }

  /** Sends the message; resolves when the broker confirmed it (confirm mode) or it was written. */
  send(exchange: string, routingKey: string, content: Buffer, options: AmqpProperties): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.confirm && this.channel && this.outstanding === 0) return this.sendFast(exchange, routingKey, content, options);
    if (this.outstanding >= this.window) return this.waitForRoom().then(() => this.send(exchange, routingKey, content, options));
    this.outstanding++;
    return new Promise<void>((resolve, reject) => {
      const entry: Outbound = { exchange, routingKey, content, options, resolve, reject, nacks: 0 };
      if (this.channel) this.transmit(entry);
      else this.backlog.push(entry);
    });
  }

  private sendFast(exchange: string, routingKey: string, content: Buffer, options: AmqpProperties): Promise<void> {
    try {
      if (publishOn(this.channel!, false, exchange, routingKey, content, options)) return RESOLVED;
    } catch (err) {
      if (!isChannelClosed(err)) return Promise.reject(err);
      this.detach(this.channel!);
      return this.send(exchange, routingKey, content, options);
    }
    return (this.drained ??= new Promise<void>((r) => { this.resolveDrained = r; }));
  }

  private waitForRoom(): Promise<void> {
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** Takes a fresh channel (after connect or reconnect) and sends what waited, oldest first. */
  attach(channel: Channel | ConfirmChannel): void {
    this.channel = channel;
    this.nextSeq = 1;
    channel.on('drain', this.onDrain);
    if (this.confirm) { channel.on('ack', this.onAck); channel.on('nack', this.onNack); }
    const waiting = this.backlog;
    this.backlog = [];
    for (const entry of waiting) {
      if (this.channel !== channel) { this.backlog.push(entry); continue; }
      this.transmit(entry);
    }
    this.onDrain();
  }

  /** The channel is gone: unconfirmed messages go back to the front of the backlog, in order. */
  detach(channel: Channel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    channel.off('drain', this.onDrain);
    channel.off('ack', this.onAck);
    channel.off('nack', this.onNack);
    if (this.unconfirmed.size > 0) {
      this.backlog = [...this.unconfirmed.values(), ...this.backlog];
      this.unconfirmed.clear();
    }
  }

  /** The connection is gone: same as `detach` for whatever channel is attached. */
  detachCurrent(): void {
    if (this.channel) this.detach(this.channel);
  }

  /**
   * Closes the attached channel gracefully. Its close handshake travels behind the frames already
   * written, so in fast mode what was "sent" reaches the broker before the connection goes.
   */
  async closeChannel(): Promise<void> {
    const ch = this.channel;
    if (!ch) return;
    this.detach(ch);
    await ch.close().catch(() => {});
  }

  /**
   * The broker refused some messages for good (a permission: the channel closes with a 403): those
   * `refused` selects are rejected with `err` instead of being sent again on the next channel.
   * Called before the channel's close, so the rest are re-sent as after any channel loss.
   */
  refuse(refused: (exchange: string, routingKey: string) => boolean, err: Error): number {
    const hit = (e: Outbound): boolean => refused(e.exchange, e.routingKey);
    const rejected = [...this.unconfirmed.entries()].filter(([, e]) => hit(e));
    for (const [seq] of rejected) this.unconfirmed.delete(seq);
    const waiting = this.backlog.filter(hit);
    if (waiting.length > 0) this.backlog = this.backlog.filter((e) => !hit(e));
    for (const e of [...rejected.map(([, e]) => e), ...waiting]) this.settle(e, err);
    return rejected.length + waiting.length;
  }

  /** Rejects everything outstanding and every later send (the transport is closed or gave up). */
  fail(err: Error): void {
    this.failure = err;
    const all = [...this.unconfirmed.values(), ...this.backlog];
    this.unconfirmed.clear();
    this.backlog = [];
    this.outstanding = 0;
    for (const e of all) e.reject(err);
    for (const w of this.roomWaiters.splice(0)) w();
    for (const w of this.emptyWaiters.splice(0)) w();
    this.onDrain();
  }

  /** Resolves when nothing is outstanding, or after `timeoutMs` with false. */
  async flushed(timeoutMs: number): Promise<boolean> {
    if (this.outstanding === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((r) => this.emptyWaiters.push(() => r(true))),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(false), timeoutMs); }),
    ]);
    clearTimeout(timer);
    return done;
  }

  private transmit(entry: Outbound): void {
    const channel = this.channel!;
    const seq = this.nextSeq;
    try {
      publishOn(channel, this.confirm, entry.exchange, entry.routingKey, entry.content, entry.options);
    } catch (err) {
      if (isChannelClosed(err)) {
        // Not sent: keep it for the next channel.
        this.backlog.push(entry);
        this.detach(channel);
      } else {
        this.settle(entry, err);
      }
      return;
    }
    if (this.confirm) {
      this.nextSeq = seq + 1;
      this.unconfirmed.set(seq, entry);
    } else {
      this.settle(entry, undefined);
    }
  }

  private confirmed(tag: number, multiple: boolean, nacked: boolean): void {
    if (multiple) {
      for (const [seq, entry] of this.unconfirmed) {
        if (seq > tag) break;
        this.unconfirmed.delete(seq);
        this.outcome(entry, nacked);
      }
    } else {
      const entry = this.unconfirmed.get(tag);
      if (!entry) return;
      this.unconfirmed.delete(tag);
      this.outcome(entry, nacked);
    }
  }

  private outcome(entry: Outbound, nacked: boolean): void {
    if (!nacked) return this.settle(entry, undefined);
    // The broker could not take it (an internal error); try again a few times, then fail loudly.
    if (++entry.nacks > MAX_NACKS) {
      return this.settle(entry, new TransportConnectError(`the broker refused the message ${MAX_NACKS + 1} times (basic.nack)`,
        { details: { exchange: entry.exchange, routingKey: entry.routingKey } }));
    }
    if (this.channel) this.transmit(entry);
    else this.backlog.push(entry);
  }

  private settle(entry: Outbound, err: unknown): void {
    this.outstanding--;
    if (err === undefined) entry.resolve();
    else entry.reject(err);
    const w = this.roomWaiters.shift();
    if (w) w();
    if (this.outstanding === 0 && this.emptyWaiters.length > 0) for (const e of this.emptyWaiters.splice(0)) e();
  }
}

/** amqplib's Channel below `publish()`: what it does once the options are turned into wire fields. */
interface WireChannel {
  sendMessage?(fields: WireFields, properties: WireFields, content: Buffer): boolean;
  pushConfirmCallback?(cb: false): void;
}

/** publish() always sends a headers table, empty when there are none. */
const NO_HEADERS: Record<string, unknown> = Object.freeze({});

/** Basic.Publish's fields and the message properties, as amqplib's frame encoders read them. */
type WireFields = ReturnType<typeof wireFields>;

/** Basic.Publish fields and properties in one fixed shape (the encoders' property reads stay monomorphic), as `publish()` maps its options. */
export function wireFields(exchange: string, routingKey: string, p: AmqpProperties) {
  return {
    exchange, routingKey, mandatory: p.mandatory === true, immediate: false, ticket: undefined,
    contentType: p.contentType, contentEncoding: undefined, headers: p.headers ?? NO_HEADERS, deliveryMode: p.deliveryMode, priority: undefined,
    correlationId: p.correlationId, replyTo: p.replyTo, expiration: p.expiration === undefined ? undefined : String(p.expiration),
    messageId: p.messageId, timestamp: p.timestamp, type: p.type, userId: undefined, appId: p.appId, clusterId: undefined,
  };
}

/**
 * Publishes as `channel.publish()` does, minus its option mapping: that wraps the headers in an
 * object whose prototype holds them (for CC/BCC), and amqplib's table encoder then walks the
 * prototype chain key by key, the largest cost of a publish. Falls back to `publish()` if the
 * channel's internals are not there. Returns false when the socket buffer is full (as publish).
 */
function publishOn(channel: Channel, confirm: boolean, exchange: string, routingKey: string, content: Buffer, p: AmqpProperties): boolean {
  const wire = channel as unknown as WireChannel;
  if (typeof wire.sendMessage !== 'function' || (confirm && typeof wire.pushConfirmCallback !== 'function')) {
    return channel.publish(exchange, routingKey, content, p as never);
  }
  const fields = wireFields(exchange, routingKey, p);
  const written = wire.sendMessage(fields, fields, content);
  if (confirm) wire.pushConfirmCallback!(false);
  return written;
}

/** amqplib's error for an operation on a closed channel or connection. */
export function isChannelClosed(err: unknown): boolean {
  return err instanceof Error && (err.name === 'IllegalOperationError' || /closed/i.test(err.message));
}
