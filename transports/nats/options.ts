import {
  booleanParam, numberParam, OptionsInvalidError, reconnectOptionsFromUrl, resolveReconnectOptions, tlsOptionsFromUrl,
  type Logger, type ReconnectOptions, type ResolvedReconnectOptions, type TlsOptions,
} from '../../core/index.js';
import { parseCreds, userPublicKey } from './credentials.js';

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
  /**
   * Redelivery of a message not acked within this time, ms. Default 30,000. Keep it well above
   * 1 s: an ordered subscription holding a message through a retry backoff tells the server it is
   * still in progress once a second, and a shorter wait would let the server redeliver it meanwhile.
   */
  ackWaitMs?: number;
  /** Where a new consumer starts: `new` (messages published from now) or `all` (the whole stream). Default `new`. */
  deliverPolicy?: 'new' | 'all';
  /** How long one publish attempt waits for the stream's acknowledgement, ms. Default 5,000. */
  ackTimeoutMs?: number;
  /** How long a publish keeps retrying (same Nats-Msg-Id, so no duplicates) across timeouts and reconnects, ms. Default 30,000. */
  publishTimeoutMs?: number;
}

/**
 * TLS settings: the shared `TlsOptions`, passed to nats.js, plus `handshakeFirst`. The server
 * certificate is verified (against the system CAs, or `ca`/`caFile`), including its name: a server
 * URL with an IP address needs the IP in the certificate's subjectAltName. Files are checked at
 * connect (a missing one is an OptionsInvalidError naming it) and read again by nats.js on every
 * reconnect, so renewed certificates are picked up without a restart.
 */
export interface NatsTlsOptions extends TlsOptions {
  /** Start TLS before the server's INFO (servers with `handshake_first`). Default false. */
  handshakeFirst?: boolean;
}

/** Options of NatsTransport. Defaults live in `resolveNatsOptions`. */
export interface NatsTransportOptions {
  /** Server URL(s), `nats://host:port`, or `tls://host:port` to require TLS (as `tls: true`). Default `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** Connection name shown by the server (`nats server report connections`). */
  name?: string;
  /** Token authentication. */
  token?: string;
  /** User/password authentication: the user. */
  user?: string;
  /** User/password authentication: the password. */
  pass?: string;
  /** NKey authentication: the user's seed (`SU…`); another kind of key is an OptionsInvalidError. */
  nkeySeed?: string;
  /** Decentralised JWT authentication: the contents of a `.creds` file (user JWT + user seed), checked at construction. */
  creds?: string;
  /** Decentralised JWT authentication: the path of a `.creds` file, read and checked at connect. */
  credsFile?: string;
  /** TLS: `true` = required, verified against the system CAs; an object = required, with a private CA / client certificate. Absent or `false`: TLS only when the server requires or offers it (verified against the system CAs). */
  tls?: boolean | NatsTlsOptions;
  /** Giving up on the first connection after this long, ms. Default 5,000. */
  connectTimeoutMs?: number;
  /** Reconnecting: `initialDelayMs` 250, doubling (jitter 0.5) to `maxDelayMs` 5,000; `maxAttempts` before the transport gives up and closes, default never (Infinity). */
  reconnect?: ReconnectOptions;
  /** Publishes held while disconnected, at most; beyond it publish rejects with BackpressureError. Default 10,000. */
  maxBufferedPublishes?: number;
  /** Bytes held while disconnected, at most; beyond it publish rejects with BackpressureError. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Prefix of the reply inbox subjects. Default `_INBOX`. */
  inboxPrefix?: string;
  /** JetStream mode (durable, at least once); absent = core NATS (at most once). */
  jetstream?: NatsJetStreamOptions;
  /**
   * How events travel (CloudEvents NATS binding). `binary` (default): attributes in NATS headers
   * (`ce-*`), the data as the body. `structured`: the whole event as CloudEvents JSON in the body,
   * no header block (JetStream adds `Nats-Msg-Id`), for consumers that read events from the body
   * (clients without NATS headers, SDKs in structured mode). The two are level in speed here
   * (bench/RESULTS.md, peers-*-structured). Either way the transport reads both, and answers a
   * request in the mode it came in.
   */
  contentMode?: 'binary' | 'structured';
  /**
   * Where the transport reports what it cannot throw to a caller: a core publish the server's
   * permissions refused (at error level, `err` a TransportPermissionError). Default: none.
   */
  logger?: Logger;
}

export interface ResolvedNatsOptions extends Required<Omit<NatsTransportOptions, 'token' | 'user' | 'pass' | 'nkeySeed' | 'creds' | 'credsFile' | 'tls' | 'jetstream' | 'name' | 'reconnect' | 'logger'>> {
  servers: string[];
  reconnect: ResolvedReconnectOptions;
  name?: string; token?: string; user?: string; pass?: string; nkeySeed?: string; creds?: string; credsFile?: string;
  /** TLS required (`{}` = system CAs); absent = only when the server requires or offers it. */
  tls?: NatsTlsOptions;
  jetstream?: Required<Omit<NatsJetStreamOptions, 'subjects'>> & { subjects?: string[] };
  logger?: Logger;
}

