/**
 * The HTTP gateway: hosts CloudEvents over HTTP on a port and bridges it into a Bus. Routes,
 * modes, error answers and guarantees are listed in transports/http/README.md.
 *
 * @example
 * const bus = new Bus({ service: 'edge-gateway', transport: new MemoryTransport() });
 * const gateway = new HttpGateway({ bus, port: 8080, auth: { jwt: { secret } } });
 * await gateway.start();   // POST http://127.0.0.1:8080/v1/events/acme.orders.created
 * await gateway.close();
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  BackpressureError, CapabilityMissingError, checkJsonDepth, DEFAULT_HEADER_LIMITS, inboundProblem, MessageTooLargeError, OptionsInvalidError, PatternInvalidError,
  SubjectInvalidError, mediaType, resolveTlsOptions, validatePattern, validateSubject, type Bus, type Envelope, type HeaderLimits,
  type Codec, type InboundMessage, type TlsOptions, type TransportSubscription,
} from '../core/index.js';
import { checkSubjectAllowed, createAuthenticator, refuseRepeatedCredentials, repeatedHeader, groupFor, mayRead, type Authenticate, type AuthenticatorOptions, type AuthResult } from '../auth/authenticator.js';
import {
  BATCH_CONTENT_TYPE, EVENTS_PATH, REPLIES_PATH, REQUESTS_PATH, STREAM_PATH, STRUCTURED_CONTENT_TYPE, TIMEOUT_HEADER, contentKind, fromHttpBinary, fromHttpStructured, fromHttpBatch, toHttpBinary, toJsonEvent, utf8HeaderValue,
} from '../transports/http/binding.js';
import { BodyInvalidError, RateLimitedError, RouteNotFoundError, UnsupportedMediaTypeError } from '../transports/http/errors.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from '../transports/http/problem.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { ClientAbortedError, ReplyUnencodableError } from './errors.js';
import { GatewayConsole, type ConsoleOptions } from './console.js';
import { AuthForbiddenError, AuthUnauthorizedError, HeaderInvalidError, processMetrics, PROMETHEUS_CONTENT_TYPE } from '../core/index.js';

export interface HttpGatewayOptions {
  /** The bus events are published to, requests sent through and streams subscribed on. The caller owns (starts, stops) it. */
  bus: Bus;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port; 0 picks a free one (see `port` after `start()`). Default 0. */
  port?: number;
  /** Serve HTTPS with this certificate and key (`cert`/`key` or `certFile`/`keyFile`; `ca` to verify client certificates). */
  tls?: TlsOptions;
  /** Authentication: options for `createAuthenticator`, or a ready `authenticate` function. Default: anonymous allowed. */
  auth?: AuthenticatorOptions | Authenticate;
  /** Largest request body, bytes; larger ones get 413 without being read. Default 1 MiB. */
  maxBodyBytes?: number;
  /** CloudEvents `type` given to plain JSON bodies. Default: the subject. */
  plainJsonType?: string;
  /** CloudEvents `source` given to plain JSON bodies. Default: the bus' source plus `/http`. */
  plainJsonSource?: string;
  /** Refuse (400) JSON data that does not parse, at the door. Default true. */
  validateJson?: boolean;
  /**
   * Per-client rate limit (client = the authenticated tenant and principal, else the remote
   * address); requests whose credentials are refused (401/403) are charged to the remote address,
   * so guessing keys runs into 429 too. false = none. Default none.
   */
  rateLimit?: RateLimitOptions | false;
  /** Request/reply timeout when the client names none, ms. Default 5000. */
  requestTimeoutMs?: number;
  /** Longest request/reply timeout a client may ask for, ms. Default 60,000. */
  maxRequestTimeoutMs?: number;
  /**
   * Keep a client-sent `tenant` when the caller has no tenant of its own (a trusted bus-to-bus
   * link, e.g. `HttpTransport` between services). A caller with a tenant always gets its own
   * stamped. Default false: a client-sent tenant is removed.
   */
  trustClientTenant?: boolean;
  /** Open Server-Sent Event streams at most. Default 1000. */
  maxStreams?: number;
  /** Comment line sent on idle streams so proxies keep them open, ms. Default 15,000. */
  streamHeartbeatMs?: number;
  /** A stream whose client has read nothing of what waits for it for this long is closed, ms. Default 10,000. */
  streamStallMs?: number;
  /**
   * Bytes a stream may have waiting for its client; past this it is closed (a slow consumer). A
   * stream never holds the bus back, so this bounds what a slow client costs. Default 1 MiB.
   */
  streamMaxBufferedBytes?: number;
  /** Header limits applied to inbound events. Default core's. */
  headerLimits?: HeaderLimits;
  /**
   * Serve the web console at `/` (gateway/console.ts): live metric fields, throughput, alerts,
   * dead letters and the pipeline graph, behind the same auth. Default false; `signalbus run` and
   * `signalbus demo` turn it on.
   */
  console?: boolean | ConsoleOptions;
}

