/**
 * A signalbus transport over Redis Streams, written only against the public Transport interface
 * of `core/`: the proof that a new transport needs no change to the core. README.md explains the
 * mapping and its trade-offs.
 */
import { randomUUID } from 'node:crypto';
import { createClient, RESP_TYPES } from 'redis';
import {
  errorMessage, MessageTooLargeError, RequestTimeoutError, TransportAuthError, TransportClosedError,
  TransportConnectError, validatePattern, type Envelope, type InboundHandler, type InboundMessage, type Transport,
  type TransportCapabilities, type TransportSubscribeOptions, type TransportSubscription,
} from '../../core/index.js';
import { toRedisEntry, type EntryMeta } from './binding.js';
import { resolveRedisStreamsOptions, type RedisStreamsOptions, type ResolvedRedisStreamsOptions } from './options.js';
import { StreamSubscription, type Connection, type SubscriptionHost } from './stream-subscription.js';

/**
 * A client speaking RESP2: replies are the nested arrays the Redis docs show, whatever the command.
 * The first connect fails at once (with its cause); once connected, it reconnects with backoff.
 */
function makeClient(url: string, hasConnected: () => boolean) {
  return createClient({
    url, RESP: 2,
    socket: { reconnectStrategy: (retries, cause) => (hasConnected() ? Math.min(50 * 2 ** retries, 2000) : cause) },
  });
}
type RedisClient = ReturnType<typeof makeClient>;

/** Reply streams get few entries and live as long as their transport: keep them short. */
const REPLY_STREAM_MAXLEN = '1000';

interface PendingRequest {
  resolve(reply: Envelope): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Redis Streams transport: one stream per subject (`<keyPrefix><subject>`), consumer groups for
 * grouped subscriptions, XACK on ack, pending-list redelivery on nak, wildcards by SCAN, and
 * request/reply through a reply stream per transport.
 *
 * @example
 * const bus = new Bus({ service: 'filter', transport: new RedisStreamsTransport({ url: 'redis://127.0.0.1:6379' }) });
 * await bus.subscribe('sensor.reading.>', async (m) => { … }, { group: 'filter' });
 */
export class RedisStreamsTransport implements Transport, SubscriptionHost {
  readonly name = 'redis-streams';
  readonly capabilities: TransportCapabilities;
  readonly keyPrefix: string;
  readonly claimIdleMs: number;
  readonly patternRefreshMs: number;
  private readonly options: ResolvedRedisStreamsOptions;
  private client?: RedisClient;
  /** The same connection, bulk replies as Buffers: entry fields (data above all) are bytes. */
  private binary?: { sendCommand<T>(args: ReadonlyArray<string | Buffer>): Promise<T> };
  private connecting?: Promise<void>;
  private everConnected = false;
  private closing?: Promise<void>;
  private readonly subscriptions = new Set<StreamSubscription>();
  private readonly trim: string[];
  private inbox?: Promise<{ key: string; sub: StreamSubscription }>;
  private readonly pending = new Map<string, PendingRequest>();

  constructor(options: RedisStreamsOptions = {}) {
    this.options = resolveRedisStreamsOptions(options);
    this.keyPrefix = this.options.keyPrefix;
    this.claimIdleMs = this.options.claimIdleMs;
    this.patternRefreshMs = this.options.patternRefreshMs;
    this.capabilities = {
      requestReply: true, queueGroups: true, durable: true, ordered: true, wildcards: true,
      redelivery: true, encodesData: true, maxMessageBytes: this.options.maxMessageBytes,
    };
    // `~` lets Redis trim whole macro-nodes: nearly free, at the cost of keeping a few more entries.
    this.trim = this.options.maxLen > 0 ? ['MAXLEN', '~', String(this.options.maxLen)] : [];
  }

