/**
 * The client side: a Transport that talks to a WebSocket hub. It uses only the browser WebSocket
 * API (which `ws` implements too), so the same code runs in Node and in a page; Node-only extras
 * (upgrade headers, TLS options, ping heartbeats, the auth status of a refused upgrade) are used
 * when the socket offers them.
 */
import type { Envelope } from '../../core/envelope.js';
import {
  BackpressureError, MessageTooLargeError, RequestTimeoutError, TransportAuthError, TransportClosedError, TransportConnectError,
} from '../../core/errors.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { reconnectDelayMs } from '../../core/transport-options.js';
import type {
  InboundHandler, Transport, TransportCapabilities, TransportSubscribeOptions, TransportSubscription,
} from '../../core/transport.js';
import {
  ackFrameText, fromWebSocketEvent, parseHubFrame, publishFrameText, replyFrameText, requestFrameText, subscribeFrameText,
  SUBPROTOCOL, unsubscribeFrameText, type DeliveryFrame, type FrameId, type HubFrame,
} from './binding.js';
import { CLOSE_CODES, errorFromFrame } from './errors.js';
import { ClientSubscription, Delivery, RequestDelivery } from './subscription.js';
import {
  resolveWebSocketOptions, type ResolvedWebSocketSettings, type WebSocketConstructor, type WebSocketLike, type WebSocketTransportOptions,
} from './options.js';

export type { WebSocketTransportOptions } from './options.js';

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
const later: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => { setImmediate(fn); } : (fn) => { setTimeout(fn, 0); };
const noop = () => {};
/** Extra time the client waits past a request's timeout for the hub's own timeout answer. */
const REQUEST_GRACE_MS = 1000;

/** The Node `ws` extras, present only there. */
interface NodeSocketExtras {
  on(event: 'unexpected-response', fn: (req: { destroy(): void }, res: { statusCode?: number; resume(): void }) => void): void;
  on(event: 'pong', fn: () => void): void;
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): void;
  ping(): void;
  terminate(): void;
}

interface PendingFrame {
  /** Frame text, for publishes and requests that are sent again after a reconnect. */
  text?: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer?: ReturnType<typeof setTimeout>;
}

/** What a control frame in flight resolves with when its connection dies before the hub answered. */
const CONNECTION_LOST = Symbol('connection lost');

/**
 * Connects to a WebSocketHub: publishes with per-message acks (publish resolves when the hub's
 * bus took the event), subscribes with control frames (re-sent after every reconnect),
 * request/reply, reconnects with exponential backoff, and keeps unacked publishes in a bounded
 * buffer (BackpressureError beyond it) that is sent again after a reconnect: at least once.
 *
 * @example
 * const bus = new Bus({ service: 'ui', transport: new WebSocketTransport({ url: 'ws://127.0.0.1:8080/', token }) });
 * await bus.subscribe('acme.alerts.>', async (m) => render(m.data));
 */
export class WebSocketTransport implements Transport {
  readonly name = 'websocket';
  readonly capabilities: TransportCapabilities;
  private readonly o: ResolvedWebSocketSettings;
  /** `options.tls` with its files read (Node only, at the first connect). */
  private tls?: Record<string, unknown>;
  private readonly logger: Logger;
  private readonly pending = new Map<number, PendingFrame>();
  private readonly subs = new Map<string, ClientSubscription>();
  private sock?: WebSocketLike;
  private epoch = 0;
  private nextId = 1;
  private nextSid = 1;
  private connecting?: Promise<void>;
  private closing?: Promise<void>;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private reconnectAttempts = 0;
  private heartbeatTimer?: ReturnType<typeof setInterval>;
  private heard = true;
  private acks: FrameId[] = [];
  private ackScheduled = false;
  private onFlushed?: () => void;
  private corked?: { uncork(): void };
  /** Node: frames sent in one turn of the event loop leave in one write; browsers batch on their own. */
  private readonly uncork = () => {
    const socket = this.corked;
    this.corked = undefined;
    socket?.uncork();
  };
  private readonly flushAcks = () => {
    this.ackScheduled = false;
    const ids = this.acks;
    this.acks = [];
    if (ids.length > 0 && this.sock) this.write(ackFrameText(ids));
  };

