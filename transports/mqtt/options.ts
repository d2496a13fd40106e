import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { booleanParam, numberParam, OptionsInvalidError } from '../../core/index.js';

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
  /** TLS (`mqtts:` only): CA certificate(s) (PEM) to verify the broker with, instead of the system CAs. */
  ca?: string | Buffer;
  /** TLS: the CA certificate(s) as a PEM file path, read at construction. Not together with `ca`. */
  caFile?: string;
  /** TLS: client certificate (PEM) for mutual TLS; needs `key`/`keyFile`. */
  cert?: string | Buffer;
  /** TLS: the client certificate as a PEM file path. Not together with `cert`. */
  certFile?: string;
  /** TLS: client private key (PEM); needs `cert`/`certFile`. */
  key?: string | Buffer;
  /** TLS: the client private key as a PEM file path. Not together with `key`. */
  keyFile?: string;
  /** TLS: verify the broker certificate (chain and that it names the URL's host). Default true. */
  rejectUnauthorized?: boolean;
  /** Keepalive interval, seconds. Default 30. */
  keepaliveSeconds?: number;
  /** How long `connect()` waits for the broker, ms. Default 10,000. */
  connectTimeoutMs?: number;
  /** First reconnect delay, ms; doubles (with jitter) up to `reconnectMaxMs`. Default 250. */
  reconnectInitialMs?: number;
  /** Longest reconnect delay, ms. Default 10,000. */
  reconnectMaxMs?: number;
  /** Publishes accepted while disconnected before `publish` rejects with BackpressureError. Default 10,000. */
  maxOfflineQueue?: number;
  /** Largest message accepted, bytes. Default 268,435,455 (the MQTT maximum), lowered by the broker's Maximum Packet Size. */
  maxMessageBytes?: number;
}

/** Options with defaults applied and checked. */
export interface ResolvedMqttOptions extends Required<Omit<MqttTransportOptions, 'username' | 'password' | 'ca' | 'cert' | 'key' | 'caFile' | 'certFile' | 'keyFile'>> {
  username?: string;
  password?: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The persistent-session mode is on (clean false, QoS >= 1, stable client id). */
  durable: boolean;
}

export const MQTT_MAX_PACKET = 268_435_455;

const DEFAULTS = {
  protocolVersion: 5, qos: 0, clean: true, sessionExpirySeconds: 86_400, sharedSubscriptions: true,
  rejectUnauthorized: true, keepaliveSeconds: 30, connectTimeoutMs: 10_000, reconnectInitialMs: 250,
  reconnectMaxMs: 10_000, maxOfflineQueue: 10_000, maxMessageBytes: MQTT_MAX_PACKET,
} as const;

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
  const o = { ...DEFAULTS, ...stripUndefined(options) };
  if (o.protocolVersion !== 4 && o.protocolVersion !== 5) throw invalid('protocolVersion', `must be 4 (3.1.1) or 5, got ${String(o.protocolVersion)}`);
  if (o.qos !== 0 && o.qos !== 1 && o.qos !== 2) throw invalid('qos', `must be 0, 1 or 2, got ${String(o.qos)}`);
  for (const f of ['sessionExpirySeconds', 'keepaliveSeconds', 'connectTimeoutMs', 'reconnectInitialMs', 'reconnectMaxMs', 'maxOfflineQueue', 'maxMessageBytes'] as const) positive(f, o[f]);
  if (o.sessionExpirySeconds > 0xffffffff) throw invalid('sessionExpirySeconds', 'must fit in 32 bits');
  if (o.reconnectMaxMs < o.reconnectInitialMs) throw invalid('reconnectMaxMs', 'must be at least reconnectInitialMs');
  if (o.maxMessageBytes > MQTT_MAX_PACKET) throw invalid('maxMessageBytes', `must be at most ${MQTT_MAX_PACKET}`);
  if (o.clientId !== undefined && (o.clientId.length === 0 || /[+#/\s]/.test(o.clientId))) throw invalid('clientId', 'must be non-empty without "+", "#", "/" or whitespace');
  if (!o.clean) {
    if (o.clientId === undefined) throw invalid('clientId', 'is required with clean=false: a persistent session is found again by its client id');
    if (o.qos === 0) throw invalid('qos', 'must be 1 or 2 with clean=false: brokers do not keep QoS 0 messages for absent subscribers');
  }
  const username = options.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password = options.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
  if (password !== undefined && username === undefined && o.protocolVersion === 4) throw invalid('username', 'is required with a password on MQTT 3.1.1');
  const { caFile: _caFile, certFile: _certFile, keyFile: _keyFile, ...settings } = o; // resolved into ca/cert/key
  return {
    ...settings, ...resolveTlsMaterial(options, url), url: options.url, clientId: o.clientId ?? `sb-${randomUUID().slice(0, 12)}`, durable: !o.clean,
    ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}),
  } as ResolvedMqttOptions;
}

