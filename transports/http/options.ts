/**
 * Options of the HTTP client transport: defaults in one place (`resolveHttpOptions`), validation
 * naming the field, and `httpOptionsFromUrl` for `http(s)://` URLs.
 */
import {
  numberParam, OptionsInvalidError, presentParam, reconnectOptionsFromUrl, resolveReconnectOptions, resolveTlsOptions, tlsOptionsFromUrl,
  type ReconnectOptions, type ResolvedReconnectOptions, type ResolvedTlsOptions, type TlsOptions,
} from '../../core/index.js';

/** Options of `HttpTransport`; defaults in `HTTP_DEFAULTS`. */
export interface HttpTransportOptions {
  /** The gateway: `http(s)://host:port`, optionally with a path prefix. */
  url: string;
  /** Bearer token (JWT) sent as `Authorization`. */
  token?: string;
  /** API key sent as `X-Api-Key`. */
  apiKey?: string;
  /** More headers on every request. */
  headers?: Record<string, string>;
  /** POSTs in flight at once (and keep-alive sockets). Default 64. */
  maxConcurrency?: number;
  /** Tries per publish, the first included; retries reuse the event id. Default 4. */
  maxAttempts?: number;
  /** Delay before the first retry, doubling (with jitter) per retry, ms. Default 50. */
  retryDelayMs?: number;
  /** Time a publish POST may take, ms. Default 10,000. */
  timeoutMs?: number;
  /** `binary` (ce-* headers, default) or `structured` (application/cloudevents+json). */
  mode?: 'binary' | 'structured';
  /** The gateway's body limit, bytes (the Bus refuses bigger messages before sending). Default 1 MiB. */
  maxMessageBytes?: number;
  /** Reopening a broken event stream: `initialDelayMs` 200, doubling to `maxDelayMs` 5,000, no jitter; never gives up while subscribed. */
  reconnect?: ReconnectOptions;
  /** HTTPS: trust anchors, client certificate, verification. */
  tls?: TlsOptions;
}

export interface ResolvedHttpOptions {
  url: URL;
  headers: Record<string, string>;
  maxConcurrency: number;
  maxAttempts: number;
  retryDelayMs: number;
  timeoutMs: number;
  mode: 'binary' | 'structured';
  maxMessageBytes: number;
  reconnect: ResolvedReconnectOptions;
  tls?: ResolvedTlsOptions;
}

export const HTTP_DEFAULTS = {
  maxConcurrency: 64, maxAttempts: 4, retryDelayMs: 50, timeoutMs: 10_000, mode: 'binary', maxMessageBytes: 1024 * 1024,
  reconnect: { initialDelayMs: 200, maxDelayMs: 5000, multiplier: 2, jitter: 0, maxAttempts: Number.POSITIVE_INFINITY },
} as const;

/**
 * Applies defaults and rejects bad values with an OptionsInvalidError naming the field.
 * @example resolveHttpOptions({ url: 'http://127.0.0.1:8080', token }).maxConcurrency // 64
 */
export function resolveHttpOptions(options: HttpTransportOptions): ResolvedHttpOptions {
  let url: URL;
  try { url = new URL(options.url); } catch (cause) {
    throw new OptionsInvalidError(`url "${options.url}" is not a URL`, { cause, details: { field: 'url' } });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OptionsInvalidError('url must be http:// or https://', { details: { field: 'url' } });
  if (options.mode !== undefined && options.mode !== 'binary' && options.mode !== 'structured') {
    throw new OptionsInvalidError('mode must be "binary" or "structured"', { details: { field: 'mode' } });
  }
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey;
  const resolved: ResolvedHttpOptions = {
    url, headers,
    maxConcurrency: intOption('maxConcurrency', options.maxConcurrency ?? HTTP_DEFAULTS.maxConcurrency, 1),
    maxAttempts: intOption('maxAttempts', options.maxAttempts ?? HTTP_DEFAULTS.maxAttempts, 1),
    retryDelayMs: numOption('retryDelayMs', options.retryDelayMs ?? HTTP_DEFAULTS.retryDelayMs),
    timeoutMs: numOption('timeoutMs', options.timeoutMs ?? HTTP_DEFAULTS.timeoutMs),
    mode: options.mode ?? HTTP_DEFAULTS.mode,
    maxMessageBytes: intOption('maxMessageBytes', options.maxMessageBytes ?? HTTP_DEFAULTS.maxMessageBytes, 1),
    reconnect: resolveReconnectOptions('http', options.reconnect, HTTP_DEFAULTS.reconnect, false),
  };
  if (options.tls !== undefined) resolved.tls = resolveTlsOptions('http', options.tls);
  return resolved;
}

/**
 * Options from a `http(s)://` URL: `http://127.0.0.1:8080?token=…&maxConcurrency=64&mode=binary`.
 * Query parameters are the option names: `token`, `apiKey`, `maxConcurrency` (the older
 * `concurrency` is still read), `maxAttempts`, `timeoutMs`, `mode`, the `reconnect*` ones and,
 * for `https://`, `caFile`, `certFile`, `keyFile`, `rejectUnauthorized`, `servername`.
 *
 * @example httpOptionsFromUrl(new URL('http://127.0.0.1:8080?mode=structured')).mode // 'structured'
 */
export function httpOptionsFromUrl(url: URL): HttpTransportOptions {
  const p = url.searchParams;
  const mode = p.get('mode') ?? undefined;
  if (mode !== undefined && mode !== 'binary' && mode !== 'structured') {
    throw new OptionsInvalidError('URL parameter "mode" must be binary or structured', { details: { field: 'mode' } });
  }
  const base = new URL(url.href);
  base.search = '';
  base.hash = '';
  const concurrency = presentParam(url, 'maxConcurrency', ['concurrency']);
  const options: HttpTransportOptions = {
    url: base.href,
    maxConcurrency: concurrency === undefined ? HTTP_DEFAULTS.maxConcurrency : numberParam(url, concurrency, HTTP_DEFAULTS.maxConcurrency),
    maxAttempts: numberParam(url, 'maxAttempts', HTTP_DEFAULTS.maxAttempts),
    timeoutMs: numberParam(url, 'timeoutMs', HTTP_DEFAULTS.timeoutMs),
  };
  if (p.get('token') !== null) options.token = p.get('token')!;
  if (p.get('apiKey') !== null) options.apiKey = p.get('apiKey')!;
  if (mode !== undefined) options.mode = mode;
  const reconnect = reconnectOptionsFromUrl(url);
  if (reconnect) options.reconnect = reconnect;
  const tls = tlsOptionsFromUrl(url);
  if (tls) options.tls = tls;
  return options;
}

function intOption(field: string, value: number, min: number): number {
  if (!(Number.isInteger(value) && value >= min)) throw new OptionsInvalidError(`${field} must be an integer >= ${min}`, { details: { field } });
  return value;
}

function numOption(field: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new OptionsInvalidError(`${field} must be a number >= 0`, { details: { field } });
  return value;
}
