import { booleanParam, numberParam, OptionsInvalidError } from '../../core/index.js';

/** How JetStream mode stores messages and consumes them. */
export interface NatsJetStreamOptions {
  /** The stream every publish lands in and every consumer reads from. Created when missing. */
  stream: string;
  /** Subjects the stream captures (NATS patterns). Required to create the stream; added to an existing one when missing. Include your dead-letter subjects (`dlq.>`). */
  subjects?: string[];
  /** Stream retention: `limits` (keep until limits), `interest` (until every consumer acked) or `workqueue` (until one consumer acked; one consumer per subject). Default `limits`. */
  retention?: 'limits' | 'interest' | 'workqueue';
  /** Stream replicas (1 on a single server). Default 1. */
  replicas?: number;
  /** `file` survives a server restart; `memory` does not. Default `file`. */
  storage?: 'file' | 'memory';
  /** How long the server remembers `Nats-Msg-Id`s to drop republished duplicates, ms. Default 120,000. */
  duplicateWindowMs?: number;
  /** Oldest message the stream keeps, ms (0 = no limit). Default 0. */
  maxAgeMs?: number;
  /** Redelivery of a message not acked within this time, ms. Default 30,000. */
  ackWaitMs?: number;
  /** Where a new consumer starts: `new` (messages published from now) or `all` (the whole stream). Default `new`. */
  deliverPolicy?: 'new' | 'all';
  /** How long one publish attempt waits for the stream's acknowledgement, ms. Default 5,000. */
  ackTimeoutMs?: number;
  /** How long a publish keeps retrying (same Nats-Msg-Id, so no duplicates) across timeouts and reconnects, ms. Default 30,000. */
  publishTimeoutMs?: number;
}

/** TLS settings, passed to nats.js. */
export interface NatsTlsOptions {
  /** CA certificate file (PEM) to verify the server with. */
  caFile?: string;
  /** Client certificate file (PEM) for mutual TLS. */
  certFile?: string;
  /** Client key file (PEM) for mutual TLS. */
  keyFile?: string;
  /** Start TLS before the server's INFO (servers with `handshake_first`). Default false. */
  handshakeFirst?: boolean;
}

/** Options of NatsTransport. Defaults live in `resolveNatsOptions`. */
export interface NatsTransportOptions {
  /** Server URL(s), `nats://host:port`. Default `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** Connection name shown by the server (`nats server report connections`). */
  name?: string;
  /** Token authentication. */
  token?: string;
  /** User/password authentication: the user. */
  user?: string;
  /** User/password authentication: the password. */
  pass?: string;
  /** NKey authentication: the user's seed (`SU…`). */
  nkeySeed?: string;
  /** Decentralised JWT authentication: the contents of a `.creds` file. */
  creds?: string;
  /** TLS: `true` for the system CAs, or files for a private CA / mutual TLS. */
  tls?: boolean | NatsTlsOptions;
  /** Giving up on the first connection after this long, ms. Default 5,000. */
  connectTimeoutMs?: number;
  /** First reconnect delay, ms; doubles per failed attempt (with jitter) up to `reconnectMaxDelayMs`. Default 250. */
  reconnectInitialDelayMs?: number;
  /** Longest reconnect delay, ms. Default 5,000. */
  reconnectMaxDelayMs?: number;
  /** Reconnect attempts before the transport gives up and closes (-1 = forever). Default -1. */
  maxReconnectAttempts?: number;
  /** Publishes held while disconnected, at most; beyond it publish rejects with BackpressureError. Default 10,000. */
  maxBufferedMessages?: number;
  /** Bytes held while disconnected, at most; beyond it publish rejects with BackpressureError. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Prefix of the reply inbox subjects. Default `_INBOX`. */
  inboxPrefix?: string;
  /** Messages that are not CloudEvents are dead-lettered by the transport to `<prefix>.<subject>`. Default `dlq`. */
  deadLetterPrefix?: string;
  /** JetStream mode (durable, at least once); absent = core NATS (at most once). */
  jetstream?: NatsJetStreamOptions;
}

