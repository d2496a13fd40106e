/**
 * The hub: a WebSocket server that routes structured CloudEvents between its clients and a Bus.
 * Every client publish goes to the bus (`publishEnvelope`); every client subscription is a
 * subscription on the bus' transport for that pattern. Standalone, the hub is a broker on a
 * private in-memory bus, so client-to-client routing takes the same path.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  Bus, createLogger, defaultCodecs, errorCode, errorMessage, OptionsInvalidError, resolveTlsOptions,
} from '../core/index.js';
import { MemoryBroker } from '../transports/memory/broker.js';
import { MemoryTransport } from '../transports/memory/memory-transport.js';
import { AuthUnauthorizedError, createAuthenticator, refuseRepeatedCredentials, type Authenticate } from '../auth/authenticator.js';
import { SUBPROTOCOL } from '../transports/websocket/binding.js';
import { HubConnection, type HubSettings } from './hub-connection.js';
import { HUB_DEFAULTS, validateHubOptions, type WebSocketHubOptions } from './options.js';

export type { WebSocketHubOptions } from './options.js';

/** One connection as `WebSocketHub.connectionStats()` reports it. */
export interface HubConnectionStats {
  /** Who it authenticated as (undefined without auth). */
  principal: string | undefined;
  subscriptions: number;
  /** Deliveries sent and not yet acked or replied to. */
  unacked: number;
  /** Delivery frames held back behind full `inflight` windows plus the socket's unsent bytes (bounded by `maxBufferedBytes`). */
  bufferedBytes: number;
  /** The most `bufferedBytes` has been. */
  peakBufferedBytes: number;
}

/**
 * A WebSocket hub speaking subprotocol `cloudevents.json` (frames and close codes: README.md).
 *
 * @example
 * const hub = new WebSocketHub({ bus, port: 8080, auth: { jwt: { secret } } });
 * await hub.listen();            // ws://127.0.0.1:8080/
 * // … later
 * await hub.close();
 */