const ANONYMOUS: AuthResult = Object.freeze({ principal: 'anonymous' });
const decoder = new TextDecoder('utf-8', { fatal: true });
const EMPTY = Buffer.alloc(0);
const GROUP_NAME = /^[A-Za-z0-9_\-~:@=.]{1,128}$/;
/** The headers binary mode reads attributes from; Content-Type is `datacontenttype` there. */
const BINARY_HEADER = /^(?:ce-.*|content-type)$/i;
const IDEMPOTENCY_HEADER = /^idempotency-key$/i;

interface OpenStream {
  res: ServerResponse; sub?: TransportSubscription; closed: boolean; principal: string; who: AuthResult;
  /** Set while the client is behind: closes the stream if it stays behind for `streamStallMs`. */
  stallTimer?: NodeJS.Timeout;
}
/** `client`: who the stream's caller is (`clientOf`); only the same caller may answer. */
interface PendingReply { reply: (envelope: Envelope) => Promise<void>; client: string; timer: NodeJS.Timeout }

/**
 * Hosts CloudEvents over HTTP and bridges them into a Bus: publish (`POST /v1/events/<subject>`),
 * request/reply (`POST /v1/requests/<subject>`), live streams (`GET /v1/stream/<pattern>`, SSE),
 * `/metrics` (every Bus in the process), `/healthz`, `/readyz`. See README.md for the answers it gives.
 *
 * @example
 * const gateway = new HttpGateway({ bus, port: 8080 });
 * const { url } = await gateway.start();
 */
export class HttpGateway {
  readonly bus: Bus;
  private readonly server: Server;
  private readonly authenticate?: Authenticate;
  private readonly limiter?: RateLimiter;
  private readonly maxBody: number;
  private readonly limits: HeaderLimits;
  private readonly streams = new Set<OpenStream>();
  private readonly pendingReplies = new Map<string, PendingReply>();
  private readonly opts: HttpGatewayOptions;
  private heartbeat?: NodeJS.Timeout;
  private listening?: Promise<{ port: number; url: string }>;
  private closing?: Promise<void>;
  private boundPort = 0;
  /** The web console served at `/`, when the `console` option is on. */
  readonly console?: GatewayConsole;

