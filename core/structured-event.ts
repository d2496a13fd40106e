/**
 * CloudEvents structured mode as the message-oriented bindings write and read it (MQTT 3.1.1,
 * NATS `contentMode: 'structured'`): the whole event as one JSON object in the payload
 * (`application/cloudevents+json`). JSON data is spliced in as the bytes the codec made (nothing
 * parsed and serialised again); other data goes as `data_base64`. A binding may carry one member
 * of its own beside the attributes (MQTT 3.1.1's reply topic, which that protocol has no field for).
 */
import { isUtf8 } from 'node:buffer';
import type { Envelope } from './envelope.js';
import { EnvelopeInvalidError } from './errors.js';
import { isBase64 } from './base64.js';
import { isJsonContentType } from './content-type.js';
import { checkJsonDepth, MAX_JSON_DEPTH } from './json-depth.js';
import { findRepeatedMember, repeatedMemberError } from './json-members.js';
import { refuseInbound, sealedEnvelope } from './inbound-envelope.js';
import { DATA_MEMBER, perAttributeEntry, withinDefaultLimits } from './headers.js';

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';

const EMPTY = Buffer.alloc(0);
const CLOSE_BRACE = 0x7d;
export { isBase64 } from './base64.js';

/**
 * An envelope's data as a Buffer for a binding to send: the Bus hands encoded data to transports
 * that declare `encodesData`; a string is accepted for hand-built envelopes. Anything else throws
 * a TypeError.
 */
export function encodedDataBytes(data: unknown): Buffer {
  if (data === undefined) return EMPTY;
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  throw new TypeError('a binding sends encoded data (Uint8Array): the Bus encodes it before publishing');
}

/**
 * One attribute's member: `"name":` made once, and the last `"name":"value"` written with it,
 * reused while the value repeats (specversion, source, type, content type; time within a
 * millisecond), as the NATS binding keeps its header lines.
 */
interface MemberPiece { readonly start: string; value: string | undefined; piece: string }

const memberPiece = perAttributeEntry((name): MemberPiece => ({ start: JSON.stringify(name) + ':', value: undefined, piece: '' }));

/** Longest value whose piece is kept for reuse: long values seldom repeat, and each kept one stays in memory. */
const MAX_REUSED_VALUE = 256;

function pieceFor(name: string, value: string): string {
  const m = memberPiece(name);
  if (m.value === value) return m.piece;
  const piece = m.start + JSON.stringify(value);
  if (value.length <= MAX_REUSED_VALUE) { m.piece = piece; m.value = value; }
  return piece;
}

/**
 * The structured-mode payload of an envelope. `member`: a binding's own member, left out of the
 * attributes and written with `value` when one is given.
 * @example structuredEventBytes(envelope) // {"specversion":"1.0",…,"data":{…}}
 */
export function structuredEventBytes(envelope: Envelope, member?: string, value?: string): Buffer {
  let head = '{';
  for (const name in envelope) {
    if (name === 'data' || name === 'data_base64' || name === member) continue;
    const v = envelope[name];
    if (typeof v !== 'string') continue;
    if (head.length > 1) head += ',';
    head += pieceFor(name, v);
  }
  if (member !== undefined && value !== undefined) head += `${head.length > 1 ? ',' : ''}${JSON.stringify(member)}:${JSON.stringify(value)}`;
  const data = envelope.data;
  if (data === undefined) return Buffer.from(head + '}', 'utf8');
  if (isJsonContentType(envelope.datacontenttype) && (data instanceof Uint8Array || typeof data === 'string')) {
    // One buffer: the head, the JSON data as the codec made it, the closing brace.
    head += head.length > 1 ? ',"data":' : '"data":';
    const bytes = encodedDataBytes(data);
    const headLength = Buffer.byteLength(head, 'utf8');
    const out = Buffer.allocUnsafe(headLength + bytes.byteLength + 1);
    out.write(head, 0, 'utf8');
    out.set(bytes, headLength);
    out[out.length - 1] = CLOSE_BRACE;
    return out;
  }
  return Buffer.from(`${head}${head.length > 1 ? ',' : ''}"data_base64":"${encodedDataBytes(data).toString('base64')}"}`, 'utf8');
}

