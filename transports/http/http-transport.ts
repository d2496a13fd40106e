/**
 * The client side of the HTTP transport: a Bus uses a remote `HttpGateway` point to point.
 * publish = `POST /v1/events/<subject>` (binary mode), request = `POST /v1/requests/<subject>`,
 * subscribe = a Server-Sent Events stream `GET /v1/stream/<pattern>[?group=]`.
 *
 * @example
 * const bus = new Bus({ service: 'sensor@edge-1', transport: new HttpTransport({ url: 'http://127.0.0.1:8080', token }) });
 * await bus.publish('acme.sensor.reading', { t: 21 });
 */
import type { OutgoingHttpHeaders } from 'node:http';
import {
  RequestTimeoutError, TransportClosedError, TransportConnectError, type Envelope, type InboundHandler, type ResolvedReconnectOptions,
  type Transport, type TransportCapabilities, type TransportSubscribeOptions, type TransportSubscription,
} from '../../core/index.js';
import {
  EVENTS_PATH, REPLIES_PATH, REQUESTS_PATH, STREAM_PATH, TIMEOUT_HEADER, fromHttpBinary, toHttpBinary, toHttpStructured,
} from './binding.js';
import { HttpClient, HttpNetworkError, type HttpAnswer } from './http-client.js';
import { resolveHttpOptions, type HttpTransportOptions } from './options.js';
import { errorFromProblem } from './problem.js';
import { StreamSubscription, maxStreamEventChars } from './subscription.js';

export type { HttpTransportOptions } from './options.js';

const noop = () => {};
const RETRYABLE = new Set([429, 502, 503, 504]);

/**
 * Talks to an `HttpGateway` as a transport. At most once for subscribers (an event streamed to a
 * connection that breaks is gone), at least once for publishers (retries reuse the event id).
 * Messages with the same `partitionkey` are sent one after another, so the gateway sees them in
 * order; others go concurrently up to `maxConcurrency`.
 *
 * @example const t = new HttpTransport({ url: 'http://127.0.0.1:8080' });
 */
export class HttpTransport implements Transport {
  readonly name = 'http';
  readonly capabilities: TransportCapabilities;
  private readonly client: HttpClient;
  private readonly headers: Record<string, string>;
  private readonly maxConcurrency: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private readonly structured: boolean;
  private readonly reconnect: ResolvedReconnectOptions;
  private readonly maxStreamEventChars: number;
  private readonly keyTails = new Map<string, Promise<void>>();
  private readonly eventPaths = new Map<string, string>();
  private readonly subs = new Set<StreamSubscription>();
  private readonly slotWaiters: Array<() => void> = [];
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private connecting?: Promise<void>;
  private closing?: Promise<void>;

  constructor(options: HttpTransportOptions) {
    const o = resolveHttpOptions(options);
    this.maxConcurrency = o.maxConcurrency;
    this.maxAttempts = o.maxAttempts;
    this.retryDelayMs = o.retryDelayMs;
    this.timeoutMs = o.timeoutMs;
    this.reconnect = o.reconnect;
    this.maxStreamEventChars = maxStreamEventChars(o.maxMessageBytes);
    this.structured = o.mode === 'structured';
    this.headers = o.headers;
    this.capabilities = {
      requestReply: true, queueGroups: true, durable: false, ordered: false, wildcards: true, redelivery: false,
      encodesData: true, maxMessageBytes: o.maxMessageBytes,
    };
    this.client = new HttpClient(o.url, { maxSockets: this.maxConcurrency, tls: o.tls });
  }

  /** Checks the gateway answers `/healthz`. Rejects with TransportConnectError. */
  connect(): Promise<void> {
    if (this.closing) return Promise.reject(new TransportClosedError('http transport is closed'));
    this.connecting ??= (async () => {
      const answer = await this.client.send('GET', '/healthz', this.headers, undefined, this.timeoutMs).catch((cause: unknown) => {
        throw new TransportConnectError(`gateway ${this.client.base.origin} is unreachable`, { cause, details: { url: this.client.base.origin } });
      });
      if (answer.status !== 200) throw new TransportConnectError(`gateway ${this.client.base.origin} answered /healthz with ${answer.status}`, { details: { status: answer.status } });
    })();
    this.connecting.catch(() => { this.connecting = undefined; });
    return this.connecting;
  }

  publish(subject: string, envelope: Envelope): Promise<void> {
    if (this.closing) return Promise.reject(new TransportClosedError('http transport is closed'));
    const key = envelope.partitionkey;
    if (key === undefined) return this.deliver(subject, envelope);
    // Same key: one after another, so the gateway (and the bus behind it) sees publish order.
    const prev = this.keyTails.get(key);
    const sent = prev ? prev.then(() => this.deliver(subject, envelope)) : this.deliver(subject, envelope);
    const tail = sent.then(noop, noop);
    this.keyTails.set(key, tail);
    void tail.then(() => { if (this.keyTails.get(key) === tail) this.keyTails.delete(key); });
    return sent;
  }

