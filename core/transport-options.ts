/// <reference types="node" preserve="true" />
/**
 * The option vocabulary every transport shares, so one idea has one name everywhere:
 *
 * - `reconnect: { initialDelayMs, maxDelayMs, multiplier, jitter, maxAttempts }`: how a lost
 *   connection is retried (exponential backoff with jitter). Each transport keeps its own
 *   defaults; `reconnectDelayMs` computes the delay of an attempt the same way for all of them.
 * - `tls: { ca, cert, key, caFile, certFile, keyFile, rejectUnauthorized, servername }`: PEM
 *   contents or the files holding them, whether to verify the peer, and the name to verify.
 * - `maxBufferedPublishes`: publishes a transport holds itself (while disconnected, or until the
 *   peer acknowledges them) before `publish` rejects with BackpressureError. Not the Bus'
 *   `maxPendingPublishes`, which bounds publishes waiting for the transport.
 *
 * The TLS files are read by `resolveTlsOptions` (`core/tls-options.ts`, Node only); this module
 * has no Node imports, so the WebSocket client can use it in a browser.
 *
 * URL query parameters use the same names, flattened: `reconnectInitialDelayMs`,
 * `reconnectMaxDelayMs`, `reconnectMultiplier`, `reconnectJitter`, `reconnectMaxAttempts`, `caFile`,
 * `certFile`, `keyFile`, `rejectUnauthorized`, `servername`, `maxBufferedPublishes`.
 */
import { OptionsInvalidError } from './errors.js';
import { booleanParam, numberParam } from './transport.js';

// ------------------------------------------------------------------ reconnect

/** How a transport reconnects after losing its connection: exponential backoff with jitter. */
export interface ReconnectOptions {
  /** Delay before the first reconnect attempt, ms. */
  initialDelayMs?: number;
  /** Upper bound of any delay, ms. */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt. Default 2. */
  multiplier?: number;
  /** 0..1: share of each delay drawn at random, so many clients do not reconnect in step. */
  jitter?: number;
  /** Attempts before the transport gives up for good (0: it does not reconnect at all); `Infinity` (the default) never gives up. */
  maxAttempts?: number;
}

export type ResolvedReconnectOptions = Required<ReconnectOptions>;

/**
 * `given` over `defaults`, checked; errors name the field (`reconnect.maxDelayMs`). A transport
 * that cannot give up (it reconnects for as long as it lives) passes `canGiveUp: false`, and a
 * finite `maxAttempts` is then refused rather than ignored.
 *
 * @example resolveReconnectOptions('mqtt', { maxDelayMs: 2000 }, { initialDelayMs: 250, maxDelayMs: 10_000, multiplier: 2, jitter: 0.2, maxAttempts: Infinity })
 */
export function resolveReconnectOptions(area: string, given: ReconnectOptions | undefined, defaults: ResolvedReconnectOptions,
  canGiveUp = true): ResolvedReconnectOptions {
  if (given !== undefined && (given === null || typeof given !== 'object')) optionInvalid(area, 'reconnect', 'must be an object');
  const r = { ...defaults };
  for (const key of Object.keys(given ?? {}) as Array<keyof ReconnectOptions>) {
    const value = given![key];
    if (!(key in defaults)) optionInvalid(area, `reconnect.${key}`, 'is not a reconnect option (initialDelayMs, maxDelayMs, multiplier, jitter, maxAttempts)');
    if (value !== undefined) r[key] = value;
  }
  if (!(typeof r.initialDelayMs === 'number' && r.initialDelayMs >= 0 && Number.isFinite(r.initialDelayMs))) optionInvalid(area, 'reconnect.initialDelayMs', `must be a number >= 0, got ${String(r.initialDelayMs)}`);
  if (!(typeof r.maxDelayMs === 'number' && Number.isFinite(r.maxDelayMs) && r.maxDelayMs >= r.initialDelayMs)) optionInvalid(area, 'reconnect.maxDelayMs', `must be a number >= reconnect.initialDelayMs, got ${String(r.maxDelayMs)}`);
  if (!(typeof r.multiplier === 'number' && r.multiplier >= 1 && Number.isFinite(r.multiplier))) optionInvalid(area, 'reconnect.multiplier', `must be a number >= 1, got ${String(r.multiplier)}`);
  if (!(typeof r.jitter === 'number' && r.jitter >= 0 && r.jitter <= 1)) optionInvalid(area, 'reconnect.jitter', `must be between 0 and 1, got ${String(r.jitter)}`);
  if (!(typeof r.maxAttempts === 'number' && r.maxAttempts >= 0 && (Number.isInteger(r.maxAttempts) || r.maxAttempts === Number.POSITIVE_INFINITY))) {
    optionInvalid(area, 'reconnect.maxAttempts', `must be an integer >= 0 or Infinity, got ${String(r.maxAttempts)}`);
  }
  if (!canGiveUp && r.maxAttempts !== Number.POSITIVE_INFINITY) optionInvalid(area, 'reconnect.maxAttempts', 'is not supported: this transport reconnects for as long as it is open');
  return r;
}

/**
 * The delay before reconnect attempt `attempt` (1 = the first): `initialDelayMs * multiplier^(attempt-1)`,
 * capped at `maxDelayMs`, of which the share `jitter` is drawn at random (so the delay lies in
 * `[base * (1 - jitter), base]`).
 *
 * @example reconnectDelayMs({ initialDelayMs: 100, maxDelayMs: 5000, multiplier: 2, jitter: 0, maxAttempts: Infinity }, 3) // 400
 */
