import {
  connect, Events, jwtAuthenticator, nkeyAuthenticator,
  type ConnectionOptions, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type Msg, type MsgHdrs,
  type NatsConnection, type StreamConfig, type Subscription,
} from 'nats';
import {
  BackpressureError, BoundedIntake, CapabilityMissingError, EnvelopeInvalidError, NoRespondersError, OptionsInvalidError, RequestTimeoutError,
  SignalbusError, SubjectInvalidError, TransportClosedError,
  compilePattern, reconnectDelayMs, type Envelope, type InboundHandler, type SubjectMatcher, type Transport, type TransportCapabilities,
  type TransportSubscribeOptions, type TransportSubscription,
} from '../../core/index.js';
import { HeaderShapes, toNatsWireText, type NatsWireText } from './binding.js';
import { readDirectly } from './direct-reads.js';
import { FrameWriter } from './frames.js';
import { parseCreds } from './credentials.js';
import { fromConnectError, fromNatsError, NatsJetStreamError, permissionError } from './errors.js';
import { consumerConfig, durableName, ensureConsumer, ensureStream, ephemeralName } from './jetstream.js';
import { readOptionFile } from './option-file.js';
import { resolveNatsOptions, type NatsTransportOptions, type ResolvedNatsOptions } from './options.js';
import { ReplaySubscription } from './replay.js';
import { ReplyInbox } from './reply-inbox.js';
import { CoreInbound, decodeDelivery, InFlight, JetStreamInbound, replyOf } from './subscription.js';
import { natsTlsOptions } from './tls.js';

const encoder = new TextEncoder();

const decoder = new TextDecoder();
const noop = () => {};

/** nats.js only calls `encode()` on the headers it publishes; handing it pre-built bytes skips its per-message Map and regex. */
class EncodedHeaders {
  constructor(private readonly bytes: Uint8Array) {}
  encode(): Uint8Array { return this.bytes; }
}

const NO_OPTIONS = {};

/** nats.js publish options for a header block's text ('' for none: structured mode) and a reply subject. */
function publishOptions(headerBlock: string, reply?: string): { headers?: MsgHdrs; reply?: string } {
  if (headerBlock === '') return reply === undefined ? NO_OPTIONS : { reply };
  const encoded = new EncodedHeaders(Buffer.from(headerBlock, 'latin1')) as unknown as MsgHdrs;
  return reply === undefined ? { headers: encoded } : { headers: encoded, reply };
}

/** A message's size as the server counts it against max_payload (and the transport against its hold bounds): header block and body. */
const wireBytes = (wire: NatsWireText): number => wire.headerBlock.length + wire.body.byteLength;

/**
 * signalbus over NATS (nats.js v2). Core mode (default): at most once, wildcards, queue groups,
 * native request/reply. JetStream mode (`jetstream` option): messages land in a stream (created or
 * verified at connect), each subscription reads through a pull consumer with explicit ack —
 * at least once, redelivery with `nak(delay)`, groups are shared durable consumers,
 * `Nats-Msg-Id` = envelope id so the server drops republished duplicates.
 *
 * @example
 * const core = new NatsTransport({ servers: 'nats://127.0.0.1:4222' });
 * const durable = new NatsTransport({ jetstream: { stream: 'SENSORS', subjects: ['sensor.>', 'dlq.sensor.>'] } });
 * const bus = new Bus({ service: 'filter@edge-1', transport: durable });
 */
