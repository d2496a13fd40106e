import {
  booleanParam, numberParam, OptionsInvalidError, presentParam, reconnectOptionsFromUrl, resolveReconnectOptions, resolveTlsOptions,
  tlsOptionsFromUrl, RECONNECT_URL_PARAMS, TLS_URL_PARAMS, type Logger, type ReconnectOptions, type ResolvedReconnectOptions,
  type ResolvedTlsOptions, type TlsOptions,
} from '../../core/index.js';

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
  /** Reconnecting: `initialDelayMs` 100, doubling (jitter 0.3) to `maxDelayMs` 5,000, forever; after `maxAttempts` pending publishes fail. */
  reconnect?: ReconnectOptions;
  /** Delete a group's queue after it had no consumer for this long, ms (`x-expires`). Default: keep it. */
  groupQueueExpiresMs?: number;
  /**
   * Type of the durable group queues: `classic` (default) or `quorum` (replicated Raft log,
   * `x-queue-type: quorum`; needs `durable: true`). Subscriptions without a group keep their
   * exclusive classic queue (a quorum queue cannot be exclusive). A queue's type cannot change:
   * an existing group queue of the other type makes the subscribe fail with an OptionsInvalidError.
   */
  queueType?: AmqpQueueType;
  /**
   * Group queues get `x-single-active-consumer: true`: of all consumers of a group queue exactly
   * one receives at a time; when it goes, RabbitMQ hands the queue (and its unacked messages) to
   * the next. Default false (round-robin between members).
   */
  singleActiveConsumer?: boolean;
  /**
   * Quorum queues only: after this many returns of one message to its queue (its consumer died or
   * requeued it) RabbitMQ dead-letters it to `<exchange>.dlq` (`x-delivery-limit`). Stops a message
   * that kills its consumer from doing so forever. Default: no limit.
   */
  deliveryLimit?: number;
  /** Longest the dead-letter queue `<exchange>.dlq` grows before dropping its oldest. Default 100,000. */
  deadLetterQueueMaxLength?: number;
  /** Routing key pattern of dead letters the Bus publishes (kept in `<exchange>.dlq`). Default `dlq.#`. */
  deadLetterBinding?: string;
  /** How long `close()` waits for unconfirmed publishes, ms. Default 10,000. */
  closeTimeoutMs?: number;
  /** Largest message accepted, bytes (RabbitMQ's default `max_message_size` is 128 MiB). */
  maxMessageBytes?: number;
  /**
   * TLS for `amqps://`: `ca`/`caFile` to verify the broker with instead of the system CAs,
   * `cert`+`key` (or their files) for mutual TLS, `servername` to verify another name. The broker's
   * certificate is verified, including that it names the URL's host (an IP address must be in its
   * subjectAltName). Files are read at construction. Any TLS option with `amqp://` is an error.
   */
  tls?: TlsOptions;
  /** Connection name shown by `rabbitmqctl list_connections client_properties`. Default `signalbus`. */
  connectionName?: string;
  /** Where reconnects and dropped replies are logged. Default: silent. */
  logger?: Logger;
}

export type AmqpQueueType = 'classic' | 'quorum';

export interface ResolvedAmqpOptions extends Required<Omit<AmqpTransportOptions, 'reconnect' | 'groupQueueExpiresMs' | 'deliveryLimit' | 'tls' | 'logger'>> {
  reconnect: ResolvedReconnectOptions;
  groupQueueExpiresMs: number | undefined;
  deliveryLimit: number | undefined;
  /** `tls` with its files read (at construction); undefined without TLS options. */
  tls: ResolvedTlsOptions | undefined;
  logger: Logger | undefined;
}

const DEFAULTS = {
  exchange: 'signalbus', durable: false, maxUnconfirmed: 1000, heartbeatSeconds: 10, connectTimeoutMs: 5000,
  deadLetterQueueMaxLength: 100_000, deadLetterBinding: 'dlq.#', closeTimeoutMs: 10_000, maxMessageBytes: 128 * 1024 * 1024,
  connectionName: 'signalbus', queueType: 'classic' as AmqpQueueType, singleActiveConsumer: false,
} as const;