  constructor(private readonly options: WebSocketTransportOptions) {
    this.o = resolveWebSocketOptions(options);
    this.logger = (options.logger ?? (isNode ? createLogger() : consoleLogger)).child({ transport: 'websocket' });
    this.capabilities = {
      requestReply: true, queueGroups: true, durable: false, ordered: true, wildcards: true, redelivery: false,
      encodesData: false, maxMessageBytes: this.o.maxMessageBytes,
    };
  }

  /** Opens the connection; rejects with TransportAuthError (401/403 on the upgrade) or TransportConnectError. */
  connect(): Promise<void> {
    if (this.closing) return Promise.reject(new TransportClosedError('websocket transport is closed'));
    this.connecting ??= this.open().catch((err: unknown) => { this.connecting = undefined; throw err; });
    return this.connecting;
  }

  publish(subject: string, envelope: Envelope): Promise<void> {
    const id = this.reserve();
    if (typeof id !== 'number') return Promise.reject(id);
    return this.sendTracked(id, publishFrameText(id, subject, envelope), undefined) as Promise<void>;
  }

  request(subject: string, envelope: Envelope, options: { timeoutMs: number }): Promise<Envelope> {
    const id = this.reserve();
    if (typeof id !== 'number') return Promise.reject(id);
    return this.sendTracked(id, requestFrameText(id, subject, options.timeoutMs, envelope), options.timeoutMs) as Promise<Envelope>;
  }