export interface ResolvedNatsOptions extends Required<Omit<NatsTransportOptions, 'token' | 'user' | 'pass' | 'nkeySeed' | 'creds' | 'tls' | 'jetstream' | 'name'>> {
  servers: string[];
  name?: string; token?: string; user?: string; pass?: string; nkeySeed?: string; creds?: string;
  tls?: boolean | NatsTlsOptions;
  jetstream?: Required<Omit<NatsJetStreamOptions, 'subjects'>> & { subjects?: string[] };
}

const positive = (field: string, v: number | undefined, fallback: number): number => {
  if (v === undefined) return fallback;
  if (!(Number.isFinite(v) && v > 0)) throw new OptionsInvalidError(`nats option ${field} must be a positive number, got ${v}`, { details: { field } });
  return v;
};

// Stream and consumer names may not hold `.`, `*`, `>`, whitespace or path separators.
const NAME = /^[A-Za-z0-9_-]{1,255}$/;

/** Applies defaults and rejects bad values with an error naming the field. */
export function resolveNatsOptions(o: NatsTransportOptions = {}): ResolvedNatsOptions {
  const servers = o.servers === undefined ? ['nats://127.0.0.1:4222'] : Array.isArray(o.servers) ? o.servers : [o.servers];
  if (servers.length === 0) throw new OptionsInvalidError('nats option servers must name at least one server', { details: { field: 'servers' } });
  if ((o.user === undefined) !== (o.pass === undefined)) throw new OptionsInvalidError('nats options user and pass go together', { details: { field: o.user === undefined ? 'user' : 'pass' } });
  const maxReconnectAttempts = o.maxReconnectAttempts ?? -1;
  if (!Number.isInteger(maxReconnectAttempts) || maxReconnectAttempts < -1) {
    throw new OptionsInvalidError('nats option maxReconnectAttempts must be -1 or a non-negative integer', { details: { field: 'maxReconnectAttempts' } });
  }
  const r: ResolvedNatsOptions = {
    servers,
    connectTimeoutMs: positive('connectTimeoutMs', o.connectTimeoutMs, 5000),
    reconnectInitialDelayMs: positive('reconnectInitialDelayMs', o.reconnectInitialDelayMs, 250),
    reconnectMaxDelayMs: positive('reconnectMaxDelayMs', o.reconnectMaxDelayMs, 5000),
    maxReconnectAttempts,
    maxBufferedMessages: positive('maxBufferedMessages', o.maxBufferedMessages, 10_000),
    maxBufferedBytes: positive('maxBufferedBytes', o.maxBufferedBytes, 8 * 1024 * 1024),
    inboxPrefix: o.inboxPrefix ?? '_INBOX',
    deadLetterPrefix: o.deadLetterPrefix ?? 'dlq',
  };
  for (const k of ['name', 'token', 'user', 'pass', 'nkeySeed', 'creds', 'tls'] as const) if (o[k] !== undefined) (r as unknown as Record<string, unknown>)[k] = o[k];
  if (o.jetstream) {
    const j = o.jetstream;
    if (typeof j.stream !== 'string' || !NAME.test(j.stream)) {
      throw new OptionsInvalidError(`nats option jetstream.stream must be a stream name of letters, digits, _ and -, got ${JSON.stringify(j.stream)}`, { details: { field: 'jetstream.stream' } });
    }
    if (j.subjects !== undefined && (!Array.isArray(j.subjects) || j.subjects.some((s) => typeof s !== 'string' || s === ''))) {
      throw new OptionsInvalidError('nats option jetstream.subjects must be a list of subjects', { details: { field: 'jetstream.subjects' } });
    }
    const retention = j.retention ?? 'limits';
    if (!['limits', 'interest', 'workqueue'].includes(retention)) throw new OptionsInvalidError(`nats option jetstream.retention must be limits, interest or workqueue`, { details: { field: 'jetstream.retention' } });
    const storage = j.storage ?? 'file';
    if (storage !== 'file' && storage !== 'memory') throw new OptionsInvalidError('nats option jetstream.storage must be file or memory', { details: { field: 'jetstream.storage' } });
    const deliverPolicy = j.deliverPolicy ?? 'new';
    if (deliverPolicy !== 'new' && deliverPolicy !== 'all') throw new OptionsInvalidError('nats option jetstream.deliverPolicy must be new or all', { details: { field: 'jetstream.deliverPolicy' } });
    const replicas = j.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new OptionsInvalidError('nats option jetstream.replicas must be an integer from 1 to 5', { details: { field: 'jetstream.replicas' } });
    const maxAgeMs = j.maxAgeMs ?? 0;
    if (!(Number.isFinite(maxAgeMs) && maxAgeMs >= 0)) throw new OptionsInvalidError('nats option jetstream.maxAgeMs must be >= 0', { details: { field: 'jetstream.maxAgeMs' } });
    r.jetstream = {
      stream: j.stream, retention, storage, deliverPolicy, replicas, maxAgeMs,
      duplicateWindowMs: positive('jetstream.duplicateWindowMs', j.duplicateWindowMs, 120_000),
      ackWaitMs: positive('jetstream.ackWaitMs', j.ackWaitMs, 30_000),
      ackTimeoutMs: positive('jetstream.ackTimeoutMs', j.ackTimeoutMs, 5000),
      publishTimeoutMs: positive('jetstream.publishTimeoutMs', j.publishTimeoutMs, 30_000),
      ...(j.subjects ? { subjects: [...j.subjects] } : {}),
    };
  }
  return r;
}