export class NatsTransport implements Transport {
  readonly name = 'nats';
  readonly capabilities: TransportCapabilities;
  readonly options: ResolvedNatsOptions;
  private nc?: NatsConnection;
  /** Writes whole frames into `nc`'s outbound buffer, when its nats.js allows (frames.ts). */
  private frames?: FrameWriter;
  /** What the reply reader learnt of the replies' header blocks (HeaderShapes: one per subscription, and one for the reply inbox). */
  private readonly replyShapes = new HeaderShapes();
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  /** The stream's replica count, which replay consumers take so they survive the loss of a node. */
  private streamReplicas = 1;
  /** The stream's subjects, as it was found or made at connect. */
  private streamSubjects: SubjectMatcher[] = [];
  private inbox?: ReplyInbox;
  private connecting?: Promise<void>;
  private closing?: Promise<void>;
  private disconnected = false;
  private reconnectedAt = 0;
  private reconnectAttempt = 0;
  private held: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private heldBytes = 0;
  private readonly subscriptions = new Set<{ stop(drain: boolean): Promise<void> }>();
  /** `contentMode: 'structured'`: events go as JSON in the body. */
  private readonly structured: boolean;

  constructor(options: NatsTransportOptions = {}) {
    this.options = resolveNatsOptions(options);
    this.structured = this.options.contentMode === 'structured';
    const durable = this.options.jetstream !== undefined;
    this.capabilities = {
      requestReply: true, queueGroups: true, durable, ordered: true, wildcards: true, redelivery: durable, encodesData: true,
      maxMessageBytes: 1024 * 1024, // replaced by the server's max_payload on connect
      replay: durable,
    };
  }

  /** True in JetStream mode. */
  get jetstream(): boolean { return this.options.jetstream !== undefined; }

  /** The nats.js connection (after connect), for what signalbus does not wrap. */
  get connection(): NatsConnection | undefined { return this.nc; }

  connect(): Promise<void> {
    if (this.closing) return Promise.reject(new TransportClosedError('nats transport is closed'));
    this.connecting ??= this.open().catch((err) => { this.connecting = undefined; throw err; });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const o = this.options;
    const opts = await natsConnectionOptions(o);
    opts.reconnectDelayHandler = () => reconnectDelayMs(o.reconnect, ++this.reconnectAttempt);
    let nc: NatsConnection;
    try {
      nc = await connect(opts);
    } catch (err) {
      throw fromConnectError(err, `connecting to ${o.servers.join(', ')}`);
    }
    this.nc = nc;
    this.frames = FrameWriter.for(nc);
    this.readDirectly(nc);
    this.capabilities.maxMessageBytes = nc.info?.max_payload ?? this.capabilities.maxMessageBytes;
    void this.watchStatus(nc);
    this.inbox = new ReplyInbox(nc, o.inboxPrefix);
    if (o.jetstream) {
      try {
        this.js = nc.jetstream();
        const stream = await this.settleStream(nc, o.jetstream);
        this.streamReplicas = stream.num_replicas ?? 1;
        this.streamSubjects = (stream.subjects ?? []).map((p) => compilePattern(p));
      } catch (err) {
        this.inbox.close();
        await nc.close();
        this.nc = undefined;
        this.frames = undefined;
        throw err instanceof SignalbusError ? err : fromNatsError(err, 'JetStream setup');
      }
    }
  }