/** A structured event read back: the envelope and the binding's own member, if it was there. */
export interface StructuredEvent {
  envelope: Envelope;
  member?: string;
}

/**
 * The envelope of a structured-mode payload, or undefined when the payload is not a CloudEvent in
 * JSON (a device's own JSON, text, bytes). JSON data is handed on decoded; `data_base64` as bytes.
 * Throws CodecTooDeepError for a would-be CloudEvent nested past MAX_JSON_DEPTH (the transport
 * hands it on as raw bytes refused with that code: a dead letter). An event another reader could
 * read differently is returned refused (`refuseInbound`, EnvelopeInvalidError; the Bus
 * dead-letters it): a repeated member name (`details.member`), both `data` and `data_base64`,
 * `data_base64` that is not strict base64, bytes that are not UTF-8. Everything else about the
 * attributes is the Bus's inbound check, as for any envelope a binding did not seal. `member`: a
 * binding's own member, taken out when it is a string.
 */
export function readStructuredEvent(payload: Uint8Array, member?: string): StructuredEvent | undefined {
  return readEvent(payload, member, true);
}

/** readStructuredEvent without the one-pass reader: every event through JSON.parse and the general checks (the oracle the fast path is tested against). */
export function readStructuredEventByParse(payload: Uint8Array, member?: string): StructuredEvent | undefined {
  return readEvent(payload, member, false);
}

function readEvent(payload: Uint8Array, member: string | undefined, onePass: boolean): StructuredEvent | undefined {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  // Cheap checks first: most raw device payloads are rejected without parsing.
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] !== 0x7b /* { */ || bytes.indexOf('"specversion"') < 0) return undefined;
  const text = bytes.toString('utf8');
  return (onePass && i === 0 ? readCommonEvent(text, bytes, member) : undefined) ?? readParsedEvent(text, bytes, member);
}

/**
 * The head of an event in the form signalbus writes: `{`, members `"<name>":"<value>"` (name 1-20
 * lowercase letters or digits, value printable ASCII without `"` or `\\`), then `"data":` or the
 * end. Such members pass every per-header rule but the limits, which the reader counts.
 */
const COMMON_HEAD = /^\{"[a-z0-9]{1,20}":"[ !#-[\]-~]*"(?:,"[a-z0-9]{1,20}":"[ !#-[\]-~]*")*(?:,"data":|\})/;

/**
 * The event of a payload in the form signalbus writes (COMMON_HEAD, then JSON data to the closing
 * brace, nothing after it, UTF-8, no repeats, within core's default limits, a CloudEvent), or
 * undefined when it is anything else (readParsedEvent then says exactly what). The envelope is
 * sealed (core/inbound-envelope.ts), as the NATS header reader's: its attributes passed the
 * per-header rules here, so the Bus checks only the CloudEvents ones. The same envelope as
 * readParsedEvent's, key order included (tests compare the two on generated events).
 */
