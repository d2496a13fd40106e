/**
 * Options of the hub (server side) and of the client transport, with their defaults in one
 * place and validation that names the offending field.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Bus } from '../../core/bus.js';
import type { CodecRegistry } from '../../core/codec.js';
import { OptionsInvalidError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Authenticate, AuthenticatorOptions } from '../../auth/authenticator.js';

export interface WebSocketHubOptions {
  /** The bus the hub bridges to; without one the hub is a standalone broker on a private in-memory bus. */
  bus?: Bus;
  /** Port to listen on (0 = any free port). Ignored with `server`. Default 0. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** The URL path clients connect to; upgrades elsewhere get 404. Default `/`. */
  path?: string;
  /** Attach to this existing HTTP(S) server instead of creating one (the hub never closes it). */
  server?: HttpServer | HttpsServer;
  /** Serve WSS with this key and certificate (PEM); ignored with `server`. */
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer };
  /**
   * Authentication at upgrade: options for `createAuthenticator` (JWT / API keys) or a ready
   * `authenticate(headers)` function. Failures answer the upgrade with 401/403. With auth the
   * `tenant` of every event is stamped from the credentials and subjects are tenant-scoped;
   * without it the hub is an internal broker that trusts its clients' headers.
   */
  auth?: AuthenticatorOptions | Authenticate;
  /** Ping interval; a connection that has not answered the previous ping is terminated. Default 30,000 ms. */
  heartbeatMs?: number;
  /** A connection whose unsent bytes exceed this is closed with 4008 (slow consumer). Default 4 MiB. */
  maxBufferedBytes?: number;
  /** Largest frame accepted; larger ones close the connection with 1009. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Deliveries a subscription holds back while its `inflight` window is full before the client is dropped with 4008. Default 10,000. */
  maxQueuedPerSubscription?: number;
  /** Subscriptions one connection may hold. Default 1,000. */
  maxSubscriptionsPerConnection?: number;
  /** Request timeout when a `req` frame names none, and the most it may ask for, ms. Default 5,000 / 60,000. */
  requestTimeoutMs?: number;
  maxRequestTimeoutMs?: number;
  /** Encodes data for bus transports that carry bytes. Default: core's default codecs. */
  codecs?: CodecRegistry;
  logger?: Logger;
}

export const HUB_DEFAULTS = {
  port: 0, host: '127.0.0.1', path: '/', heartbeatMs: 30_000, maxBufferedBytes: 4 * 1024 * 1024, maxPayloadBytes: 1024 * 1024,
  maxQueuedPerSubscription: 10_000, maxSubscriptionsPerConnection: 1000, requestTimeoutMs: 5000, maxRequestTimeoutMs: 60_000,
} as const;

export interface WebSocketTransportOptions {
  /** The hub: `ws://host:port/path` or `wss://…`. An `access_token` query parameter is passed on (browsers cannot set headers). */
  url: string;
  /** Bearer token, or a function giving a fresh one for each (re)connect. Node: `Authorization` header; browser: `access_token` query. */
  token?: string | (() => string | Promise<string>);
  /** Extra upgrade headers, e.g. `{ 'x-api-key': … }` (Node only; browsers cannot set them). */
  headers?: Record<string, string>;
  /** Publishes and requests not yet acked (sent or waiting for a connection); beyond it publish rejects with BackpressureError. Default 10,000. */
  maxPendingPublishes?: number;
  /** First reconnect delay, doubled per failed attempt with jitter up to `reconnectMaxDelayMs`. Default 100 ms. */
  reconnectDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** `connect()` gives up after this. Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Node only: ping the hub this often and reconnect when a whole interval passes in silence. 0 = off. Default 15,000 ms. */
  heartbeatMs?: number;
  /** `close()` waits this long for unacked publishes. Default 5,000 ms. */
  closeTimeoutMs?: number;
  /** Largest frame sent (keep at or below the hub's `maxPayloadBytes`). Default 1 MiB. */
  maxMessageBytes?: number;
  /** Node only: TLS options for `wss://`, e.g. `{ ca }` for a self-signed hub. */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** The WebSocket class; default `ws` in Node, the global `WebSocket` elsewhere. */
  WebSocket?: WebSocketConstructor;
  logger?: Logger;
}

/** The browser WebSocket API, which `ws` also implements. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: Record<string, unknown>) => WebSocketLike;

export const CLIENT_DEFAULTS = {
  maxPendingPublishes: 10_000, reconnectDelayMs: 100, reconnectMaxDelayMs: 5000, connectTimeoutMs: 10_000, heartbeatMs: 15_000,
  closeTimeoutMs: 5000, maxMessageBytes: 1024 * 1024,
} as const;

/** Throws OptionsInvalidError naming `field` unless `value` is undefined or a number >= `min` (an integer when asked). */
export function checkNumber(value: unknown, field: string, min: number, integer = true): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new OptionsInvalidError(`${field} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(value)}`, { details: { field } });
  }
}

export function validateHubOptions(o: WebSocketHubOptions): void {
  checkNumber(o.port, 'port', 0);
  for (const f of ['heartbeatMs', 'maxBufferedBytes', 'maxPayloadBytes', 'maxQueuedPerSubscription', 'maxSubscriptionsPerConnection',
    'requestTimeoutMs', 'maxRequestTimeoutMs'] as const) checkNumber(o[f], f, 1);
  if (o.path !== undefined && (typeof o.path !== 'string' || !o.path.startsWith('/'))) {
    throw new OptionsInvalidError('path must start with "/"', { details: { field: 'path' } });
  }
  if (o.tls !== undefined && (!o.tls.key || !o.tls.cert)) throw new OptionsInvalidError('tls needs key and cert', { details: { field: 'tls' } });
  if (o.auth !== undefined && typeof o.auth !== 'function' && (o.auth === null || typeof o.auth !== 'object')) {
    throw new OptionsInvalidError('auth must be authenticator options or an authenticate function', { details: { field: 'auth' } });
  }
}

export function validateClientOptions(o: WebSocketTransportOptions): void {
  let url: URL;
  try { url = new URL(o.url); } catch (cause) {
    throw new OptionsInvalidError(`url "${String(o.url)}" is not a URL`, { cause, details: { field: 'url' } });
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new OptionsInvalidError('url must be ws:// or wss://', { details: { field: 'url' } });
  checkNumber(o.maxPendingPublishes, 'maxPendingPublishes', 1);
  checkNumber(o.reconnectDelayMs, 'reconnectDelayMs', 1);
  checkNumber(o.reconnectMaxDelayMs, 'reconnectMaxDelayMs', 1);
  checkNumber(o.connectTimeoutMs, 'connectTimeoutMs', 1);
  checkNumber(o.heartbeatMs, 'heartbeatMs', 0);
  checkNumber(o.closeTimeoutMs, 'closeTimeoutMs', 0);
  checkNumber(o.maxMessageBytes, 'maxMessageBytes', 1);
  if (o.token !== undefined && typeof o.token !== 'string' && typeof o.token !== 'function') {
    throw new OptionsInvalidError('token must be a string or a function', { details: { field: 'token' } });
  }
}