  constructor(options: HttpGatewayOptions) {
    this.opts = options;
    if (!options?.bus) throw new OptionsInvalidError('HttpGateway needs a bus', { details: { field: 'bus' } });
    this.bus = options.bus;
    this.maxBody = options.maxBodyBytes ?? 1024 * 1024;
    positive('maxBodyBytes', this.maxBody);
    positive('requestTimeoutMs', options.requestTimeoutMs ?? 1);
    positive('maxRequestTimeoutMs', options.maxRequestTimeoutMs ?? 1);
    positive('maxStreams', options.maxStreams ?? 1);
    positive('streamHeartbeatMs', options.streamHeartbeatMs ?? 1);
    positive('streamStallMs', options.streamStallMs ?? 1);
    positive('streamMaxBufferedBytes', options.streamMaxBufferedBytes ?? 1);
    if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port < 65536)) {
      throw new OptionsInvalidError('port must be an integer 0-65535', { details: { field: 'port' } });
    }
    const tls = options.tls === undefined ? undefined : resolveTlsOptions('gateway', options.tls, { server: true });
    this.authenticate = typeof options.auth === 'function' ? options.auth : options.auth ? createAuthenticator(options.auth) : undefined;
    this.limiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;
    this.limits = options.headerLimits ?? DEFAULT_HEADER_LIMITS;
    if (options.console) this.console = new GatewayConsole(this.bus, options.console === true ? {} : options.console, this.limits);
    const onRequest = (req: IncomingMessage, res: ServerResponse) => { this.route(req, res).catch((err) => this.fail(req, res, err)); };
    this.server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert, ca: tls.ca }, onRequest) : createHttpServer(onRequest);
  }

  /** The port listened on (after `start()`). */
  get port(): number { return this.boundPort; }

  /** `http(s)://host:port` (after `start()`). */
  get url(): string { return `${this.opts.tls ? 'https' : 'http'}://${formatHost(this.opts.host ?? '127.0.0.1')}:${this.boundPort}`; }

  /** Starts the bus (if not yet) and listens. Idempotent. Rejects with the listen error (e.g. EADDRINUSE). */
  start(): Promise<{ port: number; url: string }> {
    this.listening ??= (async () => {
      await this.bus.start();
      await this.console?.start();
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => { this.server.off('error', reject); resolve(); });
      });
      this.boundPort = (this.server.address() as AddressInfo).port;
      const beat = this.opts.streamHeartbeatMs ?? 15_000;
      this.heartbeat = setInterval(() => { for (const s of this.streams) if (!s.closed) s.res.write(': ping\n\n'); }, beat);
      this.heartbeat.unref();
      return { port: this.boundPort, url: this.url };
    })();
    return this.listening;
  }

  /** Stops accepting, ends open streams, lets in-flight requests finish (up to `graceMs`), closes. Idempotent. Does not stop the bus. */
  close(graceMs = 5000): Promise<void> {
    this.closing ??= (async () => {
      if (this.heartbeat) clearInterval(this.heartbeat);
      await this.console?.close();
      const closed = this.listening ? new Promise<void>((r) => this.server.close(() => r())) : Promise.resolve();
      await Promise.all([...this.streams].map((s) => this.endStream(s)));
      for (const p of this.pendingReplies.values()) clearTimeout(p.timer);
      this.pendingReplies.clear();
      this.server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((r) => { timer = setTimeout(r, graceMs); timer.unref(); })]);
      clearTimeout(timer);
      this.server.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- routing

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method;
    if (method === 'POST') {
      if (path.startsWith(EVENTS_PATH)) return this.postEvents(req, res, path);
      if (path.startsWith(REQUESTS_PATH)) return this.postRequest(req, res, path);
      if (path.startsWith(REPLIES_PATH)) return this.postReply(req, res, path);
    } else if (method === 'GET' || method === 'HEAD') {
      if (path.startsWith(STREAM_PATH) && method === 'GET') return this.stream(req, res, path, q < 0 ? '' : url.slice(q + 1));
      if (path === '/healthz') return this.text(res, 200, 'ok\n');
      if (path === '/readyz') return this.bus.isStopping || this.closing ? this.text(res, 503, 'stopping\n') : this.text(res, 200, 'ready\n');
      // Every Bus in this process, so one scrape of `signalbus run` sees all its services.
      if (path === '/metrics') return this.text(res, 200, await processMetrics.prometheus([this.bus.metrics]), PROMETHEUS_CONTENT_TYPE);
      if (this.console && await this.console.route(req, res, path, () => this.identify(req))) return;
    }
    throw new RouteNotFoundError(`no route for ${method} ${path}`, { details: { method: method ?? '', path } });
  }

  /** Who is calling, then whether they still have budget; no promise to wait for without an authenticator. */
  private identify(req: IncomingMessage): AuthResult | Promise<AuthResult> {
    if (!this.authenticate) return this.withinBudget(req, ANONYMOUS);
    let pending: Promise<AuthResult>;
    try {
      refuseRepeatedCredentials(req.rawHeaders);
      pending = this.authenticate(req.headers);
    } catch (err) {
      return Promise.reject(this.refused(req, err));
    }
    return pending.then((who) => this.withinBudget(req, who), (err: unknown) => { throw this.refused(req, err); });
  }

  private withinBudget(req: IncomingMessage, who: AuthResult): AuthResult {
    if (this.limiter) {
      const client = who === ANONYMOUS || who.principal === 'anonymous' ? addressOf(req) : `principal:${clientOf(who)}`;
      this.spend(client);
    }
    return who;
  }

  /**
   * Refused credentials establish no principal, so they are charged to the remote address: someone
   * guessing keys or tokens meets 429 like any other client over its budget, rather than a 401
   * for every guess.
   */
  private refused(req: IncomingMessage, err: unknown): unknown {
    if (!this.limiter || !(err instanceof AuthUnauthorizedError || err instanceof AuthForbiddenError)) return err;
    try { this.spend(addressOf(req)); } catch (limited) { return limited; }
    return err;
  }

  private spend(client: string): void {
    if (!this.limiter!.take(client)) {
      throw new RateLimitedError(`rate limit exceeded for ${client}`, { details: { retryAfter: this.limiter!.retryAfterSeconds(client) } });
    }
  }

  // ---------------------------------------------------------------- POST /v1/events/<subject>

  private async postEvents(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const who = await this.identify(req);
    const subject = subjectOf(path, EVENTS_PATH);
    checkSubjectAllowed(who, subject);
    const body = await readBody(req, this.maxBody);
    const media = mediaType(req.headers['content-type']);
    if (media === BATCH_CONTENT_TYPE) {
      const events = fromHttpBatch(body, this.limits);
      for (const e of events) this.admit(e, who);
      // In order, so a batch keeps its order on ordered transports.
      // A failure part way leaves the earlier events published: the client retries the batch and the ids dedupe.
      for (const e of events) await this.bus.publishEnvelope(subject, e);
    } else {
      const envelope = this.eventOf(req, media, body, subject);
      this.admit(envelope, who);
      await this.bus.publishEnvelope(subject, envelope);
    }
    res.writeHead(202, { 'content-length': '0' });
    res.end();
  }

  /** One event from a request: structured, binary or plain JSON; 415 otherwise. */
  private eventOf(req: IncomingMessage, media: string, body: Buffer, subject: string): Envelope {
    if (media === STRUCTURED_CONTENT_TYPE) return fromHttpStructured(body, this.limits);
    if (media === BATCH_CONTENT_TYPE) throw new UnsupportedMediaTypeError('a batch is only accepted on /v1/events/', { details: { contentType: media } });
    if (req.headers['ce-specversion'] !== undefined) {
      const env = fromHttpBinary(binaryHeaders(req), body.byteLength === 0 ? undefined : body, this.limits);
      return env;
    }
    if (media === 'application/json' || media.endsWith('+json')) {
      if (body.byteLength === 0) throw new BodyInvalidError('a plain JSON event needs a body');
      return {
        specversion: '1.0', id: idempotencyKey(req) ?? randomUUID(),
        source: this.opts.plainJsonSource ?? `${this.bus.source}/http`, type: this.opts.plainJsonType ?? subject,
        time: new Date().toISOString(), datacontenttype: 'application/json', data: body,
      };
    }
    throw new UnsupportedMediaTypeError(media === ''
      ? 'send ce-* headers (binary mode), application/cloudevents+json, application/cloudevents-batch+json or application/json'
      : `content type ${media} is not accepted without ce-* headers`, { details: { contentType: media } });
  }

  /** Stamps the tenant from the caller (never from the client) and checks JSON data where asked. */
  private admit(envelope: Envelope, who: AuthResult): void {
    // Data no codec of the bus takes would be accepted here and fail at every subscriber: 415 now.
    if (envelope.data !== undefined) this.bus.codecs.get(envelope.datacontenttype);
    if (who.tenant !== undefined) envelope.tenant = who.tenant;
    else if (!this.opts.trustClientTenant) delete envelope.tenant;
    if (envelope.data instanceof Uint8Array && contentKind(envelope.datacontenttype) === 'json') {
      // `validateJson: false` skips the parse, not the depth limit: every subscriber would refuse
      // (dead-letter) data nested that deep, so it gets its 400 here whatever the setting.
      const validate = this.opts.validateJson !== false;
      let text: string;
      try { text = decoder.decode(envelope.data); } catch (cause) {
        if (!validate) return;
        throw new BodyInvalidError(`data is declared ${envelope.datacontenttype ?? 'JSON'} but is not valid UTF-8 JSON`, { cause });
      }
      checkJsonDepth(text); // CodecTooDeepError, 400
      if (!validate) return;
      try { JSON.parse(text); } catch (cause) {
        throw new BodyInvalidError(`data is declared ${envelope.datacontenttype ?? 'JSON'} but is not valid UTF-8 JSON`, { cause });
      }
    }
  }

  // ---------------------------------------------------------------- POST /v1/requests/<subject>

  private async postRequest(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const who = await this.identify(req);
    const subject = subjectOf(path, REQUESTS_PATH);
    checkSubjectAllowed(who, subject);
    const body = await readBody(req, this.maxBody);
    const envelope = this.eventOf(req, mediaType(req.headers['content-type']), body, subject);
    this.admit(envelope, who);
    const asked = Number(singleHeader(req, TIMEOUT_HEADER));
    const timeoutMs = Math.min(asked > 0 ? asked : this.opts.requestTimeoutMs ?? 5000, this.opts.maxRequestTimeoutMs ?? 60_000);
    const reply = await this.bus.requestEnvelope(subject, envelope, { timeoutMs });
    if (reply.data !== undefined && !(reply.data instanceof Uint8Array)) reply.data = this.replyBytes(reply);
    const message = toHttpBinary(reply);
    message.headers['content-length'] = String(message.body?.byteLength ?? 0);
    res.writeHead(200, message.headers);
    res.end(message.body);
  }

  /**
   * The bytes of a reply that a transport carrying objects (memory) handed over decoded. Encoded
   * with the bus' codecs, which decoded it; text no codec takes goes out as its UTF-8 under its
   * own content type. Anything else cannot be put on the wire faithfully: a 502 with its own code,
   * never a 415, which would blame the requester's input.
   */
  private replyBytes(reply: Envelope): Uint8Array {
    let codec: Codec;
    try { codec = this.bus.codecs.get(reply.datacontenttype); } catch (cause) {
      if (typeof reply.data === 'string') return Buffer.from(reply.data, 'utf8');
      this.bus.logger.warn('http gateway: a reply in a content type no codec of the bus takes was dropped', { id: reply.id, contentType: reply.datacontenttype });
      throw new ReplyUnencodableError(`the reply is ${reply.datacontenttype ?? ''} data that no codec of the bus can encode`, { cause, details: { contentType: reply.datacontenttype ?? '' } });
    }
    try { return codec.encode(reply.data, reply.type); } catch (cause) {
      this.bus.logger.warn('http gateway: a reply that its codec cannot encode was dropped', { id: reply.id, contentType: reply.datacontenttype, err: cause });
      throw new ReplyUnencodableError(`the reply's data cannot be encoded as ${reply.datacontenttype ?? 'application/json'}`, { cause, details: { contentType: reply.datacontenttype ?? 'application/json' } });
    }
  }

  // ---------------------------------------------------------------- GET /v1/stream/<pattern>

  private async stream(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
    const who = await this.identify(req);
    let pattern: string;
    try { pattern = decodeURIComponent(path.slice(STREAM_PATH.length)); } catch (cause) {
      throw new PatternInvalidError(`path ${path} is not valid percent-encoding`, { cause });
    }
    validatePattern(pattern);
    checkSubjectAllowed(who, pattern);
    const group = query === '' ? undefined : new URLSearchParams(query).get('group') ?? undefined;
    if (group !== undefined && !GROUP_NAME.test(group)) {
      throw new OptionsInvalidError('group must be 1-128 of A-Z a-z 0-9 _ - ~ : @ = .', { details: { field: 'group' } });
    }
    const maxStreams = this.opts.maxStreams ?? 1000;
    if (this.streams.size >= maxStreams) {
      throw new BackpressureError(`${this.streams.size} streams are open, the most this gateway takes`, { details: { maxStreams } });
    }
    const s: OpenStream = { res, closed: false, principal: who.principal, who };
    this.streams.add(s);
    req.on('close', () => { void this.endStream(s); });
    // A relay, not a handler: the gateway subscribes on the bus' transport directly, so requests
    // keep their reply path (answered by POST /v1/replies/<token>) and envelopes pass unchanged.
    const transport = this.bus.transportFor(pattern);
    if (group !== undefined && !transport.capabilities.queueGroups) {
      this.streams.delete(s);
      throw new CapabilityMissingError(`the bus behind this gateway has no consumer groups for ${pattern}`, { details: { transport: transport.name } });
    }
    try {
      s.sub = await transport.subscribe(pattern, (msg) => this.relay(s, msg), { group: groupFor(who, group), maxInFlight: 1000 });
    } catch (err) {
      this.streams.delete(s);
      throw err;
    }
    if (s.closed) { await s.sub.unsubscribe(); return; }
    // Headers go out only now, so a client knows the subscription is live when it sees them.
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.write(': subscribed\n\n');
  }

  /**
   * Writes one message to a stream. A stream is at most once and never holds the transport back
   * (that would stall every publisher on a memory bus and every other stream): a client that falls
   * `streamMaxBufferedBytes` behind, or stays behind for `streamStallMs`, loses its stream instead.
   */
  private relay(s: OpenStream, msg: InboundMessage): void | Promise<void> {
    // A stream carries CloudEvents; a device payload on the same subjects is for raw subscribers (ingest), not for it.
    // A tenant's stream carries its own events only: without subject prefixes tenants share subjects.
    // Nor does it carry what the inbound rules refuse (subscribers dead-letter that; README, "Bad input").
    if (s.closed || msg.notCloudEvent !== undefined || inboundProblem(msg.envelope, this.limits) !== undefined || !mayRead(s.who, msg.envelope)) return void msg.ack();
    // Standard SSE: the event name is the subject (a browser listens with addEventListener(subject, …)).
    let frame = `id: ${msg.envelope.id}\nevent: ${msg.subject}\n`;
    if (msg.reply) {
      const token = randomUUID();
      const timer = setTimeout(() => this.pendingReplies.delete(token), this.opts.maxRequestTimeoutMs ?? 60_000);
      timer.unref();
      this.pendingReplies.set(token, { reply: msg.reply, client: clientOf(s.who), timer });
      frame += `reply: ${token}\n`;
    }
    frame += `data: ${JSON.stringify(toJsonEvent(msg.envelope))}\n\n`;
    const flowing = s.res.write(frame);
    if (!flowing) this.watchBehind(s);
    return msg.ack();
  }

  /** A client behind on its stream: closed once too far behind in bytes, or behind for too long. */
  private watchBehind(s: OpenStream): void {
    const maxBytes = this.opts.streamMaxBufferedBytes ?? 1024 * 1024;
    if (s.res.writableLength > maxBytes) {
      this.bus.logger.warn('http gateway: stream closed, its client is too slow', { principal: s.principal, bufferedBytes: s.res.writableLength, maxBytes });
      this.bus.metric('stream', 'closed-slow', { context: 'http-gateway' });
      void this.endStream(s, true);
      return;
    }
    if (s.stallTimer) return;
    s.stallTimer = setTimeout(() => {
      this.bus.logger.warn('http gateway: stream closed, its client read nothing', { principal: s.principal, stallMs: this.opts.streamStallMs ?? 10_000 });
      this.bus.metric('stream', 'closed-stalled', { context: 'http-gateway' });
      void this.endStream(s, true);
    }, this.opts.streamStallMs ?? 10_000);
    s.stallTimer.unref();
    s.res.once('drain', () => { clearTimeout(s.stallTimer); s.stallTimer = undefined; });
  }

  /** `behind`: the client is not reading, so a graceful end would wait behind what it never reads. */
  private async endStream(s: OpenStream, behind = false): Promise<void> {
    if (s.closed) return;
    s.closed = true;
    clearTimeout(s.stallTimer);
    this.streams.delete(s);
    try { await s.sub?.unsubscribe(); } catch { /* the bus may be stopping already */ }
    if (behind || !s.res.headersSent) s.res.destroy();
    else if (!s.res.writableEnded) s.res.end();
  }

  // ---------------------------------------------------------------- POST /v1/replies/<token>

  private async postReply(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const who = await this.identify(req);
    const token = path.slice(REPLIES_PATH.length);
    const pending = this.pendingReplies.get(token);
    const client = clientOf(who);
    if (!pending || pending.client !== client) {
      throw new RouteNotFoundError('no request is waiting for this reply (answered, expired or not yours)', { details: { path } });
    }
    const body = await readBody(req, this.maxBody);
    const envelope = fromHttpBinary(binaryHeaders(req), body.byteLength === 0 ? undefined : body, this.limits);
    // The same door as every other POST: tenant stamped from the credentials, codec, depth and
    // JSON checked. A refused reply leaves the request waiting, so the responder can send a good one.
    this.admit(envelope, who);
    // Two replies to one token may have read their bodies side by side: only the first is delivered.
    if (this.pendingReplies.get(token) !== pending) {
      throw new RouteNotFoundError('no request is waiting for this reply (answered, expired or not yours)', { details: { path } });
    }
    this.pendingReplies.delete(token);
    clearTimeout(pending.timer);
    await pending.reply(envelope);
    res.writeHead(202, { 'content-length': '0' });
    res.end();
  }

  // ---------------------------------------------------------------- answers

  private text(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (err instanceof ClientAbortedError) {
      // The client left mid-upload: no one to answer and nothing wrong here (not a 500, not an error).
      this.bus.logger.debug('http gateway: client closed the connection mid-body', { path: req.url });
      res.destroy();
      return;
    }
    if (res.headersSent) { res.destroy(); return; }
    const problem = problemOf(err);
    if (problem.status >= 500 && problem.code === 'SB_ERR_INTERNAL') this.bus.logger.error('http gateway: internal error', { err, path: req.url });
    const body = JSON.stringify(problem);
    const headers: Record<string, string | number> = { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) };
    if (problem.status === 429) headers['retry-after'] = String(problem.retryAfter ?? 1);
    else if (problem.status === 503) headers['retry-after'] = '1';
    if (!req.complete) {
      // A body we did not read: drain a small one to keep the connection; refuse the rest of a big one.
      const declared = Number(req.headers['content-length']);
      if (declared <= this.maxBody) req.resume();
      else headers.connection = 'close';
    }
    res.writeHead(problem.status, headers);
    res.end(body);
    try {
      this.bus.metric('rejected', `http-${problem.status}`, { context: 'http-gateway' });
    } catch { /* metrics must never break an answer */ }
  }
}