function readCommonEvent(text: string, bytes: Buffer, member: string | undefined): StructuredEvent | undefined {
  const head = COMMON_HEAD.exec(text);
  if (head === null) return undefined;
  const headEnd = head[0].length;
  const hasData = text.charCodeAt(headEnd - 1) === 0x3a; // ends `"data":`
  if (hasData ? text.charCodeAt(text.length - 1) !== 0x7d : headEnd !== text.length) return undefined;
  if (text.indexOf('\uFFFD') >= 0 && !isUtf8(bytes)) return undefined;
  const env = sealedEnvelope();
  let own: string | undefined;
  let count = 0;
  let total = 0;
  const membersEnd = hasData ? headEnd - 8 : headEnd - 1; // before `,"data":` or the closing brace
  for (let pos = 1; pos < membersEnd;) {
    const nameEnd = text.indexOf('"', pos + 1);
    const valueEnd = text.indexOf('"', nameEnd + 3);
    const name = text.slice(pos + 1, nameEnd);
    const value = text.slice(nameEnd + 3, valueEnd);
    pos = valueEnd + 2; // past `",`
    if (name === member) { if (own !== undefined) return undefined; own = value; continue; }
    if (name === DATA_MEMBER || name === 'data_base64' || Object.hasOwn(env, name)) return undefined;
    env[name] = value;
    total += name.length + value.length;
    if (!withinDefaultLimits(value.length, ++count, total)) return undefined;
  }
  if (env.specversion !== '1.0' || !env.id || !env.source || !env.type) return undefined;
  if (hasData) {
    const data = text.slice(headEnd, text.length - 1);
    checkJsonDepth(data);
    try { env.data = JSON.parse(data); } catch { return undefined; }
  }
  return own === undefined ? { envelope: env as Envelope } : { envelope: env as Envelope, member: own };
}

/** The general reader: JSON.parse of the whole event, then what another reader could read differently. */
function readParsedEvent(text: string, bytes: Buffer, member: string | undefined): StructuredEvent | undefined {
  // Data nested past the limit would overflow whoever walks it next.
  checkJsonDepth(text, MAX_JSON_DEPTH, 1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch { return undefined; }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const e = parsed as Record<string, unknown>;
  if (typeof e.specversion !== 'string' || typeof e.id !== 'string' || typeof e.source !== 'string' || typeof e.type !== 'string') return undefined;
  // What another reader of the same bytes could see differently refuses the event: bytes that
  // are not UTF-8 (read here as U+FFFD), a member named twice (JSON.parse kept the last, another
  // reader may keep the first), data given twice or base64 that is not (Node skips what it cannot read).
  const problem = text.indexOf('\uFFFD') >= 0 && !isUtf8(bytes) ? new EnvelopeInvalidError('a structured event must be UTF-8 JSON')
    : refusalOfMembers(text, e);
  if (problem !== undefined) refuseInbound(e as Envelope, problem);
  let own: string | undefined;
  if (member !== undefined && typeof e[member] === 'string') {
    own = e[member] as string;
    delete e[member];
  }
  if (typeof e.data_base64 === 'string' && e.data === undefined && problem === undefined) {
    e.data = Buffer.from(e.data_base64, 'base64');
    delete e.data_base64;
  }
  return own === undefined ? { envelope: e as Envelope } : { envelope: e as Envelope, member: own };
}

/** Why the members of a parsed structured event refuse it: a repeated member, data given twice, base64 that is not. */
function refusalOfMembers(text: string, e: Record<string, unknown>): EnvelopeInvalidError | undefined {
  const repeated = findRepeatedMember(text);
  if (repeated !== undefined) return repeatedMemberError(repeated);
  return base64DataProblem(e.data, e.data_base64);
}

/**
 * What is wrong with a structured event's `data_base64` (given with `data`, not a string, not
 * strict padded base64, which Node's decoder would read past: "@@@!!" decodes to nothing), or
 * undefined when it is absent or fine. The readers of every binding share it.
 */
export function base64DataProblem(data: unknown, base64: unknown): EnvelopeInvalidError | undefined {
  if (base64 === undefined) return undefined;
  const details = { attribute: 'data_base64' };
  if (data !== undefined) return new EnvelopeInvalidError('an event has either data or data_base64, not both: send the data once', { details });
  if (typeof base64 !== 'string') return new EnvelopeInvalidError('data_base64 must be a string of base64', { details });
  if (!isBase64(base64)) return new EnvelopeInvalidError('data_base64 is not base64 (RFC 4648 §4, padded; no base64url, no whitespace)', { details });
  return undefined;
}