export function reconnectDelayMs(r: ResolvedReconnectOptions, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(r.maxDelayMs, r.initialDelayMs * r.multiplier ** Math.min(Math.max(attempt - 1, 0), 64));
  return Math.round(base * (1 - r.jitter) + base * r.jitter * random());
}

const RECONNECT_PARAMS = {
  reconnectInitialDelayMs: 'initialDelayMs', reconnectMaxDelayMs: 'maxDelayMs', reconnectMultiplier: 'multiplier',
  reconnectJitter: 'jitter', reconnectMaxAttempts: 'maxAttempts',
} as const;

/** The URL parameters `reconnectOptionsFromUrl` reads. */
export const RECONNECT_URL_PARAMS: readonly string[] = Object.keys(RECONNECT_PARAMS);

/**
 * `reconnect` from URL parameters (`?reconnectInitialDelayMs=100&reconnectMaxDelayMs=5000`), or
 * undefined when the URL sets none. `aliases` maps older parameter names a transport still accepts
 * to the current ones.
 *
 * @example reconnectOptionsFromUrl(new URL('nats://h?reconnectMaxDelayMs=2000')) // { maxDelayMs: 2000 }
 */
export function reconnectOptionsFromUrl(url: URL, aliases: Record<string, keyof typeof RECONNECT_PARAMS> = {}): ReconnectOptions | undefined {
  const out: ReconnectOptions = {};
  for (const [param, field] of Object.entries(RECONNECT_PARAMS)) {
    const name = presentParam(url, param, Object.keys(aliases).filter((a) => aliases[a] === param));
    if (name !== undefined) out[field] = numberParam(url, name, 0);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

// ------------------------------------------------------------------ tls

/**
 * TLS settings. PEM material is given as contents (`ca`, `cert`, `key`) or as the files holding it
 * (`caFile`, `certFile`, `keyFile`), not both for the same item. The peer's certificate is
 * verified (against the system CAs, or `ca`), including that it names the host, unless
 * `rejectUnauthorized` is false (tests only). On a server (the gateway, the hub) `cert` and `key`
 * are its own certificate and key and are required.
 */
export interface TlsOptions {
  /** CA certificate(s) (PEM) to verify the peer with, instead of the system CAs. */
  ca?: string | Buffer;
  /** The CA certificate(s) as a PEM file path. Not together with `ca`. */
  caFile?: string;
  /** Certificate (PEM): the client's for mutual TLS, or the server's own. Needs `key`/`keyFile`. */
  cert?: string | Buffer;
  /** The certificate as a PEM file path. Not together with `cert`. */
  certFile?: string;
  /** Private key (PEM, unencrypted) of `cert`. Needs `cert`/`certFile`. */
  key?: string | Buffer;
  /** The private key as a PEM file path. Not together with `key`. */
  keyFile?: string;
  /** Verify the peer's certificate (chain and name). Default true. */
  rejectUnauthorized?: boolean;
  /** Name to send (SNI) and verify the server certificate against, when not the URL's host. */
  servername?: string;
}

const TLS_FILE_PARAMS = ['caFile', 'certFile', 'keyFile'] as const;

/** The URL parameters `tlsOptionsFromUrl` reads. */
export const TLS_URL_PARAMS: readonly string[] = [...TLS_FILE_PARAMS, 'rejectUnauthorized', 'servername'];

/**
 * `tls` from URL parameters (`?caFile=/etc/ssl/ca.pem&certFile=…&keyFile=…&rejectUnauthorized=false&servername=…`),
 * or undefined when the URL sets none. `aliases` maps older parameter names a transport still
 * accepts to the current ones (MQTT's `ca=` for `caFile=`).
 *
 * @example tlsOptionsFromUrl(new URL('amqps://h?caFile=/ca.pem')) // { caFile: '/ca.pem' }
 */
export function tlsOptionsFromUrl(url: URL, aliases: Record<string, string> = {}): TlsOptions | undefined {
  const out: TlsOptions = {};
  const aliasesOf = (param: string) => Object.keys(aliases).filter((a) => aliases[a] === param);
  for (const param of TLS_FILE_PARAMS) {
    const name = presentParam(url, param, aliasesOf(param));
    if (name !== undefined) out[param] = url.searchParams.get(name)!;
  }
  const verify = presentParam(url, 'rejectUnauthorized', aliasesOf('rejectUnauthorized'));
  if (verify !== undefined) out.rejectUnauthorized = booleanParam(url, verify, true);
  const servername = url.searchParams.get('servername');
  if (servername) out.servername = servername;
  return Object.keys(out).length > 0 ? out : undefined;
}

// ------------------------------------------------------------------ helpers

/**
 * The name under which a URL carries a parameter: `name` itself, else the first of its older
 * spellings (`aliases`) present; undefined when none is.
 *
 * @example presentParam(new URL('ws://h?maxPendingPublishes=5'), 'maxBufferedPublishes', ['maxPendingPublishes']) // 'maxPendingPublishes'
 */
export function presentParam(url: URL, name: string, aliases: readonly string[] = []): string | undefined {
  if (url.searchParams.has(name)) return name;
  return aliases.find((a) => url.searchParams.has(a));
}

/** Throws OptionsInvalidError for `<area> option "<field>" <rule>`, naming the field in `details`. */
export function optionInvalid(area: string, field: string, rule: string): never {
  throw new OptionsInvalidError(`${area} option "${field}" ${rule}`, { details: { field } });
}
