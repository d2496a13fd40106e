import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { booleanParam, numberParam, OptionsInvalidError, type Logger } from '../../core/index.js';
import { resolveTlsOptions, type AmqpTlsFiles } from './tls.js';

/** How the transport reconnects after the connection is lost (exponential backoff with jitter). */
export interface AmqpReconnectOptions {
  /** Delay before the first reconnect attempt, ms. Default 100. */
  initialDelayMs?: number;
  /** Upper bound of any delay, ms. Default 5000. */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt. Default 2. */
  multiplier?: number;
  /** 0..1: share of each delay drawn at random, so many clients do not reconnect in step. Default 0.3. */
  jitter?: number;
  /** Attempts before giving up for good (pending publishes then fail). Default: never give up. */
  maxAttempts?: number;
}

/**
 * Options of the AMQP 0-9-1 (RabbitMQ) transport. Everything but `url` has a default; the same
 * options can be given as URL query parameters (`amqp://guest:guest@host:5672/?durable=1`).
 *
 * @example new AmqpTransport({ url: 'amqp://guest:guest@127.0.0.1:5672', durable: true })
 */
export interface AmqpTransportOptions {
  /** `amqp://user:password@host:port/vhost` or `amqps://…` for TLS. Credentials and vhost are percent-decoded. */
  url: string;
  /** The topic exchange every subject is published to. Default `signalbus`. */
  exchange?: string;
  /**
   * Durable mode: persistent messages and publisher confirms (a publish resolves once the broker
   * has the message; unconfirmed ones are re-sent after a reconnect). Default false: fast mode,
   * a publish resolves once written to the socket and may be lost with the connection.
   */
  durable?: boolean;
  /** Durable mode: most publishes sent and not yet confirmed; more wait for room. Default 1000. */
  maxUnconfirmed?: number;
  /** AMQP heartbeat, seconds (0 disables); a dead peer is noticed after about twice this. Default 10. */
  heartbeatSeconds?: number;
  /** Time allowed for the TCP/TLS connect and AMQP handshake, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Reconnection backoff. */
  reconnect?: AmqpReconnectOptions;
  /** Delete a group's queue after it had no consumer for this long, ms (`x-expires`). Default: keep it. */
  groupQueueExpiresMs?: number;
  /** Longest the dead-letter queue `<exchange>.dlq` grows before dropping its oldest. Default 100,000. */
  deadLetterQueueMaxLength?: number;
  /** Routing key pattern of dead letters the Bus publishes (kept in `<exchange>.dlq`). Default `dlq.#`. */
  deadLetterBinding?: string;
  /** How long `close()` waits for unconfirmed publishes, ms. Default 10,000. */
  closeTimeoutMs?: number;
  /** Largest message accepted, bytes (RabbitMQ's default `max_message_size` is 128 MiB). */
  maxMessageBytes?: number;
  /**
   * TLS options for `amqps://` (ca, cert, key, servername, rejectUnauthorized…). The broker's
   * certificate is verified against the system CAs (or `ca`), including that it names the URL's
   * host (an IP address must be in its subjectAltName). Any TLS option with `amqp://` is an error.
   */
  tls?: TlsOptions;
  /** `amqps://`: the CA certificate(s) (PEM file) to verify the broker with, instead of the system CAs. Not together with `tls.ca`. URL parameter `caFile`. */
  caFile?: string;
  /** `amqps://` mutual TLS: the client certificate (PEM file); needs `keyFile`. Not together with `tls.cert`. URL parameter `certFile`. */
  certFile?: string;
  /** `amqps://` mutual TLS: the client's private key (PEM file, unencrypted); needs `certFile`. Not together with `tls.key`. URL parameter `keyFile`. */
  keyFile?: string;
  /** Connection name shown by `rabbitmqctl list_connections client_properties`. Default `signalbus`. */
  connectionName?: string;
  /** Where reconnects and dropped replies are logged. Default: silent. */
  logger?: Logger;
}

export interface ResolvedAmqpOptions extends Required<Omit<AmqpTransportOptions, 'reconnect' | 'groupQueueExpiresMs' | 'tls' | 'logger' | keyof AmqpTlsFiles>> {
  reconnect: Required<AmqpReconnectOptions>;
  groupQueueExpiresMs: number | undefined;
  /** `tls` with the contents of `caFile`/`certFile`/`keyFile` (read at construction); undefined without TLS options. */
  tls: TlsOptions | undefined;
  logger: Logger | undefined;
}

const DEFAULTS = {
  exchange: 'signalbus', durable: false, maxUnconfirmed: 1000, heartbeatSeconds: 10, connectTimeoutMs: 5000,
  deadLetterQueueMaxLength: 100_000, deadLetterBinding: 'dlq.#', closeTimeoutMs: 10_000, maxMessageBytes: 128 * 1024 * 1024,
  connectionName: 'signalbus',
} as const;

const RECONNECT_DEFAULTS: Required<AmqpReconnectOptions> = {
  initialDelayMs: 100, maxDelayMs: 5000, multiplier: 2, jitter: 0.3, maxAttempts: Number.POSITIVE_INFINITY,
};

function invalid(field: string, rule: string): never {
  throw new OptionsInvalidError(`amqp option "${field}" ${rule}`, { details: { field } });
}

function positiveInteger(field: string, v: number): void {
  if (!(Number.isInteger(v) && v > 0)) invalid(field, `must be a positive integer, got ${v}`);
}