/** Reads a body up to `limit` bytes; MessageTooLargeError as soon as it is clearly over (declared or counted). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  const length = declared === undefined ? -1 : Number(declared);
  if (length > limit) {
    return Promise.reject(new MessageTooLargeError(`body of ${declared} bytes is over the limit of ${limit}`, { details: { limit } }));
  }
  if (length === 0) return Promise.resolve(EMPTY);
  // A small body usually arrives with the headers and already waits, whole, in the stream's
  // buffer: take it now rather than through 'data'/'end' events a few ticks later.
  if (length > 0 && req.readableLength === length) {
    const whole = req.read() as Buffer | null;
    if (whole !== null) return Promise.resolve(whole);
  }
  // Gone before we got to reading (say, while its token was verified): Node emits nothing more.
  if (req.destroyed && !req.complete) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= limit) { chunks.push(chunk); return; }
      req.off('data', onData); req.off('end', onEnd);
      req.pause();
      reject(new MessageTooLargeError(`body is over the limit of ${limit} bytes`, { details: { limit } }));
    };
    const onEnd = () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    req.on('data', onData);
    req.on('end', onEnd);
    // Node reports a connection closed before the whole body as an 'aborted' ECONNRESET on the request.
    req.on('error', (cause) => reject(req.complete ? cause : aborted(cause)));
    req.on('close', () => { if (!req.complete) reject(aborted()); });
  });
}

function aborted(cause?: unknown): ClientAbortedError {
  return new ClientAbortedError('the client closed the connection before sending the whole body', { cause });
}

/** Paths already decoded and validated: a client posts to the same few subjects over and over. */
const subjectsByPath = new Map<string, string>();