  async subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    if (this.closing) throw new TransportClosedError('websocket transport is closed');
    await this.connect(); // once connected, later drops are waited out below
    const sub = new ClientSubscription(`s${this.nextSid++}`, pattern, options.group, options, onMessage);
    this.subs.set(sub.sid, sub);
    try {
      // Resolves once the hub confirmed it. Offline, or cut off before the hub answered, the
      // subscription is sent (and confirmed) on the next connection.
      await new Promise<void>((resolve, reject) => {
        sub.live = { resolve, reject };
        if (this.sock) this.sendSubscribe(sub).catch(noop);
      });
    } catch (err) {
      this.subs.delete(sub.sid);
      throw err;
    }
    return { pattern, drain: () => this.endSubscription(sub, true), unsubscribe: () => this.endSubscription(sub, false) };
  }

  /** Waits (up to `closeTimeoutMs`) for unacked publishes, then closes the connection. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.reconnectTimer);
      if (this.sock && this.unackedPublishes() > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.o.closeTimeoutMs);
          this.onFlushed = () => { clearTimeout(timer); resolve(); };
        });
      }
      this.flushAcks();
      for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new TransportClosedError('websocket transport closed')); }
      this.pending.clear();
      for (const sub of this.subs.values()) sub.live?.reject(new TransportClosedError('websocket transport closed'));
      this.subs.clear();
      const sock = this.sock;
      this.stopHeartbeat();
      if (sock) {
        this.sock = undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          sock.onclose = () => { clearTimeout(timer); resolve(); };
          sock.close(CLOSE_CODES.normal, 'client closing');
        });
      }
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- connection

  private async open(): Promise<void> {
    const Impl = this.options.WebSocket ?? (isNode ? (await import('ws')).WebSocket as unknown as WebSocketConstructor : globalWebSocket());
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    let url = this.options.url;
    let nodeOptions: Record<string, unknown> | undefined;
    if (isNode && !this.options.WebSocket) {
      const headers: Record<string, string> = { ...this.options.headers };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (this.options.tls !== undefined) this.tls ??= { ...(await import('../../core/tls-options.js')).resolveTlsOptions('websocket', this.options.tls) };
      nodeOptions = { headers, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, ...this.tls };
    } else if (token !== undefined) {
      const u = new URL(url);
      u.searchParams.set('access_token', token);
      url = u.href;
    }
    await new Promise<void>((resolve, reject) => {
      const sock = new Impl(url, [SUBPROTOCOL], nodeOptions);
      const extras = sock as unknown as Partial<NodeSocketExtras>;
      let status: number | undefined;
      let opened = false;
      const timer = setTimeout(() => {
        status = undefined;
        reject(new TransportConnectError(`no connection to ${this.options.url} within ${this.o.connectTimeoutMs} ms`, { details: { url: this.options.url } }));
        sock.onclose = null;
        sock.close();
      }, this.o.connectTimeoutMs);
      if (typeof extras.on === 'function') {
        extras.on('unexpected-response', (req, res) => { status = res.statusCode; res.resume(); req.destroy(); extras.terminate!(); });
      }
      sock.onerror = noop; // `close` follows and carries what is known
      sock.onopen = () => {
        opened = true;
        clearTimeout(timer);
        this.attach(sock);
        resolve();
      };
      sock.onclose = (ev) => {
        if (opened) { this.onSocketClose(sock, ev.code); return; }
        clearTimeout(timer);
        if (status === 401 || status === 403) {
          reject(new TransportAuthError(`the hub at ${this.options.url} refused the credentials (HTTP ${status})`, { details: { url: this.options.url, status } }));
        } else {
          reject(new TransportConnectError(`could not connect to ${this.options.url}${status ? ` (HTTP ${status})` : ''}`, { details: { url: this.options.url, status, code: ev.code } }));
        }
      };
    });
  }

  /** A new connection: resubscribe, then send again everything not yet acked, in order. */
  private attach(sock: WebSocketLike): void {
    if (this.closing) { sock.close(CLOSE_CODES.normal, 'client closing'); return; }
    this.sock = sock;
    this.epoch++;
    this.reconnectAttempts = 0;
    if (isNode && !this.options.WebSocket) {
      // `ws` itself: its `message` event skips the MessageEvent the browser-style `onmessage` wraps every frame in.
      (sock as unknown as NodeSocketExtras).on('message', (data, isBinary) => this.onFrame(isBinary ? data : data.toString()));
    } else {
      sock.onmessage = (ev) => this.onFrame(ev.data);
    }
    this.startHeartbeat(sock);
    for (const sub of this.subs.values()) {
      this.sendSubscribe(sub).catch((err: unknown) => this.logger.error('resubscribing failed', { pattern: sub.pattern, err }));
    }
    for (const p of this.pending.values()) if (p.text !== undefined) this.write(p.text);
  }

  private onSocketClose(sock: WebSocketLike, code: number): void {
    if (sock !== this.sock) return;
    this.sock = undefined;
    this.stopHeartbeat();
    // Control frames in flight die with the connection; subscriptions are sent again on reconnect.
    for (const [id, p] of this.pending) if (p.text === undefined) { this.pending.delete(id); p.resolve(CONNECTION_LOST); }
    if (this.closing) return;
    this.logger.warn('connection to the hub lost; reconnecting', { code, slowConsumer: code === CLOSE_CODES.slowConsumer });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing) return;
    const delay = reconnectDelayMs(this.o.reconnect, ++this.reconnectAttempts);
    this.reconnectTimer = setTimeout(() => {
      this.open().catch((err: unknown) => {
        this.logger.warn('reconnect failed', { attempt: this.reconnectAttempts, err });
        this.scheduleReconnect();
      });
    }, delay);
  }

  private startHeartbeat(sock: WebSocketLike): void {
    const extras = sock as unknown as Partial<NodeSocketExtras>;
    if (this.o.heartbeatMs === 0 || typeof extras.ping !== 'function' || typeof extras.on !== 'function') return;
    this.heard = true;
    extras.on('pong', () => { this.heard = true; });
    this.heartbeatTimer = setInterval(() => {
      if (!this.heard) { this.logger.warn('the hub missed a heartbeat; reconnecting'); extras.terminate!(); return; }
      this.heard = false;
      extras.ping!();
    }, this.o.heartbeatMs);
    (this.heartbeatTimer as { unref?: () => void }).unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  // ---------------------------------------------------------------- frames

  /** A frame id, or the error why nothing more may be sent. */
  private reserve(): number | Error {
    if (this.closing) return new TransportClosedError('websocket transport is closed');
    if (this.pending.size >= this.o.maxBufferedPublishes) {
      return new BackpressureError(`${this.pending.size} publishes are waiting for the hub's ack${this.sock ? '' : ' (disconnected)'}`,
        { details: { maxBufferedPublishes: this.o.maxBufferedPublishes } });
    }
    return this.nextId++;
  }

  private sendTracked(id: number, text: string, timeoutMs: number | undefined): Promise<unknown> {
    // Characters are at most 3 UTF-8 bytes: measure only frames that might be too big.
    if (text.length * 3 > this.o.maxMessageBytes) {
      const bytes = new TextEncoder().encode(text).byteLength;
      if (bytes > this.o.maxMessageBytes) {
        return Promise.reject(new MessageTooLargeError(`frame is ${bytes} bytes; the limit is ${this.o.maxMessageBytes}`, { details: { bytes, limit: this.o.maxMessageBytes } }));
      }
    }
    return new Promise((resolve, reject) => {
      const p: PendingFrame = { text, resolve, reject };
      if (timeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          if (this.pending.delete(id)) reject(new RequestTimeoutError(`no reply within ${timeoutMs} ms`, { details: { timeoutMs } }));
          this.checkFlushed();
        }, timeoutMs + REQUEST_GRACE_MS);
      }
      this.pending.set(id, p);
      if (this.sock) this.write(text);
    });
  }

  private sendControl(build: (id: number) => string): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.write(build(id));
    });
  }

  /** Sends the subscription; the first answer from the hub settles the subscribe() waiting for it. */
  private sendSubscribe(sub: ClientSubscription): Promise<void> {
    return this.sendControl((id) => subscribeFrameText({ id, sid: sub.sid, pattern: sub.pattern, group: sub.group, inflight: sub.maxInFlight })).then(
      (answer) => {
        if (answer === CONNECTION_LOST) return;
        const live = sub.live;
        sub.live = undefined;
        live?.resolve();
      },
      (err: Error) => {
        const live = sub.live;
        sub.live = undefined;
        if (!live) throw err;
        live.reject(err);
      },
    );
  }

  private async endSubscription(sub: ClientSubscription, drain: boolean): Promise<void> {
    if (this.subs.get(sub.sid) === sub) {
      if (drain && this.sock) {
        // Keep handing over deliveries until the hub confirms nothing more comes.
        await this.sendControl((id) => unsubscribeFrameText(id, sub.sid)).catch((err: unknown) => this.logger.warn('unsubscribe failed', { err }));
        this.subs.delete(sub.sid);
      } else {
        this.subs.delete(sub.sid);
        if (this.sock) this.write(unsubscribeFrameText(this.nextId++, sub.sid));
      }
    }
    if (drain && sub.inflight > 0) await new Promise<void>((resolve) => { sub.onIdle = resolve; });
  }

  private onFrame(data: unknown): void {
    this.heard = true;
    if (typeof data !== 'string') return; // binary frames are not part of the protocol
    let f: HubFrame;
    try { f = parseHubFrame(data); } catch (err) {
      this.logger.warn('unreadable frame from the hub', { err });
      return;
    }
    switch (f.op) {
      case 'msg': this.deliver(f); break;
      case 'ack':
        for (const id of f.ids) {
          const p = this.pending.get(id as number);
          if (!p) continue;
          this.pending.delete(id as number);
          p.resolve(undefined);
        }
        if (this.onFlushed) this.checkFlushed();
        break;
      case 'reply': this.settlePending(f.ref, (p) => {
        try { p.resolve(fromWebSocketEvent(f.event)); } catch (err) { p.reject(err as Error); }
      }); break;
      case 'error':
        if (f.ref === undefined) this.logger.warn('the hub refused a frame', { code: f.code, message: f.message, eventid: f.eventid });
        else this.settlePending(f.ref, (p) => p.reject(errorFromFrame(f.code, f.message)));
        break;
      default: break;
    }
  }

  private settlePending(ref: FrameId, settle: (p: PendingFrame) => void): void {
    const p = this.pending.get(ref as number);
    if (!p) return;
    this.pending.delete(ref as number);
    clearTimeout(p.timer);
    settle(p);
    if (this.onFlushed) this.checkFlushed();
  }

  private deliver(f: DeliveryFrame): void {
    const sub = this.subs.get(f.sid);
    if (sub?.intake.full) {
      // The hub sent past the window it was given and the Bus is full: drop it, and ack it so the
      // hub's window (its count of unacked deliveries) frees instead of stalling the subscription.
      sub.intake.drop(f.subject);
      if (f.id !== undefined) this.queueAck(f.id);
      return;
    }
    let envelope: Envelope;
    try {
      if (!sub) throw new TransportClosedError('subscription ended');
      envelope = fromWebSocketEvent(f.event);
    } catch (err) {
      if (sub) this.logger.warn('unreadable delivery from the hub', { err });
      if (f.id !== undefined) this.queueAck(f.id);
      return;
    }
    sub.inflight++;
    const msg = f.req ? new RequestDelivery(this, sub, this.epoch, f.id, f.subject, envelope) : new Delivery(this, sub, this.epoch, f.id, f.subject, envelope);
    // The hub holds back deliveries beyond the `inflight` window, so a full Bus needs no pause here
    // (pausing the socket would also stop the acks and replies the connection carries).
    // Refused at once (`onFull: 'reject'`): dropped and counted by the intake, acked here like the others.
    if (!sub.intake.offer(msg)) this._settle(msg);
  }

  private write(text: string): void {
    const sock = this.sock!;
    if (this.corked === undefined) {
      const socket = (sock as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
      if (socket && typeof socket.cork === 'function') {
        socket.cork();
        this.corked = socket;
        later(this.uncork);
      }
    }
    sock.send(text);
  }

  private queueAck(id: FrameId): void {
    this.acks.push(id);
    if (!this.ackScheduled) {
      this.ackScheduled = true;
      later(this.flushAcks);
    }
  }

  private unackedPublishes(): number {
    let n = 0;
    for (const p of this.pending.values()) if (p.text !== undefined) n++;
    return n;
  }

  private checkFlushed(): void {
    if (this.onFlushed && this.unackedPublishes() === 0) { const done = this.onFlushed; this.onFlushed = undefined; done(); }
  }

  /** @internal settles a delivery: acks it on the connection it came on (a later one would not know its id). */
  _settle(d: Delivery): void {
    if (d.settled) return;
    d.settled = true;
    if (d.id !== undefined && !d.replied && d.epoch === this.epoch && this.sock) this.queueAck(d.id);
    d.sub.inflight--;
    if (d.sub.inflight === 0 && d.sub.onIdle) { const idle = d.sub.onIdle; d.sub.onIdle = undefined; idle(); }
  }

  /** @internal answers a delivered request; the hub settles the delivery with the reply. */
  async _reply(d: Delivery, reply: Envelope): Promise<void> {
    if (d.id === undefined || d.epoch !== this.epoch || !this.sock) {
      throw new TransportClosedError('the connection the request came on is gone; the requester will time out');
    }
    d.replied = true;
    this.write(replyFrameText(d.id, reply));
  }
}

function globalWebSocket(): WebSocketConstructor {
  const ctor = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!ctor) throw new TransportConnectError('no WebSocket implementation: pass options.WebSocket');
  return ctor;
}

const consoleLogger: Logger = {
  debug() {}, info() {},
  warn: (msg, fields) => console.warn(msg, fields ?? ''),
  error: (msg, fields) => console.error(msg, fields ?? ''),
  child() { return consoleLogger; },
};
