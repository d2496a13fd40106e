/**
 * Options of the client transport, with their defaults in one place and validation that names
 * the offending field. (The hub's options live in `hub/options.ts`.)
 */
import { OptionsInvalidError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

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
