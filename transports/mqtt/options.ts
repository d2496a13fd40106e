import { randomUUID } from 'node:crypto';
import {
  booleanParam, numberParam, OptionsInvalidError, presentParam, reconnectOptionsFromUrl, resolveReconnectOptions, resolveTlsOptions,
  tlsOptionsFromUrl, type ReconnectOptions, type ResolvedReconnectOptions, type ResolvedTlsOptions, type TlsOptions,
} from '../../core/index.js';

export type MqttQos = 0 | 1 | 2;

/** Options of an MQTT transport. Every field but `url` has a default; see `resolveMqttOptions`. */
export interface MqttTransportOptions {
  /** Broker URL: `mqtt://host:port` or `mqtts://host:port` (TLS). Credentials in the URL are used. */
  url: string;
  /** 5 (default): binary mode with user properties. 4: MQTT 3.1.1, structured mode (whole event as JSON). */
  protocolVersion?: 4 | 5;
  /** QoS of publishes and subscriptions. 0 (default): at most once. 1: at least once. 2: exactly once to the broker. */
  qos?: MqttQos;
  /** Stable client id. Default: `sb-<random>`. With `clean: false` it names the persistent sessions. */
  clientId?: string;
  /**
   * `true` (default): sessions end with the connection. `false`: persistent sessions (needs `clientId`
   * and `qos` >= 1) so messages published while a subscriber is away are kept by the broker.
   */
  clean?: boolean;
  /** MQTT 5 session expiry of persistent sessions, seconds. Default 86,400 (one day). */
  sessionExpirySeconds?: number;
  /** The broker supports `$share/<group>/<topic>` (Mosquitto, EMQX, HiveMQ do; aedes does not). Default true. */
  sharedSubscriptions?: boolean;
  /** User name sent in CONNECT. Default: the URL's user part. */
  username?: string;
  /** Password sent in CONNECT. Default: the URL's password part (percent-decoded). MQTT 3.1.1 needs a username with it. */
  password?: string;
  /**
   * TLS for `mqtts:` (PEM material only there; files are read at construction): `ca`/`caFile` to
   * verify the broker with instead of the system CAs, `cert`+`key` (or their files) for mutual TLS,
   * `rejectUnauthorized: false` to skip verifying the broker (tests only).
   */
  tls?: TlsOptions;
  /** Keepalive interval, seconds. Default 30. */
  keepaliveSeconds?: number;
  /** How long `connect()` waits for the broker, ms. Default 10,000. */
  connectTimeoutMs?: number;
  /** Reconnecting: `initialDelayMs` 250, doubling (jitter 0.2) to `maxDelayMs` 10,000; never gives up while open. */
  reconnect?: ReconnectOptions;
  /** Publishes held while disconnected before `publish` rejects with BackpressureError. Default 10,000. */
  maxBufferedPublishes?: number;
  /** Largest message accepted, bytes. Default 268,435,455 (the MQTT maximum), lowered by the broker's Maximum Packet Size. */
  maxMessageBytes?: number;
}

/** Options with defaults applied and checked. */
export interface ResolvedMqttOptions extends Required<Omit<MqttTransportOptions, 'username' | 'password' | 'tls' | 'reconnect'>> {
  username?: string;
  password?: string;
  /** The TLS settings with files read; `rejectUnauthorized` true unless turned off. */
  tls: ResolvedTlsOptions;
  reconnect: ResolvedReconnectOptions;
  /** The persistent-session mode is on (clean false, QoS >= 1, stable client id). */
  durable: boolean;
}

export const MQTT_MAX_PACKET = 268_435_455;

const DEFAULTS = {
  protocolVersion: 5, qos: 0, clean: true, sessionExpirySeconds: 86_400, sharedSubscriptions: true,
  keepaliveSeconds: 30, connectTimeoutMs: 10_000, maxBufferedPublishes: 10_000, maxMessageBytes: MQTT_MAX_PACKET,
} as const;

const RECONNECT_DEFAULTS: ResolvedReconnectOptions = { initialDelayMs: 250, maxDelayMs: 10_000, multiplier: 2, jitter: 0.2, maxAttempts: Number.POSITIVE_INFINITY };

const invalid = (field: string, problem: string) => new OptionsInvalidError(`mqtt option "${field}" ${problem}`, { details: { field } });