const positive = (field: string, v: number | undefined, fallback: number): number => {
  if (v === undefined) return fallback;
  if (!(Number.isFinite(v) && v > 0)) throw new OptionsInvalidError(`nats option ${field} must be a positive number, got ${v}`, { details: { field } });
  return v;
};

// Stream and consumer names may not hold `.`, `*`, `>`, whitespace or path separators.
const NAME = /^[A-Za-z0-9_-]{1,255}$/;

const invalid = (field: string, message: string) => new OptionsInvalidError(`nats option ${message}`, { details: { field } });

// nats.js' Node transport speaks TCP: `nats://` and `tls://` (TLS required), or a bare host:port.
const SERVER_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

function resolveServers(o: NatsTransportOptions): string[] {
  const servers = o.servers === undefined ? ['nats://127.0.0.1:4222'] : Array.isArray(o.servers) ? o.servers : [o.servers];
  if (servers.length === 0) throw invalid('servers', 'servers must name at least one server');
  for (const server of servers) {
    if (typeof server !== 'string' || server.trim() === '') throw invalid('servers', `servers must be URLs like nats://host:4222, got ${JSON.stringify(server)}`);
    const scheme = SERVER_SCHEME.exec(server)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'nats' && scheme !== 'tls') throw invalid('servers', `servers must use nats:// or tls://, got ${server}`);
    // A query (?jetstream=1&stream=…) is read by transportFromUrl (natsOptionsFromUrl), never here: it would be ignored.
    if (server.includes('?')) throw invalid('servers', `server ${server} carries a query: pass its settings as options, or use transportFromUrl(url), which reads them`);
  }
  return servers;
}

const TLS_KEYS = new Set(['ca', 'caFile', 'cert', 'certFile', 'key', 'keyFile', 'rejectUnauthorized', 'servername', 'handshakeFirst']);