  async request(subject: string, envelope: Envelope, options: { timeoutMs: number }): Promise<Envelope> {
    if (this.closing) throw new TransportClosedError('http transport is closed');
    const { headers, body } = this.message(envelope);
    headers[TIMEOUT_HEADER] = String(options.timeoutMs);
    let answer: HttpAnswer;
    await this.acquire();
    try {
      // A little longer than the gateway's own timer, so its 504 wins when it is alive.
      answer = await this.client.send('POST', REQUESTS_PATH + encodeURIComponent(subject), headers, body, options.timeoutMs + 1000);
    } catch (err) {
      if (err instanceof HttpNetworkError && err.details?.timeout) {
        throw new RequestTimeoutError(`no reply on ${subject} within ${options.timeoutMs} ms`, { details: { subject, timeoutMs: options.timeoutMs } });
      }
      throw err;
    } finally { this.release(); }
    if (answer.status !== 200) throw errorFromProblem(answer.status, answer.body.toString('utf8'));
    return fromHttpBinary(answer.headers, answer.body.byteLength > 0 ? answer.body : undefined);
  }

  async subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    if (this.closing) throw new TransportClosedError('http transport is closed');
    let path = STREAM_PATH + encodeURIComponent(pattern).replace(/%2A/g, '*');
    if (options.group !== undefined) path += `?group=${encodeURIComponent(options.group)}`;
    const sub = new StreamSubscription(this.client, path, pattern, { accept: 'text/event-stream', ...this.headers }, onMessage, this.reconnect,
      () => this.subs.delete(sub), (token, reply) => this.sendReply(token, reply), this.maxStreamEventChars);
    await sub.open();
    this.subs.add(sub);
    return sub;
  }

  /** Ends streams, waits for in-flight publishes, closes sockets. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subs].map((s) => s.drain()));
      if (this.inFlight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      this.client.destroy();
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- internals

  /** Answers a request that arrived on a stream. */
  private async sendReply(token: string, reply: Envelope): Promise<void> {
    const { headers, body } = this.message(reply, true);
    const answer = await this.client.send('POST', REPLIES_PATH + token, headers, body, this.timeoutMs);
    if (answer.status !== 202) throw errorFromProblem(answer.status, answer.body.toString('utf8'));
  }

  private message(envelope: Envelope, binary = false): { headers: OutgoingHttpHeaders; body?: Uint8Array } {
    const m = this.structured && !binary ? toHttpStructured(envelope) : toHttpBinary(envelope);
    const headers: OutgoingHttpHeaders = m.headers;
    for (const k in this.headers) headers[k] = this.headers[k];
    headers['content-length'] = m.body?.byteLength ?? 0;
    return m;
  }

  /** `/v1/events/<subject>`, encoded once per subject. */
  private eventsPath(subject: string): string {
    let path = this.eventPaths.get(subject);
    if (path === undefined) {
      path = EVENTS_PATH + encodeURIComponent(subject);
      if (this.eventPaths.size >= 10_000) this.eventPaths.clear();
      this.eventPaths.set(subject, path);
    }
    return path;
  }

  /** One event to the gateway, retried on network errors, 429 and 5xx with the same id. */
  private async deliver(subject: string, envelope: Envelope): Promise<void> {
    const { headers, body } = this.message(envelope);
    const path = this.eventsPath(subject);
    const slot = this.acquire();
    if (slot) await slot;
    try {
      for (let attempt = 1; ; attempt++) {
        let failure: Error;
        try {
          const answer = await this.client.send('POST', path, headers, body, this.timeoutMs);
          if (answer.status === 202 || answer.status === 200 || answer.status === 204) return;
          failure = errorFromProblem(answer.status, answer.body.toString('utf8'));
          if (!RETRYABLE.has(answer.status)) throw failure;
        } catch (err) {
          if (!(err instanceof HttpNetworkError)) throw err;
          failure = err;
        }
        if (attempt >= this.maxAttempts || this.closing) throw failure;
        const base = this.retryDelayMs * 2 ** (attempt - 1);
        await new Promise((r) => setTimeout(r, base / 2 + Math.random() * base / 2));
      }
    } finally { this.release(); }
  }

  private acquire(): Promise<void> | void {
    if (this.inFlight < this.maxConcurrency) { this.inFlight++; return; }
    return new Promise<void>((r) => this.slotWaiters.push(r));
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    if (next) { next(); return; } // the slot passes straight on
    this.inFlight--;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) { const ws = this.idleWaiters; this.idleWaiters = []; for (const w of ws) w(); }
  }
}