function positive(field: string, v: number, integer = true): void {
  if (!(Number.isFinite(v) && v > 0 && (!integer || Number.isInteger(v)))) throw invalid(field, `must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
}

/**
 * Applies defaults and rejects bad values and combinations with an error naming the field.
 * @example resolveMqttOptions({ url: 'mqtt://127.0.0.1:1883', qos: 1, clientId: 'ingest-1', clean: false })
 */
export function resolveMqttOptions(options: MqttTransportOptions): ResolvedMqttOptions {
  let url: URL;
  try { url = new URL(options.url); } catch (cause) { throw new OptionsInvalidError(`mqtt option "url" is not a URL: ${options.url}`, { cause, details: { field: 'url' } }); }
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') throw invalid('url', `must use mqtt: or mqtts:, got ${url.protocol}`);
  // The query is read by transportFromUrl (mqttOptionsFromUrl), never here: `?qos=1` on this url
  // would be ignored, and a publisher that asked for QoS 1 would silently get QoS 0.
  if (url.search !== '') throw invalid('url', `carries a query (${url.search}): pass these as options, or use transportFromUrl(url), which reads them`);
  const o = { ...DEFAULTS, ...stripUndefined(options) };
  if (o.protocolVersion !== 4 && o.protocolVersion !== 5) throw invalid('protocolVersion', `must be 4 (3.1.1) or 5, got ${String(o.protocolVersion)}`);
  if (o.qos !== 0 && o.qos !== 1 && o.qos !== 2) throw invalid('qos', `must be 0, 1 or 2, got ${String(o.qos)}`);
  for (const f of ['sessionExpirySeconds', 'keepaliveSeconds', 'connectTimeoutMs', 'maxBufferedPublishes', 'maxMessageBytes'] as const) positive(f, o[f]);
  if (o.sessionExpirySeconds > 0xffffffff) throw invalid('sessionExpirySeconds', 'must fit in 32 bits');
  const reconnect = resolveReconnectOptions('mqtt', options.reconnect, RECONNECT_DEFAULTS, false);
  if (o.maxMessageBytes > MQTT_MAX_PACKET) throw invalid('maxMessageBytes', `must be at most ${MQTT_MAX_PACKET}`);
  if (o.clientId !== undefined && (o.clientId.length === 0 || /[+#/\s]/.test(o.clientId))) throw invalid('clientId', 'must be non-empty without "+", "#", "/" or whitespace');
  if (!o.clean) {
    if (o.clientId === undefined) throw invalid('clientId', 'is required with clean=false: a persistent session is found again by its client id');
    if (o.qos === 0) throw invalid('qos', 'must be 1 or 2 with clean=false: brokers do not keep QoS 0 messages for absent subscribers');
  }
  const username = options.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password = options.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
  if (password !== undefined && username === undefined && o.protocolVersion === 4) throw invalid('username', 'is required with a password on MQTT 3.1.1');
  const { tls: _tls, ...settings } = o;
  return {
    ...settings, tls: resolveTls(options.tls, url), reconnect, url: options.url, clientId: o.clientId ?? `sb-${randomUUID().slice(0, 12)}`, durable: !o.clean,
    ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}),
  } as ResolvedMqttOptions;
}

/** `tls` checked and its files read; PEM material is refused over `mqtt:`, where it would be ignored. */
function resolveTls(tls: TlsOptions | undefined, url: URL): ResolvedTlsOptions {
  if (tls === undefined) return { rejectUnauthorized: true };
  const out = resolveTlsOptions('mqtt', tls);
  // Over mqtt:// these would be ignored and the connection would run in clear text.
  const given = (['ca', 'cert', 'key'] as const).find((n) => out[n] !== undefined);
  if (given && url.protocol !== 'mqtts:') throw invalid(`tls.${given}`, `needs an mqtts: URL (TLS), got ${url.protocol}`);
  return out;
}

/** Older URL spellings the README promised, still read: old name → option name. */
const URL_ALIASES: Record<string, string> = {
  sessionExpiry: 'sessionExpirySeconds', shared: 'sharedSubscriptions', keepalive: 'keepaliveSeconds', connectTimeout: 'connectTimeoutMs',
  maxOfflineQueue: 'maxBufferedPublishes',
};

/** The name a URL carries `option` under (its own, else an older spelling), or undefined. */
function param(url: URL, option: string): string | undefined {
  return presentParam(url, option, Object.keys(URL_ALIASES).filter((a) => URL_ALIASES[a] === option));
}

/**
 * Options from a transport URL: `mqtt://user:pass@host:1883?protocolVersion=4&qos=1&clientId=ingest-1&clean=false`.
 * Query parameters are the option names: also `sessionExpirySeconds`, `sharedSubscriptions`,
 * `keepaliveSeconds`, `connectTimeoutMs`, `maxBufferedPublishes`, `maxMessageBytes`, the `reconnect*`
 * ones, and for TLS `caFile`, `certFile`, `keyFile` (PEM file paths), `rejectUnauthorized`,
 * `servername`. The older spellings `sessionExpiry`, `shared`, `keepalive`, `connectTimeout`,
 * `maxOfflineQueue` and `ca`, `cert`, `key` are still read.
 *
 * @example mqttOptionsFromUrl(new URL('mqtt://127.0.0.1:1883?qos=1')).qos // 1
 */
export function mqttOptionsFromUrl(url: URL): MqttTransportOptions {
  const p = url.searchParams;
  const base = new URL(url.href);
  base.search = '';
  const num = (option: string, fallback: number) => { const name = param(url, option); return name === undefined ? fallback : numberParam(url, name, fallback); };
  const bool = (option: string, fallback: boolean) => { const name = param(url, option); return name === undefined ? fallback : booleanParam(url, name, fallback); };
  return stripUndefined({
    url: base.href,
    protocolVersion: numberParam(url, 'protocolVersion', 5) as 4 | 5,
    qos: numberParam(url, 'qos', 0) as MqttQos,
    clientId: p.get('clientId') ?? undefined,
    clean: booleanParam(url, 'clean', true),
    sessionExpirySeconds: num('sessionExpirySeconds', DEFAULTS.sessionExpirySeconds),
    sharedSubscriptions: bool('sharedSubscriptions', true),
    keepaliveSeconds: num('keepaliveSeconds', DEFAULTS.keepaliveSeconds),
    connectTimeoutMs: num('connectTimeoutMs', DEFAULTS.connectTimeoutMs),
    maxBufferedPublishes: num('maxBufferedPublishes', DEFAULTS.maxBufferedPublishes),
    maxMessageBytes: p.has('maxMessageBytes') ? numberParam(url, 'maxMessageBytes', DEFAULTS.maxMessageBytes) : undefined,
    reconnect: reconnectOptionsFromUrl(url),
    tls: tlsOptionsFromUrl(url, { ca: 'caFile', cert: 'certFile', key: 'keyFile' }),
  }) as MqttTransportOptions;
}

function stripUndefined<T extends object>(o: T): T {
  const out = {} as T;
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