/** `tls://` servers require TLS as `tls: true` does: nats.js applies one TLS setting to every server. */
function resolveTls(o: NatsTransportOptions, servers: string[]): NatsTlsOptions | undefined {
  const tlsScheme = servers.some((s) => /^tls:\/\//i.test(s));
  const tls = o.tls;
  if (tls === undefined) return tlsScheme ? {} : undefined;
  if (tls === false) {
    if (tlsScheme) throw invalid('tls', 'tls is false but a server URL uses tls://');
    return undefined;
  }
  if (tls === true) return {};
  if (tls === null || typeof tls !== 'object' || Array.isArray(tls)) throw invalid('tls', 'tls must be true, false or an object (ca, caFile, cert, certFile, key, keyFile, rejectUnauthorized, servername, handshakeFirst)');
  const out: NatsTlsOptions = {};
  for (const key of Object.keys(tls)) {
    if (!TLS_KEYS.has(key)) throw invalid(`tls.${key}`, `tls.${key} is not a TLS option (ca, caFile, cert, certFile, key, keyFile, rejectUnauthorized, servername, handshakeFirst)`);
  }
  for (const item of ['ca', 'cert', 'key'] as const) {
    const file = `${item}File` as const;
    if (tls[file] !== undefined && (typeof tls[file] !== 'string' || tls[file] === '')) throw invalid(`tls.${file}`, `tls.${file} must be a file path`);
    if (tls[item] !== undefined && typeof tls[item] !== 'string' && !Buffer.isBuffer(tls[item])) throw invalid(`tls.${item}`, `tls.${item} must be PEM text`);
    if (tls[item] !== undefined && tls[file] !== undefined) throw invalid(`tls.${file}`, `tls.${file} cannot be combined with tls.${item}: give the PEM or its file, not both`);
    if (tls[file] !== undefined) out[file] = tls[file];
    else if (tls[item] !== undefined) out[item] = tls[item];
  }
  if (((out.cert ?? out.certFile) === undefined) !== ((out.key ?? out.keyFile) === undefined)) {
    throw invalid((out.cert ?? out.certFile) === undefined ? 'tls.certFile' : 'tls.keyFile', 'tls.certFile and tls.keyFile (or tls.cert and tls.key) go together (the client certificate and its key)');
  }
  if (tls.handshakeFirst !== undefined && typeof tls.handshakeFirst !== 'boolean') throw invalid('tls.handshakeFirst', 'tls.handshakeFirst must be a boolean');
  if (tls.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== 'boolean') throw invalid('tls.rejectUnauthorized', 'tls.rejectUnauthorized must be a boolean');
  if (tls.servername !== undefined && (typeof tls.servername !== 'string' || tls.servername === '')) throw invalid('tls.servername', 'tls.servername must be a host name');
  if (tls.handshakeFirst) out.handshakeFirst = true;
  if (tls.rejectUnauthorized === false) out.rejectUnauthorized = false;
  if (tls.servername !== undefined) out.servername = tls.servername;
  return out;
}

/** Checks the credentials' form, so a wrong kind of key fails here, naming the option, not as an authorization violation. */
function checkCredentials(o: NatsTransportOptions): void {
  for (const key of ['token', 'user', 'credsFile'] as const) {
    if (o[key] !== undefined && (typeof o[key] !== 'string' || o[key] === '')) throw invalid(key, `${key} must be a non-empty string`);
  }
  if (o.pass !== undefined && typeof o.pass !== 'string') throw invalid('pass', 'pass must be a string');
  if ((o.user === undefined) !== (o.pass === undefined)) throw new OptionsInvalidError('nats options user and pass go together', { details: { field: o.user === undefined ? 'user' : 'pass' } });
  // nats.js signs the server's nonce with one nkey: the seed given, or the one in the creds.
  const signers = (['nkeySeed', 'creds', 'credsFile'] as const).filter((k) => o[k] !== undefined);
  if (signers.length > 1) throw invalid(signers[1]!, `${signers.join(' and ')} exclude each other (each names the nkey that signs in)`);
  if (o.nkeySeed !== undefined) userPublicKey(typeof o.nkeySeed === 'string' ? o.nkeySeed : '', 'nkeySeed');
  if (o.creds !== undefined) parseCreds(typeof o.creds === 'string' ? o.creds : '', 'creds');
}

const RECONNECT_DEFAULTS: ResolvedReconnectOptions = { initialDelayMs: 250, maxDelayMs: 5000, multiplier: 2, jitter: 0.5, maxAttempts: Number.POSITIVE_INFINITY };

/** Applies defaults and rejects bad values with an error naming the field. */
export function resolveNatsOptions(o: NatsTransportOptions = {}): ResolvedNatsOptions {
  const servers = resolveServers(o);
  const tls = resolveTls(o, servers);
  checkCredentials(o);
  const r: ResolvedNatsOptions = {
    servers,
    connectTimeoutMs: positive('connectTimeoutMs', o.connectTimeoutMs, 5000),
    reconnect: resolveReconnectOptions('nats', o.reconnect, RECONNECT_DEFAULTS),
    maxBufferedPublishes: positive('maxBufferedPublishes', o.maxBufferedPublishes, 10_000),
    maxBufferedBytes: positive('maxBufferedBytes', o.maxBufferedBytes, 8 * 1024 * 1024),
    inboxPrefix: o.inboxPrefix ?? '_INBOX',
    contentMode: o.contentMode ?? 'binary',
  };
  if (r.contentMode !== 'binary' && r.contentMode !== 'structured') {
    throw new OptionsInvalidError(`nats option contentMode must be binary or structured, got ${JSON.stringify(o.contentMode)}`, { details: { field: 'contentMode' } });
  }
  for (const k of ['name', 'token', 'user', 'pass', 'nkeySeed', 'creds', 'credsFile'] as const) if (o[k] !== undefined) r[k] = o[k];
  if (o.logger !== undefined) r.logger = o.logger;
  if (tls !== undefined) r.tls = tls;
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
 * Further servers may follow in `servers=h2:4222,h3:4222`, or in the authority through
 * `transportFromUrl` (`nats://h1:4222,h2:4222,h3:4222?…`, split by core's splitServerList). `tls://host:port` (or `tls=1`) requires
 * TLS; `caFile=`, `certFile=`, `keyFile=` (implying TLS) and `credsFile=` take file paths; also
 * `rejectUnauthorized`, `servername`, `handshakeFirst`, `connectTimeoutMs`, the `reconnect*`
 * parameters, `maxBufferedPublishes`, `maxBufferedBytes`, `contentMode` (binary or structured).
 *
 * @example natsOptionsFromUrl(new URL('nats://127.0.0.1:4222?jetstream=1&stream=ORDERS&subjects=orders.>'))
 */
export function natsOptionsFromUrl(url: URL): NatsTransportOptions {
  const p = url.searchParams;
  const scheme = url.protocol === 'tls:' ? 'tls' : 'nats';
  const servers = [`${scheme}://${url.hostname || '127.0.0.1'}:${url.port || '4222'}`];
  // The URL's credentials are connection options, so nats.js uses them on every server of the list.
  for (const s of (p.get('servers') ?? '').split(',')) if (s) servers.push(s.includes('://') ? s : `${scheme}://${s}`);
  const o: NatsTransportOptions = { servers };
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  if (user && pass) { o.user = user; o.pass = pass; } else if (user) o.token = user;
  if (p.get('token')) o.token = p.get('token')!;
  if (p.get('name')) o.name = p.get('name')!;
  if (p.get('credsFile')) o.credsFile = p.get('credsFile')!;
  const tls = tlsOptionsFromUrl(url);
  const handshakeFirst = booleanParam(url, 'handshakeFirst', false);
  if (tls || handshakeFirst) o.tls = { ...tls, ...(handshakeFirst ? { handshakeFirst } : {}) };
  else if (booleanParam(url, 'tls', scheme === 'tls')) o.tls = true;
  const reconnect = reconnectOptionsFromUrl(url);
  if (reconnect) o.reconnect = reconnect;
  for (const k of ['connectTimeoutMs', 'maxBufferedPublishes', 'maxBufferedBytes'] as const) {
    if (p.has(k)) o[k] = numberParam(url, k, 0);
  }
  if (p.has('contentMode')) o.contentMode = p.get('contentMode') as NatsTransportOptions['contentMode'];
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