/** Fills defaults and rejects bad values with an OptionsInvalidError naming the field. */
export function resolveAmqpOptions(options: AmqpTransportOptions): ResolvedAmqpOptions {
  if (typeof options.url !== 'string') invalid('url', 'is required');
  let url: URL;
  try { url = new URL(options.url); } catch { invalid('url', `is not a URL: ${options.url}`); }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') invalid('url', `must start with amqp:// or amqps://, got ${url.protocol}//`);
  const o = { ...DEFAULTS, ...stripUndefined(options) };
  const reconnect = { ...RECONNECT_DEFAULTS, ...stripUndefined(options.reconnect ?? {}) };
  if (typeof o.exchange !== 'string' || o.exchange.length === 0 || o.exchange.length > 200 || o.exchange.startsWith('amq.')) {
    invalid('exchange', 'must be 1-200 characters and not start with "amq." (reserved by the broker)');
  }
  positiveInteger('maxUnconfirmed', o.maxUnconfirmed);
  if (!(Number.isInteger(o.heartbeatSeconds) && o.heartbeatSeconds >= 0)) invalid('heartbeatSeconds', 'must be an integer >= 0');
  positiveInteger('connectTimeoutMs', o.connectTimeoutMs);
  positiveInteger('deadLetterQueueMaxLength', o.deadLetterQueueMaxLength);
  positiveInteger('closeTimeoutMs', o.closeTimeoutMs);
  positiveInteger('maxMessageBytes', o.maxMessageBytes);
  if (options.groupQueueExpiresMs !== undefined) positiveInteger('groupQueueExpiresMs', options.groupQueueExpiresMs);
  if (typeof o.deadLetterBinding !== 'string' || o.deadLetterBinding.length === 0) invalid('deadLetterBinding', 'must be a non-empty routing key pattern');
  if (!(reconnect.initialDelayMs >= 0)) invalid('reconnect.initialDelayMs', 'must be >= 0');
  if (!(reconnect.maxDelayMs >= reconnect.initialDelayMs)) invalid('reconnect.maxDelayMs', 'must be >= reconnect.initialDelayMs');
  if (!(reconnect.multiplier >= 1)) invalid('reconnect.multiplier', 'must be >= 1');
  if (!(reconnect.jitter >= 0 && reconnect.jitter <= 1)) invalid('reconnect.jitter', 'must be between 0 and 1');
  if (!(reconnect.maxAttempts >= 1)) invalid('reconnect.maxAttempts', 'must be >= 1');
  const tls = resolveTlsOptions(url.protocol, options.tls, options);
  const { caFile: _caFile, certFile: _certFile, keyFile: _keyFile, ...settings } = o; // read into `tls`
  return {
    ...settings, reconnect, url: options.url, groupQueueExpiresMs: options.groupQueueExpiresMs, tls, logger: options.logger,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** Query parameters this transport reads; they are removed from the URL handed to the client. */
const URL_PARAMS = ['durable', 'exchange', 'maxUnconfirmed', 'heartbeat', 'connectTimeoutMs', 'groupQueueExpiresMs', 'deadLetterQueueMaxLength', 'name',
  'caFile', 'certFile', 'keyFile'];

/**
 * Options from a URL: `amqp://u:p@host:5672/vhost?durable=1&exchange=events&maxUnconfirmed=500&heartbeat=10`;
 * for TLS `amqps://u:p@host:5671/vhost?caFile=/etc/ssl/ca.pem&certFile=client.pem&keyFile=client-key.pem`.
 * @example optionsFromUrl(new URL('amqp://guest:guest@127.0.0.1:5672?durable=1')).durable // true
 */
export function optionsFromUrl(url: URL): AmqpTransportOptions {
  const options: AmqpTransportOptions = {
    url: '',
    durable: booleanParam(url, 'durable', DEFAULTS.durable),
    exchange: url.searchParams.get('exchange') || DEFAULTS.exchange,
    maxUnconfirmed: numberParam(url, 'maxUnconfirmed', DEFAULTS.maxUnconfirmed),
    heartbeatSeconds: numberParam(url, 'heartbeat', DEFAULTS.heartbeatSeconds),
    connectTimeoutMs: numberParam(url, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs),
    deadLetterQueueMaxLength: numberParam(url, 'deadLetterQueueMaxLength', DEFAULTS.deadLetterQueueMaxLength),
    connectionName: url.searchParams.get('name') || DEFAULTS.connectionName,
  };
  if (url.searchParams.has('groupQueueExpiresMs')) options.groupQueueExpiresMs = numberParam(url, 'groupQueueExpiresMs', 0);
  for (const file of ['caFile', 'certFile', 'keyFile'] as const) {
    const path = url.searchParams.get(file);
    if (path !== null) options[file] = path;
  }
  const clean = new URL(url.href);
  for (const p of URL_PARAMS) clean.searchParams.delete(p);
  options.url = clean.href;
  return options;
}

/** What amqplib's `connect()` takes, from the URL: host, port, credentials and vhost, percent-decoded. */
export interface AmqpConnectTarget {
  protocol: 'amqp' | 'amqps';
  hostname: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  frameMax?: number;
  /** The URL with the password masked, for errors and logs. */
  display: string;
}

export function connectTarget(urlText: string): AmqpConnectTarget {
  const url = new URL(urlText);
  const protocol = url.protocol === 'amqps:' ? 'amqps' : 'amqp';
  const path = url.pathname.replace(/^\//, '');
  const masked = new URL(url.href);
  if (masked.password) masked.password = '***';
  const target: AmqpConnectTarget = {
    protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: url.port ? Number(url.port) : protocol === 'amqps' ? 5671 : 5672,
    username: url.username ? decodeURIComponent(url.username) : 'guest',
    password: url.password ? decodeURIComponent(url.password) : 'guest',
    vhost: path === '' ? '/' : decodeURIComponent(path),
    display: masked.href,
  };
  const frameMax = url.searchParams.get('frameMax');
  if (frameMax) target.frameMax = Number(frameMax);
  return target;
}