export class WebSocketHub {
  readonly bus: Bus;
  private readonly settings: HubSettings;
  private readonly ownsBus: boolean;
  private readonly server: HttpServer | HttpsServer;
  private readonly ownsServer: boolean;
  private readonly wss: WebSocketServer;
  private readonly authenticate?: Authenticate;
  private readonly connections = new Set<HubConnection>();
  private readonly path: string;
  private readonly upgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head);
  private heartbeat?: NodeJS.Timeout;
  private listening?: Promise<void>;
  private closing?: Promise<void>;

  constructor(private readonly options: WebSocketHubOptions = {}) {
    validateHubOptions(options);
    const logger = (options.logger ?? createLogger()).child({ component: 'websocket-hub' });
    this.ownsBus = options.bus === undefined;
    this.bus = options.bus ?? new Bus({
      service: 'websocket-hub', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger,
    });
    this.authenticate = typeof options.auth === 'function' ? options.auth : options.auth ? createAuthenticator(options.auth) : undefined;
    this.settings = {
      bus: this.bus, codecs: options.codecs ?? defaultCodecs, logger, authenticated: this.authenticate !== undefined,
      maxBufferedBytes: options.maxBufferedBytes ?? HUB_DEFAULTS.maxBufferedBytes,
      maxQueuedPerSubscription: options.maxQueuedPerSubscription ?? HUB_DEFAULTS.maxQueuedPerSubscription,
      maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection ?? HUB_DEFAULTS.maxSubscriptionsPerConnection,
      requestTimeoutMs: options.requestTimeoutMs ?? HUB_DEFAULTS.requestTimeoutMs,
      maxRequestTimeoutMs: options.maxRequestTimeoutMs ?? HUB_DEFAULTS.maxRequestTimeoutMs,
      relay: {},
    };
    this.path = options.path ?? HUB_DEFAULTS.path;
    this.wss = new WebSocketServer({
      noServer: true, clientTracking: false, perMessageDeflate: false,
      maxPayload: options.maxPayloadBytes ?? HUB_DEFAULTS.maxPayloadBytes,
      // A client that offers subprotocols must offer ours; one that offers none is accepted.
      handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.ownsServer = options.server === undefined;
    const tls = options.tls === undefined || options.server ? undefined : resolveTlsOptions('hub', options.tls, { server: true });
    this.server = options.server ?? (tls ? createHttpsServer({ key: tls.key, cert: tls.cert, ca: tls.ca }) : createServer());
    if (this.ownsServer) {
      this.server.on('request', (_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end(`WebSocket hub: connect with subprotocol ${SUBPROTOCOL}\n`);
      });
    }
  }

  /** Starts the bus and listens (on its own server) or attaches (to `options.server`). Idempotent. */
  listen(): Promise<void> {
    this.listening ??= (async () => {
      await this.bus.start();
      this.server.on('upgrade', this.upgradeListener);
      if (this.ownsServer) {
        await new Promise<void>((resolve, reject) => {
          this.server.once('error', reject);
          this.server.listen(this.options.port ?? HUB_DEFAULTS.port, this.options.host ?? HUB_DEFAULTS.host, () => {
            this.server.off('error', reject);
            resolve();
          });
        });
      }
      const every = this.options.heartbeatMs ?? HUB_DEFAULTS.heartbeatMs;
      this.heartbeat = setInterval(() => { for (const c of this.connections) c.heartbeat(); }, every);
      this.heartbeat.unref();
    })();
    return this.listening;
  }

  /** The address the server listens on. */
  get address(): AddressInfo {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new OptionsInvalidError('the hub is not listening on a TCP port yet', { details: { field: 'port' } });
    return a;
  }

  /** `ws://host:port/path` (or `wss://`) clients connect to. */
  get url(): string {
    const { address, port, family } = this.address;
    const host = family === 'IPv6' ? `[${address}]` : address;
    const secure = this.options.tls !== undefined || 'setSecureContext' in this.server;
    return `${secure ? 'wss' : 'ws'}://${host}:${port}${this.path}`;
  }

  /** Connections currently served (a dropped one no longer counts while its close handshake finishes). */
  get connectionCount(): number {
    let n = 0;
    for (const c of this.connections) if (!c.closed) n++;
    return n;
  }

  /**
   * What each connection served holds against its bounds, for monitoring: `bufferedBytes` (held
   * back plus unsent) and its peak, both against `maxBufferedBytes`.
   *
   * @example for (const c of hub.connectionStats()) if (c.bufferedBytes > 1 << 20) log(c.principal);
   */
  connectionStats(): HubConnectionStats[] {
    const stats: HubConnectionStats[] = [];
    for (const c of this.connections) {
      if (c.closed) continue;
      stats.push({
        principal: c.who?.principal, subscriptions: c.subs.size, unacked: c.deliveries.size,
        bufferedBytes: c.bufferedBytes, peakBufferedBytes: c.peakBufferedBytes,
      });
    }
    return stats;
  }

  /** Closes every connection with 1001, stops listening (own server only) and stops the private bus. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.server.off('upgrade', this.upgradeListener);
      const closed = [...this.connections].map((c) => c.shutdown());
      await Promise.all(closed);
      this.connections.clear();
      if (this.ownsServer && this.server.listening) {
        await new Promise<void>((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections(); });
      }
      if (this.ownsBus) await this.bus.stop();
    })();
    return this.closing;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.settings.logger.debug('upgrade socket error', { err }));
    // A request target like `//` or `//[` is no URL relative to any base. Refuse it: a throw
    // from an 'upgrade' listener would end the process.
    let url: URL;
    try { url = new URL(req.url ?? '/', 'http://hub'); } catch {
      return rejectUpgrade(socket, 404, 'SB_ERR_HTTP_NOT_FOUND', `no WebSocket hub at ${JSON.stringify(req.url)}`);
    }
    if (url.pathname !== this.path) return rejectUpgrade(socket, 404, 'SB_ERR_HTTP_NOT_FOUND', `no WebSocket hub at ${url.pathname}`);
    if (this.closing) return rejectUpgrade(socket, 503, 'SB_ERR_TRANSPORT_CLOSED', 'the hub is shutting down');
    if (!this.authenticate) {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, undefined));
      return;
    }
    // Browsers cannot set headers on a WebSocket: they pass the bearer token as ?access_token=.
    // One credential or none: with two (repeated headers, repeated tokens, or a header and a token)
    // which one counts would be a guess.
    const tokens = url.searchParams.getAll('access_token');
    try {
      refuseRepeatedCredentials(req.rawHeaders);
      if (tokens.length > 1 || (tokens.length === 1 && req.headers.authorization !== undefined)) {
        throw new AuthUnauthorizedError('send one credential: an Authorization header or one access_token', { details: { header: 'access_token' } });
      }
    } catch (err) {
      return rejectUpgrade(socket, 401, errorCode(err), errorMessage(err));
    }
    const token = tokens[0];
    const headers: IncomingHttpHeaders = token ? { ...req.headers, authorization: `Bearer ${token}` } : req.headers;
    this.authenticate(headers).then((who) => {
      if (socket.destroyed) return;
      if (this.closing) return rejectUpgrade(socket, 503, 'SB_ERR_TRANSPORT_CLOSED', 'the hub is shutting down');
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, who));
    }, (err: unknown) => {
      const status = (err as { status?: unknown }).status;
      rejectUpgrade(socket, typeof status === 'number' ? status : 401, errorCode(err), errorMessage(err));
    });
  }

  private accept(ws: WebSocket, who: Awaited<ReturnType<Authenticate>> | undefined): void {
    const conn = new HubConnection(this.settings, ws, who);
    this.connections.add(conn);
    ws.on('message', (data: RawData, isBinary: boolean) => conn.onFrame(data, isBinary));
    ws.on('pong', () => { conn.alive = true; });
    ws.on('close', () => { this.connections.delete(conn); conn.cleanup(); });
    ws.on('error', (err) => this.settings.logger.debug('connection error', { err }));
  }
}

/** Answers a refused upgrade with a status and an RFC 9457 problem body, then closes the socket. */
function rejectUpgrade(socket: Duplex, status: number, code: string, detail: string): void {
  if (socket.destroyed) return;
  const title = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Service Unavailable';
  const body = JSON.stringify({ type: 'about:blank', title, status, detail, code });
  socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
    + `${status === 401 ? 'WWW-Authenticate: Bearer\r\n' : ''}Connection: close\r\n\r\n${body}`);
}

/**
 * Hosts a hub at a `ws://host:port/path` (or `wss://`, with `options.tls`) URL, bridged to `bus`
 * (standalone without one). Used by `signalbus sub ws://127.0.0.1:PORT <pattern>`.
 *
 * @example
 * const hub = await hostHub('ws://127.0.0.1:8080/', bus);
 * await bus.subscribe('sensor.>', print);   // events clients publish to the hub arrive here
 */
export async function hostHub(url: string | URL, bus?: Bus, options: Omit<WebSocketHubOptions, 'bus' | 'host' | 'port' | 'path'> = {}): Promise<WebSocketHub> {
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new OptionsInvalidError(`hostHub needs a ws:// or wss:// URL, got ${u.href}`, { details: { field: 'url' } });
  if (u.protocol === 'wss:' && !options.tls && !options.server) throw new OptionsInvalidError('a wss:// hub needs options.tls (key and cert)', { details: { field: 'tls' } });
  const hub = new WebSocketHub({
    ...options, bus, host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? (u.protocol === 'wss:' ? 443 : 80) : Number(u.port),
    path: u.pathname || '/',
  });
  await hub.listen();
  return hub;
}
