/**
 * The Redis Streams binding: how one envelope becomes one stream entry and back. Pure (no I/O),
 * golden-tested both ways in binding.test.ts.
 *
 * An entry is a flat list of field/value pairs. Every envelope attribute is one field under its
 * own name (`specversion 1.0 id … type …`), the body is the field `data`, stored as raw bytes
 * (Redis strings are binary-safe, so nothing is base64'd). CloudEvents reserves `data`, and
 * attribute names are `[a-z0-9]{1,20}`, so the transport's own fields start with `_` and can never
 * collide with an extension: `_replyto` (where a request's reply goes), `_expires` (when the
 * requester stops waiting, epoch ms) and `_inreplyto` (the request a reply answers).
 */
import { EnvelopeInvalidError, isSubject, type Envelope } from '../../core/index.js';

/** The body field. */
export const DATA_FIELD = 'data';
/** On requests: the stream key the reply goes to. */
export const REPLY_TO_FIELD = '_replyto';
/** On requests: epoch ms after which nobody waits for the reply. */
export const EXPIRES_FIELD = '_expires';
/** On replies: the id of the request envelope. */
export const IN_REPLY_TO_FIELD = '_inreplyto';

/** Transport fields that travel next to the envelope. */
export interface EntryMeta {
  replyTo?: string;
  expires?: number;
  inReplyTo?: string;
}

const decoder = new TextDecoder();
const text = (v: Uint8Array | string) => (typeof v === 'string' ? v : decoder.decode(v));
/** A Buffer over the same bytes (no copy): the redis client sends Buffers as they are. */
const toBuffer = (v: Uint8Array | string) => (typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

/** A field value as XADD takes it. */
export type FieldValue = string | Buffer;

/**
 * The XADD field/value list for an envelope (data already encoded to bytes by the Bus).
 *
 * @example
 * toRedisEntry({ specversion: '1.0', id: '1', source: 's', type: 't', data: Buffer.from('{}') })
 * // ['specversion', '1.0', 'id', '1', 'source', 's', 'type', 't', 'data', <Buffer 7b 7d>]
 */
export function toRedisEntry(envelope: Envelope, meta?: EntryMeta): FieldValue[] {
  const fields: FieldValue[] = [];
  for (const name in envelope) {
    const value = envelope[name];
    // `data` goes last as bytes; anything that is not a string is not an attribute.
    if (name !== DATA_FIELD && name !== 'data_base64' && typeof value === 'string') fields.push(name, value);
  }
  if (meta?.replyTo !== undefined) fields.push(REPLY_TO_FIELD, meta.replyTo);
  if (meta?.expires !== undefined) fields.push(EXPIRES_FIELD, String(meta.expires));
  if (meta?.inReplyTo !== undefined) fields.push(IN_REPLY_TO_FIELD, meta.inReplyTo);
  const data = envelope.data;
  if (data !== undefined) {
    if (!(data instanceof Uint8Array)) {
      throw new EnvelopeInvalidError('data must be encoded to bytes before it reaches the redis transport (capabilities.encodesData)', { details: { attribute: 'data' } });
    }
    fields.push(DATA_FIELD, toBuffer(data));
  }
  return fields;
}

/** An entry read back: the envelope, its transport fields and whether it was made up around a foreign entry. */
export interface DecodedEntry extends EntryMeta {
  envelope: Envelope;
  /** The entry was not a CloudEvent (or a malformed one): the envelope was made up around it, and this says why. */
  notCloudEvent?: EnvelopeInvalidError;
}

/** Why the fields of an entry do not make a CloudEvent, or undefined when they do. */
function entryProblem(subject: string, entryId: string, env: Record<string, unknown>): EnvelopeInvalidError | undefined {
  if (env.specversion === undefined) {
    return new EnvelopeInvalidError(`entry ${entryId} on ${subject} is not a CloudEvent (no specversion field)`, { details: { subject, entryId } });
  }
  if (env.specversion !== '1.0') {
    return new EnvelopeInvalidError(`entry ${entryId} on ${subject} has specversion ${JSON.stringify(env.specversion)}; expected "1.0"`, { details: { subject, attribute: 'specversion' } });
  }
  for (const attr of ['id', 'source', 'type'] as const) {
    if (typeof env[attr] !== 'string' || env[attr] === '') {
      return new EnvelopeInvalidError(`entry ${entryId} on ${subject} lacks the ${attr} field`, { details: { subject, attribute: attr } });
    }
  }
  return undefined;
}

/**
 * The envelope of a stream entry, from the flat field/value list XREAD returns (Buffers).
 * Without `specversion` the entry was written by something that does not speak CloudEvents
 * (`XADD devices.d1 * temperature 21`): an envelope is made up around it (id = entry id, type =
 * subject, data = the `data` field, or all fields as a JSON object) and `notCloudEvent` says why;
 * the Bus hands it to raw subscriptions and dead-letters it elsewhere.
 *
 * @example
 * fromRedisEntry('a.b', '1700000000000-0', [Buffer.from('specversion'), Buffer.from('1.0'), …])
 */
export function fromRedisEntry(subject: string, entryId: string, fields: ReadonlyArray<Uint8Array | string>): DecodedEntry {
  const env: Record<string, unknown> = {};
  const out: DecodedEntry = { envelope: env as Envelope };
  let data: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = text(fields[i]!);
    const value = fields[i + 1]!;
    if (name === DATA_FIELD) data = toBuffer(value);
    else if (name === REPLY_TO_FIELD) out.replyTo = text(value);
    else if (name === EXPIRES_FIELD) out.expires = Number(text(value));
    else if (name === IN_REPLY_TO_FIELD) out.inReplyTo = text(value);
    else if (env[name] === undefined) env[name] = text(value);
  }
  const problem = entryProblem(subject, entryId, env);
  if (problem !== undefined) return { ...out, envelope: wrapForeignEntry(subject, entryId, fields), notCloudEvent: problem };
  if (data !== undefined) env.data = data;
  return out;
}