const RECONNECT_DEFAULTS: ResolvedReconnectOptions = {
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
  // signalbus' own URL parameters are read by transportFromUrl (amqpOptionsFromUrl), never here:
  // `?durable=1` on this url would be ignored. amqplib's own (frameMax, channelMax, locale) pass.
  const ours = URL_PARAMS.filter((p) => url.searchParams.has(p));
  if (ours.length > 0) invalid('url', `carries ${ours.map((p) => `?${p}`).join(', ')}: pass these as options, or use transportFromUrl(url), which reads them`);
  const o = { ...DEFAULTS, ...stripUndefined(options) };
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
  if (o.queueType !== 'classic' && o.queueType !== 'quorum') invalid('queueType', `must be "classic" or "quorum", got ${String(o.queueType)}`);
  // Refused rather than implied: `durable` keeps one meaning whatever else is set, and a quorum
  // queue is chosen for messages that must survive, which fast-mode publishes (no confirms) may not.
  if (o.queueType === 'quorum' && o.durable !== true) {
    invalid('durable', 'must be true with queueType "quorum" (URL durable=1): quorum queues keep every message, fast mode would lose unconfirmed publishes on the way');
  }
  if (typeof o.singleActiveConsumer !== 'boolean') invalid('singleActiveConsumer', `must be a boolean, got ${String(o.singleActiveConsumer)}`);
  if (options.deliveryLimit !== undefined) {
    positiveInteger('deliveryLimit', options.deliveryLimit);
    if (o.queueType !== 'quorum') invalid('deliveryLimit', 'needs queueType "quorum" (classic queues have no x-delivery-limit)');
  }
  const reconnect = resolveReconnectOptions('amqp', options.reconnect, RECONNECT_DEFAULTS);
  // amqplib ignores TLS options on amqp://: the user would get clear text while expecting TLS.
  if (options.tls !== undefined && url.protocol !== 'amqps:') invalid('tls', `needs an amqps:// URL (TLS), got ${url.protocol}//`);
  const tls = options.tls === undefined ? undefined : resolveTlsOptions('amqp', options.tls);
  const { tls: _tls, ...settings } = o;
  return {
    ...settings, reconnect, url: options.url, groupQueueExpiresMs: options.groupQueueExpiresMs, deliveryLimit: options.deliveryLimit, tls,
    logger: options.logger,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** Query parameters this transport reads; they are removed from the URL handed to the client. */
const URL_PARAMS = ['durable', 'exchange', 'maxUnconfirmed', 'heartbeatSeconds', 'heartbeat', 'connectTimeoutMs', 'groupQueueExpiresMs',
  'deadLetterQueueMaxLength', 'closeTimeoutMs', 'maxMessageBytes', 'connectionName', 'name', 'queueType', 'singleActiveConsumer', 'deliveryLimit',
  ...RECONNECT_URL_PARAMS, ...TLS_URL_PARAMS];

/**
 * Options from a URL: `amqp://u:p@host:5672/vhost?durable=1&exchange=events&maxUnconfirmed=500&heartbeatSeconds=10`,
 * `?durable=1&queueType=quorum&singleActiveConsumer=1&deliveryLimit=20` for quorum group queues with one active consumer;
 * for TLS `amqps://u:p@host:5671/vhost?caFile=/etc/ssl/ca.pem&certFile=client.pem&keyFile=client-key.pem`.
 * Query parameters are the option names (`reconnect*` and the TLS ones flattened); the README's
 * older `heartbeat` and `name` are still read. `frameMax` stays in the URL for amqplib.
 *
 * @example amqpOptionsFromUrl(new URL('amqp://guest:guest@127.0.0.1:5672?durable=1')).durable // true
 */
export function amqpOptionsFromUrl(url: URL): AmqpTransportOptions {
  const heartbeat = presentParam(url, 'heartbeatSeconds', ['heartbeat']);
  const p = url.searchParams;
  const options: AmqpTransportOptions = {
    url: '',
    durable: booleanParam(url, 'durable', DEFAULTS.durable),
    exchange: p.get('exchange') || DEFAULTS.exchange,
    maxUnconfirmed: numberParam(url, 'maxUnconfirmed', DEFAULTS.maxUnconfirmed),
    heartbeatSeconds: heartbeat === undefined ? DEFAULTS.heartbeatSeconds : numberParam(url, heartbeat, DEFAULTS.heartbeatSeconds),
    connectTimeoutMs: numberParam(url, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs),
    deadLetterQueueMaxLength: numberParam(url, 'deadLetterQueueMaxLength', DEFAULTS.deadLetterQueueMaxLength),
    connectionName: p.get('connectionName') || p.get('name') || DEFAULTS.connectionName,
  };
  if (p.has('queueType')) options.queueType = p.get('queueType') as AmqpQueueType; // checked by resolveAmqpOptions
  if (p.has('singleActiveConsumer')) options.singleActiveConsumer = booleanParam(url, 'singleActiveConsumer', DEFAULTS.singleActiveConsumer);
  if (p.has('deliveryLimit')) options.deliveryLimit = numberParam(url, 'deliveryLimit', 0);
  if (p.has('groupQueueExpiresMs')) options.groupQueueExpiresMs = numberParam(url, 'groupQueueExpiresMs', 0);
  if (p.has('closeTimeoutMs')) options.closeTimeoutMs = numberParam(url, 'closeTimeoutMs', DEFAULTS.closeTimeoutMs);
  if (p.has('maxMessageBytes')) options.maxMessageBytes = numberParam(url, 'maxMessageBytes', DEFAULTS.maxMessageBytes);
  const reconnect = reconnectOptionsFromUrl(url);
  if (reconnect) options.reconnect = reconnect;
  const tls = tlsOptionsFromUrl(url);
  if (tls) options.tls = tls;
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