  connect(): Promise<void> {
    if (this.closing) return Promise.reject(new TransportClosedError('redis-streams transport is closed'));
    this.connecting ??= this.open().catch((err) => { this.connecting = undefined; throw err; });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = makeClient(this.options.url, () => this.everConnected);
    // Connection errors surface on the commands that fail; the event must have a listener or Node throws.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause ?? err;
      const text = errorMessage(cause);
      if (/WRONGPASS|NOAUTH|NOPERM|AUTH/.test(text)) throw new TransportAuthError(`redis refused the credentials: ${text}`, { cause });
      throw new TransportConnectError(`cannot connect to redis at ${this.options.url}: ${text}`, { cause, details: { url: this.options.url } });
    }
    this.everConnected = true;
    this.client = client;
    this.binary = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }) as unknown as typeof this.binary;
  }

  /** @internal SubscriptionHost: a command on the shared connection, bulk replies as Buffers. */
  command<T>(args: ReadonlyArray<string | Buffer>): Promise<T> {
    if (!this.binary) return Promise.reject(new TransportClosedError('redis-streams transport is not connected'));
    return this.binary.sendCommand<T>(args);
  }

  /** @internal SubscriptionHost: blocking reads (XREAD BLOCK) hold their connection, so each reader gets its own. */
  async dedicatedConnection(): Promise<Connection> {
    const dup = this.client!.duplicate();
    dup.on('error', () => {});
    await dup.connect();
    const binary = dup.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    return {
      command: <T>(args: ReadonlyArray<string | Buffer>) => binary.sendCommand(args) as Promise<T>,
      close: async () => { if (dup.isOpen) await dup.close(); },
    };
  }

  publish(subject: string, envelope: Envelope): Promise<void> {
    return this.append(subject, envelope, undefined);
  }

  /** XADD of one envelope (and, on requests and replies, the transport's own fields). */
  private append(subject: string, envelope: Envelope, meta: EntryMeta | undefined): Promise<void> {
    if (this.closing) return Promise.reject(new TransportClosedError('redis-streams transport is closed'));
    let fields;
    try {
      fields = toRedisEntry(envelope, meta);
    } catch (err) {
      return Promise.reject(err);
    }
    let bytes = 0;
    for (const f of fields) bytes += f.length;
    if (bytes > this.options.maxMessageBytes) {
      return Promise.reject(new MessageTooLargeError(`entry for ${subject} is about ${bytes} bytes; redis-streams takes at most ${this.options.maxMessageBytes}`,
        { details: { bytes, limit: this.options.maxMessageBytes } }));
    }
    // XADD returns once Redis has the entry in memory: the confirmation the Transport contract asks for.
    return this.command(['XADD', this.keyPrefix + subject, ...this.trim, '*', ...fields]).then(() => {});
  }

  async subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    if (this.closing) throw new TransportClosedError('redis-streams transport is closed');
    validatePattern(pattern);
    await this.connect();
    const sub = new StreamSubscription(this, {
      pattern, group: options.group, maxInFlight: options.maxInFlight, startId: await this.serverNowId(),
    }, onMessage);
    await this.track(sub);
    return sub;
  }

  private async track(sub: StreamSubscription): Promise<void> {
    this.subscriptions.add(sub);
    try { await sub.start(); } catch (err) { this.subscriptions.delete(sub); await sub.unsubscribe(); throw err; }
  }

  /**
   * A stream id for "now" on the server's clock. Readers start after it instead of at `$`, so an
   * entry published right after subscribe() resolved (before the first XREAD reached Redis) is
   * not missed, and streams a wildcard subscription finds later are read from the same point.
   * Reads return ids after the one given, and an entry added later in the same millisecond may
   * get `<ms>-0`: so the id is the last one of the millisecond before.
   */
  private async serverNowId(): Promise<string> {
    const [seconds, micros] = await this.command<[Buffer, Buffer]>(['TIME']);
    return `${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - 1}-18446744073709551615`;
  }

  /**
   * Requests travel like any message, with `_replyto` (this transport's reply stream) and
   * `_expires`. Redis cannot tell whether anyone listens, so there is no NoRespondersError: an
   * unanswered request times out. The first reply wins; later ones are ignored.
   */
  async request(subject: string, envelope: Envelope, options: { timeoutMs: number }): Promise<Envelope> {
    const inbox = await this.replyInbox();
    return new Promise<Envelope>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelope.id);
        reject(new RequestTimeoutError(`no reply on ${subject} within ${options.timeoutMs} ms`, { details: { subject, timeoutMs: options.timeoutMs } }));
      }, options.timeoutMs);
      this.pending.set(envelope.id, { resolve, reject, timer });
      this.append(subject, envelope, { replyTo: inbox.key, expires: Date.now() + options.timeoutMs }).catch((err: Error) => {
        clearTimeout(timer);
        this.pending.delete(envelope.id);
        reject(err);
      });
    });
  }

  /** This transport's reply stream and its reader, made on the first request. */
  private replyInbox(): Promise<{ key: string; sub: StreamSubscription }> {
    this.inbox ??= (async () => {
      await this.connect();
      // `#` cannot occur in a subject, so a reply stream never shadows one nor matches a wildcard.
      const key = `${this.keyPrefix}#reply.${randomUUID()}`;
      // Make the (empty) stream now: responders write with NOMKSTREAM, so a late reply after close()
      // deleted it does not bring it back as garbage.
      await this.command(['XADD', key, 'MAXLEN', '0', '*', 'open', '1']);
      const sub = new StreamSubscription(this, { pattern: 'reply', key, maxInFlight: 1000, startId: await this.serverNowId() },
        (msg: InboundMessage) => {
          const id = (msg as { inReplyTo?: string }).inReplyTo;
          const p = id === undefined ? undefined : this.pending.get(id);
          if (p) { this.pending.delete(id!); clearTimeout(p.timer); p.resolve(msg.envelope); }
          return msg.ack();
        });
      await this.track(sub);
      return { key, sub };
    })();
    this.inbox.catch(() => { this.inbox = undefined; });
    return this.inbox;
  }

  /** @internal SubscriptionHost: a responder's reply, into the requester's reply stream (if it still exists). */
  async sendReply(replyTo: string, requestId: string, reply: Envelope): Promise<void> {
    // Only our own kind of reply stream: an entry must not make us write to an arbitrary key.
    if (!replyTo.startsWith(`${this.keyPrefix}#reply.`)) return;
    await this.command(['XADD', replyTo, 'NOMKSTREAM', 'MAXLEN', '~', REPLY_STREAM_MAXLEN, '*', ...toRedisEntry(reply, { inReplyTo: requestId })]);
  }

  /** @internal SubscriptionHost: a subscription stopped. */
  forget(sub: StreamSubscription): void {
    this.subscriptions.delete(sub);
  }

  /** Drains every subscription (in-flight handlers finish and settle), deletes the reply stream, disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.connecting?.catch(() => {});
      await Promise.all([...this.subscriptions].map((s) => s.drain()));
      this.subscriptions.clear();
      for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new TransportClosedError('redis-streams transport closed while waiting for a reply')); }
      this.pending.clear();
      const inbox = await this.inbox?.catch(() => undefined);
      if (inbox) await this.command(['DEL', inbox.key]).catch(() => {});
      if (this.client?.isOpen) await this.client.close();
      this.binary = undefined;
    })();
    return this.closing;
  }
}