function subjectOf(path: string, prefix: string): string {
  const known = subjectsByPath.get(path);
  if (known !== undefined) return known;
  let subject: string;
  try { subject = decodeURIComponent(path.slice(prefix.length)); } catch (cause) {
    throw new SubjectInvalidError(`path ${path} is not valid percent-encoding`, { cause, details: { path } });
  }
  validateSubject(subject);
  if (subjectsByPath.size >= 10_000) subjectsByPath.clear();
  subjectsByPath.set(path, subject);
  return subject;
}

/**
 * The headers of a binary-mode event; HeaderInvalidError for a repeated `ce-*` or Content-Type one,
 * which Node would join into "a, b" (ce-*) or keep the first of (Content-Type).
 */
function binaryHeaders(req: IncomingMessage): IncomingMessage['headers'] {
  const repeated = repeatedHeader(req.rawHeaders, BINARY_HEADER);
  if (repeated !== undefined) throw new HeaderInvalidError(`header ${repeated} must appear once`, { details: { header: repeated } });
  return req.headers;
}

function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * The plain JSON event's id from `Idempotency-Key`, read as UTF-8 like the `ce-*` headers: two of
 * them (Node would join them into "a, b") or bytes that are not UTF-8 are a HeaderInvalidError.
 */
function idempotencyKey(req: IncomingMessage): string | undefined {
  if (repeatedHeader(req.rawHeaders, IDEMPOTENCY_HEADER) !== undefined) {
    throw new HeaderInvalidError('header idempotency-key must appear once', { details: { header: 'idempotency-key' } });
  }
  const key = singleHeader(req, 'idempotency-key');
  return key === undefined ? undefined : utf8HeaderValue('idempotency-key', key);
}