/** `ca`/`cert`/`key` from their contents or their files, checked to make sense together. */
function resolveTlsMaterial(options: MqttTransportOptions, url: URL): Pick<ResolvedMqttOptions, 'ca' | 'cert' | 'key'> {
  const out: Pick<ResolvedMqttOptions, 'ca' | 'cert' | 'key'> = {};
  for (const name of ['ca', 'cert', 'key'] as const) {
    const fileField = `${name}File` as const;
    const given = options[name];
    const file = options[fileField];
    if (given !== undefined && file !== undefined) throw invalid(fileField, `cannot be combined with "${name}": give the PEM or its file, not both`);
    const pem = file !== undefined ? readPem(fileField, file, `mqtt option "${fileField}"`) : given;
    if (pem !== undefined) out[name] = pem;
  }
  if ((out.cert === undefined) !== (out.key === undefined)) {
    const missing = out.cert === undefined ? 'cert' : 'key';
    throw invalid(missing, `(or "${missing}File") is required for mutual TLS: a client certificate and its key go together`);
  }
  // Over mqtt:// these would be ignored and the connection would run in clear text.
  const given = (['ca', 'cert', 'key'] as const).find((n) => out[n] !== undefined);
  if (given && url.protocol !== 'mqtts:') throw invalid(given, `needs an mqtts: URL (TLS), got ${url.protocol}`);
  return out;
}

/** Reads a PEM file, or throws OptionsInvalidError naming `field`. */
function readPem(field: string, path: string, what: string): Buffer {
  if (path.length === 0) throw new OptionsInvalidError(`${what} must name a PEM file, got an empty string`, { details: { field } });
  try { return readFileSync(path); } catch (cause) {
    throw new OptionsInvalidError(`${what} names a file that cannot be read: ${path}`, { cause, details: { field, path } });
  }
}

/**
 * Options from a transport URL: `mqtt://user:pass@host:1883?protocolVersion=4&qos=1&clientId=ingest-1&clean=false`.
 * Also `sessionExpiry`, `shared`, `keepalive`, `connectTimeout`, `maxOfflineQueue`, `rejectUnauthorized`,
 * and for TLS `ca`, `cert`, `key` naming PEM files.
 */
export function mqttOptionsFromUrl(url: URL): MqttTransportOptions {
  const p = url.searchParams;
  const base = new URL(url.href);
  base.search = '';
  const version = numberParam(url, 'protocolVersion', 5);
  const qos = numberParam(url, 'qos', 0);
  const file = (name: string) => {
    const path = p.get(name);
    return path === null ? undefined : readPem(name, path, `URL parameter "${name}"`);
  };
  return stripUndefined({
    url: base.href,
    protocolVersion: version as 4 | 5,
    qos: qos as MqttQos,
    clientId: p.get('clientId') ?? undefined,
    clean: booleanParam(url, 'clean', true),
    sessionExpirySeconds: numberParam(url, 'sessionExpiry', DEFAULTS.sessionExpirySeconds),
    sharedSubscriptions: booleanParam(url, 'shared', true),
    keepaliveSeconds: numberParam(url, 'keepalive', DEFAULTS.keepaliveSeconds),
    connectTimeoutMs: numberParam(url, 'connectTimeout', DEFAULTS.connectTimeoutMs),
    maxOfflineQueue: numberParam(url, 'maxOfflineQueue', DEFAULTS.maxOfflineQueue),
    rejectUnauthorized: booleanParam(url, 'rejectUnauthorized', true),
    ca: file('ca'), cert: file('cert'), key: file('key'),
  }) as MqttTransportOptions;
}

function stripUndefined<T extends object>(o: T): T {
  const out = {} as T;
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