  /**
   * The stream, found or made. Several processes starting at once on a fresh cluster all ask for
   * it while JetStream elects its leaders and answers late or not at all: a timeout or no
   * responders is tried again for up to 15 s (so a server without JetStream takes that long to be
   * reported); anything else (a stream with other settings) fails at once.
   */
  private async settleStream(nc: NatsConnection, o: NonNullable<ResolvedNatsOptions['jetstream']>): Promise<StreamConfig> {
    const deadline = Date.now() + 15_000;
    for (let attempt = 1; ; attempt++) {
      try {
        this.jsm ??= await nc.jetstreamManager();
        return await ensureStream(this.jsm, o);
      } catch (raw) {
        const err = fromNatsError(raw, 'JetStream setup');
        if (!(err instanceof RequestTimeoutError || err instanceof NoRespondersError) || Date.now() > deadline) throw err;
        await sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
  }

  /**
   * The server refused a publish to `subject` (permissions). A core publish resolved long ago, so
   * the refusal is logged; requests and JetStream publishes waiting on that subject fail at once
   * with TransportPermissionError instead of timing out.
   */
  private publishRefused(subject: string): void {
    const err = permissionError({ operation: 'publish', subject }, `publishing to ${subject}`);
    this.inbox?.refuse(subject, err);
    this.options.logger?.error('nats: the server refused a publish (permissions); the message was dropped', { subject, err });
  }

  /** Tracks disconnects for the publish buffer bound and resets the reconnect backoff. */
  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        this.disconnected = true;
      } else if (s.type === Events.Reconnect) {
        this.disconnected = false;
        this.reconnectAttempt = 0;
        this.reconnectedAt = Date.now();
        this.readDirectly(nc); // a reconnect brings a new socket
        this.releaseHeld();
      } else if (s.type === Events.Error && s.permissionContext?.operation === 'publish') {
        this.publishRefused(s.permissionContext.subject);
      }
    }
    this.releaseHeld(new TransportClosedError('nats connection closed before publishes held during a disconnect could be sent'));
  }

  /** Parses the server's bytes in the socket's 'data' handler (direct-reads.ts). */
  private readDirectly(nc: NatsConnection): void {
    readDirectly(nc, (err) => this.options.logger?.error(
      'nats: a chunk from the server could not be read (a callback of a nats.js subscription on transport.connection threw, or the server broke the protocol); '
      + 'the connection is dropped and made again, and core messages in flight on it are lost: catch errors in your own nats.js callbacks', { err }));
  }

  private ready(): NatsConnection {
    const nc = this.nc;
    if (this.closing || !nc || nc.isClosed()) throw new TransportClosedError('nats transport is not connected (call connect() first) or is closed');
    return nc;
  }

  /**
   * nats.js discards its outbound buffer on every reconnect attempt, so while the link is down
   * the transport holds publishes itself (up to maxBufferedPublishes / maxBufferedBytes, then
   * BackpressureError) and sends them, in order, once it is back. Returns undefined when the
   * link is up and nothing is held (send now), else a promise that resolves when it is.
   */
  private holdWhileDisconnected(subject: string, size: number): Promise<void> | undefined {
    if (this.held.length === 0 && this.linkUp()) return undefined;
    if (this.held.length >= this.options.maxBufferedPublishes || this.heldBytes + size > this.options.maxBufferedBytes) {
      throw new BackpressureError(`nats is disconnected and ${this.held.length} messages (${this.heldBytes} bytes) are held; publish to ${subject} refused`,
        { details: { maxBufferedPublishes: this.options.maxBufferedPublishes, maxBufferedBytes: this.options.maxBufferedBytes } });
    }
    this.heldBytes += size;
    return new Promise<void>((resolve, reject) => { this.held.push({ resolve, reject }); });
  }

  /** True while nats.js has a live connection (its protocol flag, read synchronously; status events lag). */
  private linkUp(): boolean {
    const protocol = (this.nc as unknown as { protocol?: { connected?: boolean } } | undefined)?.protocol;
    return protocol?.connected ?? !this.disconnected;
  }

  private releaseHeld(err?: Error): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const h of held) if (err) h.reject(err); else h.resolve();
  }

  publish(subject: string, envelope: Envelope): Promise<void> {
    try {
      const nc = this.ready();
      const wire = toNatsWireText(envelope, this.structured, this.options.jetstream !== undefined);
      if (this.options.jetstream) return this.publishDurable(nc, subject, wire);
      const held = this.holdWhileDisconnected(subject, wireBytes(wire));
      if (held) return held.then(() => this.send(this.ready(), subject, wire)).catch((err) => { throw fromNatsError(err, `publishing to ${subject}`); });
      this.send(nc, subject, wire);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(fromNatsError(err, `publishing to ${subject}`));
    }
  }

  /**
   * Publishes into the stream and waits for its acknowledgement. A timeout (server away, reconnect)
   * is retried with the same Nats-Msg-Id until `publishTimeoutMs`: the server's duplicate window
   * drops a copy it already stored, so retrying never duplicates.
   */
  private async publishDurable(nc: NatsConnection, subject: string, wire: NatsWireText): Promise<void> {
    const js = this.options.jetstream!;
    const inbox = this.inbox!;
    const deadline = Date.now() + js.publishTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const held = this.holdWhileDisconnected(subject, wireBytes(wire));
      if (held) await held;
      const token = inbox.nextToken();
      const acked = inbox.expect(token, subject, Math.min(js.ackTimeoutMs, Math.max(1, deadline - Date.now())));
      try {
        this.send(this.ready(), subject, wire, inbox.subjectFor(token));
      } catch (err) {
        inbox.cancel(token);
        throw fromNatsError(err, `publishing to ${subject}`);
      }
      let msg: Msg;
      try {
        msg = await acked;
      } catch (err) {
        if (err instanceof RequestTimeoutError && Date.now() < deadline && !this.closing) continue;
        throw err instanceof RequestTimeoutError
          ? new RequestTimeoutError(`JetStream did not acknowledge the publish to ${subject} within ${js.publishTimeoutMs} ms`, { cause: err, details: { subject, attempts: attempt } })
          : err;
      }
      if (msg.headers?.code === 503) {
        // No responders: right after a reconnect JetStream may not be up yet, and a stream that
        // captures the subject answers nobody while it elects a new leader (a node died). Both
        // pass; otherwise no stream captures the subject.
        const electing = this.streamSubjects.some((matches) => matches(subject));
        if ((electing || Date.now() - this.reconnectedAt < 15_000) && Date.now() < deadline) { await sleep(Math.min(1000, 50 * 2 ** attempt)); continue; }
        throw new NoRespondersError(`no JetStream stream captures ${subject} (stream ${js.stream} has the subjects given in jetstream.subjects)`, { details: { subject, stream: js.stream } });
      }
      const ack = JSON.parse(decoder.decode(msg.data)) as { error?: { code: number; err_code?: number; description: string } };
      if (ack.error) {
        if (ack.error.code === 503 && Date.now() < deadline) { await sleep(Math.min(1000, 50 * 2 ** attempt)); continue; }
        throw new NatsJetStreamError(`JetStream refused the publish to ${subject}: ${ack.error.description}`, { details: { subject, jsCode: ack.error.err_code, status: ack.error.code } });
      }
      return;
    }
  }

  async subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    await this.connect();
    const nc = this.ready();
    if (!(Number.isInteger(options.maxInFlight) && options.maxInFlight > 0)) {
      throw new OptionsInvalidError('maxInFlight must be a positive integer', { details: { field: 'maxInFlight' } });
    }
    if (options.startAfter !== undefined) {
      if (!this.options.jetstream) throw new CapabilityMissingError(`replay (startAfter) needs JetStream mode: core NATS keeps no log (subscribing to ${pattern})`, { details: { field: 'startAfter' } });
      if (!(Number.isSafeInteger(options.startAfter) && options.startAfter >= 0)) {
        throw new OptionsInvalidError(`startAfter must be a stream position (an integer >= 0), got ${options.startAfter}`, { details: { field: 'startAfter' } });
      }
      if (options.group !== undefined) {
        throw new OptionsInvalidError(`startAfter cannot be combined with group "${options.group}": a replayed subscription belongs to the one owner of its position`, { details: { field: 'group' } });
      }
      return this.subscribeReplay(pattern, onMessage, options.maxInFlight, options.startAfter);
    }
    if (this.options.jetstream) return this.subscribeDurable(pattern, onMessage, options);
    const refused: { err?: unknown; live?: boolean } = {};
    const sub = this.subscribeCore(nc, pattern, onMessage, options, refused);
    // Live only once the server has the SUB: the PONG to a flush's PING comes after it, and so
    // does a refusal of it (permissions), which nats.js hands to the subscription's callback.
    try { await nc.flush(); } catch (err) {
      await sub.unsubscribe();
      throw fromNatsError(err, `subscribing to ${pattern}`);
    }
    if (refused.err !== undefined) {
      await sub.unsubscribe();
      throw fromNatsError(refused.err, `subscribing to ${pattern}`);
    }
    refused.live = true;
    return sub;
  }

  private subscribeCore(nc: NatsConnection, pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions, refused: { err?: unknown; live?: boolean }): TransportSubscription {
    let sub: Subscription;
    // Core NATS cannot hold the server back: what arrives while the Bus is full is dropped (newest),
    // before it is decoded, and reported to the Bus, as nats-server itself treats a slow consumer.
    const intake = new BoundedIntake(onMessage, options);
    // A pattern without wildcards receives only that subject: no need for nats.js' TextDecoder per message (MsgImpl.subject).
    const fixedSubject = /[*>]/.test(pattern) ? undefined : pattern;
    const shapes = new HeaderShapes();
    try {
      sub = nc.subscribe(pattern, {
        ...(options.group !== undefined ? { queue: options.group } : {}),
        callback: (err, msg) => {
          if (err) {
            // nats.js closes the subscription after an error: subscribe() throws it, or, once live
            // (permissions reloaded since), it is logged.
            if (refused.live) this.options.logger?.error('nats: the server ended a subscription', { pattern, err: fromNatsError(err, `subscribing to ${pattern}`) });
            else refused.err = err;
            return;
          }
          const subject = fixedSubject ?? msg.subject;
          if (intake.full) { intake.drop(subject); return; }
          intake.offer(new CoreInbound(subject, decodeDelivery(msg, undefined, subject, shapes), this, replyOf(msg)));
        },
      });
    } catch (err) {
      throw fromNatsError(err, `subscribing to ${pattern}`);
    }
    const entry = {
      stop: async (drain: boolean) => {
        this.subscriptions.delete(entry);
        if (sub.isClosed()) return;
        try { if (drain) await sub.drain(); else sub.unsubscribe(); } catch { /* connection already closed */ }
      },
    };
    this.subscriptions.add(entry);
    return { pattern, drain: () => entry.stop(true), unsubscribe: () => entry.stop(false) };
  }

  private async subscribeDurable(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    const js = this.options.jetstream!;
    const grouped = options.group !== undefined;
    const name = grouped ? durableName(options.group!, pattern) : ephemeralName();
    await ensureConsumer(this.jsm!, js.stream, consumerConfig(js, pattern, name, grouped, options.maxInFlight));
    const consumer = await this.js!.consumers.get(js.stream, name);
    const tracker = new InFlight();
    const shapes = new HeaderShapes();
    let messages: ConsumerMessages;
    try {
      messages = await consumer.consume({
        max_messages: options.maxInFlight,
        callback: (m) => {
          tracker.started();
          void onMessage(new JetStreamInbound(m.subject, decodeDelivery(m, m.info, m.subject, shapes), m, tracker, this));
        },
      });
    } catch (err) {
      throw fromNatsError(err, `consuming ${pattern} from stream ${js.stream}`);
    }
    let stopped = false;
    const entry = {
      stop: async (drain: boolean) => {
        if (stopped) return;
        stopped = true;
        this.subscriptions.delete(entry);
        await messages.close().catch(noop);
        // Unsettled messages go back to the stream after ackWait; drain waits for them instead.
        if (drain) await Promise.race([tracker.idle(), sleep(js.ackWaitMs)]);
        if (!grouped) await this.jsm!.consumers.delete(js.stream, name).catch(noop);
      },
    };
    this.subscriptions.add(entry);
    return { pattern, drain: () => entry.stop(true), unsubscribe: () => entry.stop(false) };
  }

  /**
   * Replay: an ephemeral consumer from `startAfter`, recreated after the last position handed
   * over when a node failure takes it away (see ReplaySubscription).
   */
  private async subscribeReplay(pattern: string, onMessage: InboundHandler, maxInFlight: number, startAfter: number): Promise<TransportSubscription> {
    const replay = new ReplaySubscription({
      jsm: this.jsm!, js: this.js!, options: this.options.jetstream!, pattern, maxInFlight, startAfter,
      replicas: this.streamReplicas, onMessage, transport: this,
    });
    await replay.start();
    const entry = {
      stop: async (drain: boolean) => { this.subscriptions.delete(entry); await replay.stop(drain); },
    };
    this.subscriptions.add(entry);
    return { pattern, drain: () => entry.stop(true), unsubscribe: () => entry.stop(false) };
  }

  /**
   * Core mode: a plain NATS request to the own reply inbox (no-responders and timeout become
   * NoRespondersError / RequestTimeoutError). JetStream mode: the request is stored in the stream
   * with its reply subject in `sb-reply-to` (a stream keeps no reply subject), the handler's reply
   * comes back as a core publish; no stream for the subject is NoRespondersError.
   */
  async request(subject: string, envelope: Envelope, options: { timeoutMs: number }): Promise<Envelope> {
    // Connected (the common case): the request leaves in this turn instead of after connect()'s.
    if (this.inbox === undefined) await this.connect();
    const nc = this.ready();
    const inbox = this.inbox!;
    const started = Date.now();
    const token = inbox.nextToken();
    const replySubject = inbox.subjectFor(token);
    let replied: Promise<Msg>;
    if (this.options.jetstream) {
      const wire = toNatsWireText(envelope, this.structured, true, replySubject);
      replied = inbox.expect(token, subject, options.timeoutMs);
      try {
        await this.publishDurable(nc, subject, wire);
      } catch (err) {
        inbox.cancel(token);
        throw err;
      }
    } else {
      const wire = toNatsWireText(envelope, this.structured, false);
      replied = inbox.expect(token, subject, options.timeoutMs);
      const held = this.holdWhileDisconnected(subject, wireBytes(wire));
      if (held) await held.catch((err) => { inbox.cancel(token); throw err; });
      try {
        this.send(held ? this.ready() : nc, subject, wire, replySubject);
      } catch (err) {
        inbox.cancel(token);
        throw fromNatsError(err, `requesting ${subject}`);
      }
    }
    const msg = await replied;
    // The server's no-responders status carries no body; only then is nats.js' header map worth building.
    if (msg.data.length === 0 && msg.headers?.code === 503) throw new NoRespondersError(`no responders for ${subject}`, { details: { subject } });
    const decoded = decodeDelivery(msg, undefined, subject, this.replyShapes);
    if (decoded.notCloudEvent) {
      throw new EnvelopeInvalidError(`the reply to ${subject} is not a CloudEvent (after ${Date.now() - started} ms)`, { cause: decoded.notCloudEvent, details: { subject } });
    }
    return decoded.envelope;
  }

  /** @internal Sends a handler's reply to a requester's reply subject (always core NATS), in the request's content mode. */
  sendReply(replyTo: string, reply: Envelope, structured: boolean): Promise<void> {
    try {
      const nc = this.ready();
      const wire = toNatsWireText(reply, structured, false);
      const held = this.holdWhileDisconnected(replyTo, wireBytes(wire));
      if (held) return held.then(() => this.send(this.ready(), replyTo, wire));
      this.send(nc, replyTo, wire);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(fromNatsError(err, `replying to ${replyTo}`));
    }
  }

  /**
   * Sends one message on `nc`: as one frame written into nats.js' outbound buffer when the
   * FrameWriter can (the plain case), else through nats.js' `publish`, which throws its own
   * error for what the writer left to it (closed, draining, over max_payload).
   */
  private send(nc: NatsConnection, subject: string, wire: NatsWireText, reply?: string): void {
    // Only a subject that came in from a foreign publisher (a dead letter's, a reply's) can be
    // this long: the Bus' own are at most MAX_SUBJECT_LENGTH.
    if (subject.length + (reply?.length ?? 0) > CHEAP_LINE_CHARS) checkControlLine(subject, reply);
    const frames = this.frames;
    if (frames !== undefined && frames.connection === nc && frames.write(subject, reply, wire.headerBlock, wire.body)) return;
    nc.publish(subject, wire.body, publishOptions(wire.headerBlock, reply));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.connecting?.catch(noop);
      const nc = this.nc;
      await Promise.all([...this.subscriptions].map((s) => s.stop(true).catch(noop)));
      this.inbox?.close();
      this.releaseHeld(new TransportClosedError('nats transport closed before publishes held during a disconnect could be sent'));
      if (nc && !nc.isClosed()) {
        try { await nc.drain(); } catch { await nc.close().catch(noop); }
      }
    })();
    return this.closing;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The nats.js connection options of resolved transport options: servers, credentials (user and
 * password, token, nkey, creds) and TLS as options that apply to every server of the list, never
 * embedded in server URLs. Also what scale-out coordination connects with, so it authenticates as
 * the transport does.
 */
