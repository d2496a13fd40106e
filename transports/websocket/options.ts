/**
 * Options of the client transport, with their defaults in one place, validation that names the
 * offending field, and `webSocketOptionsFromUrl`. (The hub's options live in `hub/options.ts`.)
 * Browser-safe: nothing here imports Node modules.
 */
import { OptionsInvalidError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { numberParam } from '../../core/transport.js';
import {
  presentParam, reconnectOptionsFromUrl, resolveReconnectOptions, tlsOptionsFromUrl, RECONNECT_URL_PARAMS, TLS_URL_PARAMS,
  type ReconnectOptions, type ResolvedReconnectOptions, type TlsOptions,
} from '../../core/transport-options.js';

export interface WebSocketTransportOptions {
  /** The hub: `ws://host:port/path` or `wss://…`. An `access_token` query parameter is passed on (browsers cannot set headers). */
  url: string;
  /** Bearer token, or a function giving a fresh one for each (re)connect. Node: `Authorization` header; browser: `access_token` query. */
  token?: string | (() => string | Promise<string>);
  /** Extra upgrade headers, e.g. `{ 'x-api-key': … }` (Node only; browsers cannot set them). */
  headers?: Record<string, string>;
  /** Publishes and requests the transport holds until the hub acks them (sent or waiting for a connection); beyond it publish rejects with BackpressureError. Default 10,000. */
  maxBufferedPublishes?: number;
  /** Reconnecting after the connection is lost: `initialDelayMs` 100, doubling (jitter 0.5) to `maxDelayMs` 5,000; never gives up while open. */
  reconnect?: ReconnectOptions;
  /** `connect()` gives up after this. Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Node only: ping the hub this often and reconnect when a whole interval passes in silence. 0 = off. Default 15,000 ms. */
  heartbeatMs?: number;
  /** `close()` waits this long for unacked publishes. Default 5,000 ms. */
  closeTimeoutMs?: number;
  /** Largest frame sent (keep at or below the hub's `maxPayloadBytes`). Default 1 MiB. */
  maxMessageBytes?: number;
  /** Node only: TLS for `wss://`, e.g. `{ caFile }` for a hub with a private CA. Files are read when connecting. */
  tls?: TlsOptions;
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
  maxBufferedPublishes: 10_000, connectTimeoutMs: 10_000, heartbeatMs: 15_000, closeTimeoutMs: 5000, maxMessageBytes: 1024 * 1024,
  reconnect: { initialDelayMs: 100, maxDelayMs: 5000, multiplier: 2, jitter: 0.5, maxAttempts: Number.POSITIVE_INFINITY },
} as const;

/** The numeric options with their defaults applied, and `reconnect` resolved. */
export type ResolvedWebSocketSettings = Omit<{ -readonly [K in keyof typeof CLIENT_DEFAULTS]: number }, 'reconnect'> & { reconnect: ResolvedReconnectOptions };

/** Throws OptionsInvalidError naming `field` unless `value` is undefined or a number >= `min` (an integer when asked). */
export function checkNumber(value: unknown, field: string, min: number, integer = true): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new OptionsInvalidError(`${field} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(value)}`, { details: { field } });
  }
}

/**
 * Checks `o` and applies the defaults; the error names the field. The `tls` files are read when
 * connecting (Node only), not here.
 *
 * @example resolveWebSocketOptions({ url: 'ws://127.0.0.1:8080/' }).maxBufferedPublishes // 10000
 */
export function resolveWebSocketOptions(o: WebSocketTransportOptions): ResolvedWebSocketSettings {
  let url: URL;
  try { url = new URL(o.url); } catch (cause) {
    throw new OptionsInvalidError(`url "${String(o.url)}" is not a URL`, { cause, details: { field: 'url' } });
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new OptionsInvalidError('url must be ws:// or wss://', { details: { field: 'url' } });
  checkNumber(o.maxBufferedPublishes, 'maxBufferedPublishes', 1);
  checkNumber(o.connectTimeoutMs, 'connectTimeoutMs', 1);
  checkNumber(o.heartbeatMs, 'heartbeatMs', 0);
  checkNumber(o.closeTimeoutMs, 'closeTimeoutMs', 0);
  checkNumber(o.maxMessageBytes, 'maxMessageBytes', 1);
  if (o.token !== undefined && typeof o.token !== 'string' && typeof o.token !== 'function') {
    throw new OptionsInvalidError('token must be a string or a function', { details: { field: 'token' } });
  }
  if (o.tls !== undefined && (o.tls === null || typeof o.tls !== 'object')) throw new OptionsInvalidError('tls must be an object', { details: { field: 'tls' } });
  return {
    maxBufferedPublishes: o.maxBufferedPublishes ?? CLIENT_DEFAULTS.maxBufferedPublishes,
    connectTimeoutMs: o.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs,
    heartbeatMs: o.heartbeatMs ?? CLIENT_DEFAULTS.heartbeatMs,
    closeTimeoutMs: o.closeTimeoutMs ?? CLIENT_DEFAULTS.closeTimeoutMs,
    maxMessageBytes: o.maxMessageBytes ?? CLIENT_DEFAULTS.maxMessageBytes,
    reconnect: resolveReconnectOptions('websocket', o.reconnect, CLIENT_DEFAULTS.reconnect, false),
  };
}

const NUMBER_PARAMS = ['maxBufferedPublishes', 'connectTimeoutMs', 'heartbeatMs', 'closeTimeoutMs', 'maxMessageBytes'] as const;
/** Older URL spellings the README promised, still read. */
const URL_ALIASES = { maxPendingPublishes: 'maxBufferedPublishes', reconnectDelayMs: 'reconnectInitialDelayMs' } as const;

/**
 * Options from a `ws(s)://` URL: the query parameters that are option names (`maxBufferedPublishes`,
 * `connectTimeoutMs`, `heartbeatMs`, `closeTimeoutMs`, `maxMessageBytes`, the `reconnect*` ones,
 * `caFile`, `rejectUnauthorized`, …) are read and removed; the rest of the URL, `access_token`
 * included, is the hub's address. The older `maxPendingPublishes` and `reconnectDelayMs` are still read.
 *
 * @example webSocketOptionsFromUrl(new URL('ws://127.0.0.1:8080/?maxBufferedPublishes=1000')).maxBufferedPublishes // 1000
 */
export function webSocketOptionsFromUrl(url: URL): WebSocketTransportOptions {
  const options: WebSocketTransportOptions = { url: '' };
  for (const name of NUMBER_PARAMS) {
    const present = presentParam(url, name, Object.keys(URL_ALIASES).filter((a) => URL_ALIASES[a as keyof typeof URL_ALIASES] === name));
    if (present !== undefined) options[name] = numberParam(url, present, 0);
  }
  const reconnect = reconnectOptionsFromUrl(url, { reconnectDelayMs: 'reconnectInitialDelayMs' });
  if (reconnect) options.reconnect = reconnect;
  const tls = tlsOptionsFromUrl(url);
  if (tls) options.tls = tls;
  const hubUrl = new URL(url.href);
  for (const name of [...NUMBER_PARAMS, ...Object.keys(URL_ALIASES), ...RECONNECT_URL_PARAMS, ...TLS_URL_PARAMS]) hubUrl.searchParams.delete(name);
  options.url = hubUrl.href;
  return options;
}