/** The rate-limit client of a request that established no principal. */
function addressOf(req: IncomingMessage): string {
  return `addr:${req.socket.remoteAddress ?? ''}`;
}

/**
 * Who a caller is for the rate limit and for answering streamed requests: its principal within
 * its tenant, so the same `sub` issued to two tenants is two clients.
 */
function clientOf(who: AuthResult): string {
  return who.tenant === undefined ? who.principal : `${who.tenant}/${who.principal}`;
}

function positive(field: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new OptionsInvalidError(`${field} must be a positive number`, { details: { field } });
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Hosts a gateway for `bus` at the host and port of `url` (`http://127.0.0.1:8080`; `https://`
 * needs `options.tls`) and resolves once it listens. Used by `signalbus sub http://…` to receive
 * what clients publish there. The caller closes the gateway (`gateway.close()`) and stops the bus.
 *
 * @example
 * const bus = new Bus({ service: 'cli', transport: new MemoryTransport() });
 * const gateway = await hostGateway('http://127.0.0.1:8080', bus);
 * await bus.subscribe('>', (m) => console.log(m));
 */
export async function hostGateway(url: string | URL, bus: Bus, options: Omit<HttpGatewayOptions, 'bus' | 'host' | 'port'> = {}): Promise<HttpGateway> {
  let parsed: URL;
  try { parsed = typeof url === 'string' ? new URL(url) : url; } catch (cause) {
    throw new OptionsInvalidError(`"${String(url)}" is not a URL`, { cause, details: { field: 'url' } });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new OptionsInvalidError('hostGateway needs an http:// or https:// URL', { details: { field: 'url' } });
  if (parsed.protocol === 'https:' && !options.tls) throw new OptionsInvalidError('hostGateway with https:// needs options.tls (key and cert)', { details: { field: 'tls' } });
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  const gateway = new HttpGateway({ ...options, bus, host: parsed.hostname.replace(/^\[|\]$/g, ''), port });
  await gateway.start();
  return gateway;
}
