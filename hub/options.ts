/**
 * Options of the WebSocket hub, with their defaults in one place and validation that names the
 * offending field.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { OptionsInvalidError, type Bus, type CodecRegistry, type Logger, type TlsOptions } from '../core/index.js';
import type { Authenticate, AuthenticatorOptions } from '../auth/authenticator.js';
import { checkNumber } from '../transports/websocket/options.js';

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
  /** Serve WSS with this certificate and key (`cert`/`key` or `certFile`/`keyFile`, PEM); ignored with `server`. */
  tls?: TlsOptions;
  /**
   * Authentication at upgrade: options for `createAuthenticator` (JWT / API keys) or a ready
   * `authenticate(headers)` function. Failures answer the upgrade with 401/403. With auth the
   * `tenant` of every event is stamped from the credentials, subjects are tenant-scoped and a
   * tenant's subscriptions deliver only events whose `tenant` is its own;
   * without it the hub is an internal broker that trusts its clients' headers.
   */
  auth?: AuthenticatorOptions | Authenticate;
  /** Ping interval; a connection that has not answered the previous ping is terminated. Default 30,000 ms. */
  heartbeatMs?: number;
  /**
   * Bytes one connection may hold: the delivery frames its subscriptions hold back behind full
   * `inflight` windows (all of them together) plus the socket's unsent bytes. A connection that
   * would go over is closed with 4008 (slow consumer). Default 8 MiB.
   */
  maxBufferedBytes?: number;
  /** Largest frame accepted; larger ones close the connection with 1009. Default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * Deliveries one subscription holds back while its `inflight` window is full; one more closes the
   * connection with 4008 (slow consumer). Never a wait: publishers and other subscribers go on. Default 10,000.
   */
  maxQueuedPerSubscription?: number;
  /** Subscriptions one connection may hold; a `sub` frame over it is refused with `SB_ERR_HUB_SUBSCRIPTION_LIMIT`. Default 100. */
  maxSubscriptionsPerConnection?: number;
  /** Request timeout when a `req` frame names none, and the most it may ask for, ms. Default 5,000 / 60,000. */
  requestTimeoutMs?: number;
  maxRequestTimeoutMs?: number;
  /** Encodes data for bus transports that carry bytes. Default: core's default codecs. */
  codecs?: CodecRegistry;
  logger?: Logger;
}

export const HUB_DEFAULTS = {
  port: 0, host: '127.0.0.1', path: '/', heartbeatMs: 30_000, maxBufferedBytes: 8 * 1024 * 1024, maxPayloadBytes: 1024 * 1024,
  maxQueuedPerSubscription: 10_000, maxSubscriptionsPerConnection: 100, requestTimeoutMs: 5000, maxRequestTimeoutMs: 60_000,
} as const;

export function validateHubOptions(o: WebSocketHubOptions): void {
  checkNumber(o.port, 'port', 0);
  for (const f of ['heartbeatMs', 'maxBufferedBytes', 'maxPayloadBytes', 'maxQueuedPerSubscription', 'maxSubscriptionsPerConnection',
    'requestTimeoutMs', 'maxRequestTimeoutMs'] as const) checkNumber(o[f], f, 1);
  if (o.path !== undefined && (typeof o.path !== 'string' || !o.path.startsWith('/'))) {
    throw new OptionsInvalidError('path must start with "/"', { details: { field: 'path' } });
  }
  if (o.auth !== undefined && typeof o.auth !== 'function' && (o.auth === null || typeof o.auth !== 'object')) {
    throw new OptionsInvalidError('auth must be authenticator options or an authenticate function', { details: { field: 'auth' } });
  }
}