/**
 * A CloudEvent made up around an entry some other producer wrote (raw subscriptions, dead letters
 * of entries that are not CloudEvents): id = entry id, type = subject, time = the entry id's
 * milliseconds; data = the `data` field when it is the only field, else every field as a JSON object.
 *
 * @example wrapForeignEntry('devices.d1', '1700000000000-0', ['t', '21']).data // bytes of {"t":"21"}
 */
export function wrapForeignEntry(subject: string, entryId: string, fields: ReadonlyArray<Uint8Array | string>): Envelope {
  const ms = Number(entryId.slice(0, entryId.indexOf('-')));
  const env: Envelope = {
    specversion: '1.0', id: entryId, source: `redis:${subject}`, type: subject,
    time: new Date(Number.isFinite(ms) && ms > 0 ? ms : Date.now()).toISOString(),
  };
  if (fields.length === 2 && text(fields[0]!) === DATA_FIELD) {
    env.datacontenttype = 'application/octet-stream';
    env.data = toBuffer(fields[1]!);
    return env;
  }
  const object: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) object[text(fields[i]!)] = text(fields[i + 1]!);
  env.datacontenttype = 'application/json';
  env.data = Buffer.from(JSON.stringify(object));
  return env;
}

/**
 * The stream key of a subject: one stream per subject, under a configurable prefix.
 * @example streamKey('sb:', 'sensor.reading.berlin') // 'sb:sensor.reading.berlin'
 */
export function streamKey(prefix: string, subject: string): string {
  return prefix + subject;
}

/**
 * The subject a stream key holds, or undefined for keys that are not subject streams (reply
 * streams, other applications' keys that happen to share the prefix).
 * @example subjectOfKey('sb:', 'sb:sensor.reading') // 'sensor.reading'
 */
export function subjectOfKey(prefix: string, key: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const subject = key.slice(prefix.length);
  return isSubject(subject) ? subject : undefined;
}

/**
 * The SCAN `MATCH` glob that finds every stream a pattern may cover: the prefix and the pattern's
 * literal leading tokens, then `*` (the exact match is done with the compiled pattern afterwards,
 * since a glob `*` also crosses dots).
 * @example scanGlob('sb:', 'sensor.*.berlin') // 'sb:sensor.*'
 */
export function scanGlob(prefix: string, pattern: string): string {
  const tokens = pattern.split('.');
  const wild = tokens.findIndex((t) => t === '*' || t === '>');
  if (wild < 0) return escapeGlob(prefix + pattern);
  return escapeGlob(prefix + tokens.slice(0, wild).map((t) => `${t}.`).join('')) + '*';
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