export async function natsConnectionOptions(o: ResolvedNatsOptions): Promise<ConnectionOptions> {
  const opts: ConnectionOptions = {
    servers: o.servers, noAsyncTraces: true, timeout: o.connectTimeoutMs,
    maxReconnectAttempts: o.reconnect.maxAttempts === Number.POSITIVE_INFINITY ? -1 : o.reconnect.maxAttempts,
    inboxPrefix: o.inboxPrefix,
  };
  if (o.name) opts.name = o.name;
  if (o.token) opts.token = o.token;
  if (o.user !== undefined) { opts.user = o.user; opts.pass = o.pass; }
  if (o.nkeySeed) opts.authenticator = nkeyAuthenticator(encoder.encode(o.nkeySeed.trim()));
  const creds = o.creds !== undefined ? parseCreds(o.creds, 'creds')
    : o.credsFile !== undefined ? parseCreds(await readOptionFile(o.credsFile, 'credsFile'), 'credsFile') : undefined;
  if (creds) opts.authenticator = jwtAuthenticator(creds.jwt, encoder.encode(creds.seed));
  if (o.tls) opts.tls = await natsTlsOptions(o.tls);
  return opts;
}

/**
 * nats-server's default `max_control_line` (4 KiB): a PUB/HPUB line longer than that is not an
 * error the server answers, it closes the connection ("maximum control line exceeded"), taking
 * every other message on it along.
 */
const MAX_CONTROL_LINE_BYTES = 4096;
/** Room on the line besides subject and reply: `HPUB`, two sizes, spaces, CRLF. */
const CONTROL_LINE_OVERHEAD = 48;
/** Below this many characters (at most 3 bytes each) subject and reply cannot overrun the line. */
const CHEAP_LINE_CHARS = Math.floor((MAX_CONTROL_LINE_BYTES - CONTROL_LINE_OVERHEAD) / 3);

/** Refuses (SubjectInvalidError, nothing sent) a subject and reply that would overrun the server's control line. */
function checkControlLine(subject: string, reply: string | undefined): void {
  const subjectBytes = Buffer.byteLength(subject);
  const limit = MAX_CONTROL_LINE_BYTES - CONTROL_LINE_OVERHEAD;
  if (subjectBytes + (reply === undefined ? 0 : Buffer.byteLength(reply) + 1) > limit) {
    throw new SubjectInvalidError(`subject "${subject.slice(0, 64)}…" is ${subjectBytes} bytes: nats-server closes a connection whose protocol line is over ${MAX_CONTROL_LINE_BYTES} bytes`,
      { details: { subjectBytes, limit } });
  }
}