/**
 * Options from a `nats://` URL: `nats://[user:pass@|token@]host[:port][?jetstream=1&stream=NAME
 * &subjects=a.>,dlq.>&retention=limits&replicas=1&storage=file&ackWaitMs=30000&tls=1&name=…]`.
 * Further servers may follow in `servers=h2:4222,h3:4222`.
 *
 * @example natsOptionsFromUrl(new URL('nats://127.0.0.1:4222?jetstream=1&stream=ORDERS&subjects=orders.>'))
 */
export function natsOptionsFromUrl(url: URL): NatsTransportOptions {
  const p = url.searchParams;
  const scheme = url.protocol === 'tls:' ? 'tls' : 'nats';
  const servers = [`${scheme}://${url.hostname || '127.0.0.1'}:${url.port || '4222'}`];
  for (const s of (p.get('servers') ?? '').split(',')) if (s) servers.push(s.includes('://') ? s : `nats://${s}`);
  const o: NatsTransportOptions = { servers };
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  if (user && pass) { o.user = user; o.pass = pass; } else if (user) o.token = user;
  if (p.get('token')) o.token = p.get('token')!;
  if (p.get('name')) o.name = p.get('name')!;
  if (booleanParam(url, 'tls', scheme === 'tls')) o.tls = true;
  for (const k of ['connectTimeoutMs', 'reconnectInitialDelayMs', 'reconnectMaxDelayMs', 'maxReconnectAttempts', 'maxBufferedMessages', 'maxBufferedBytes'] as const) {
    if (p.has(k)) o[k] = numberParam(url, k, 0);
  }
  if (booleanParam(url, 'jetstream', false)) {
    const stream = p.get('stream');
    if (!stream) throw new OptionsInvalidError('nats URL with jetstream=1 needs stream=<name>', { details: { field: 'stream' } });
    const js: NatsJetStreamOptions = { stream };
    if (p.get('subjects')) js.subjects = p.get('subjects')!.split(',').filter(Boolean);
    if (p.get('retention')) js.retention = p.get('retention') as NatsJetStreamOptions['retention'];
    if (p.get('storage')) js.storage = p.get('storage') as NatsJetStreamOptions['storage'];
    if (p.get('deliverPolicy')) js.deliverPolicy = p.get('deliverPolicy') as NatsJetStreamOptions['deliverPolicy'];
    for (const k of ['replicas', 'duplicateWindowMs', 'maxAgeMs', 'ackWaitMs', 'ackTimeoutMs', 'publishTimeoutMs'] as const) {
      if (p.has(k)) js[k] = numberParam(url, k, 0);
    }
    o.jetstream = js;
  }
  return o;
}
