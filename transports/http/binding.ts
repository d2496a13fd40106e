/**
 * The CloudEvents HTTP protocol binding (binary, structured and batch modes), pure: envelopes in,
 * header maps and body bytes out, and back. No I/O, so it is golden-tested both ways and the
 * gateway, the client and the webhook sender share it.
 *
 * Binary mode: every attribute travels as a `ce-<name>` header, `datacontenttype` as
 * `Content-Type`, the data bytes as the body. Header values are percent-encoded where the binding
 * spec asks (space, `"`, `%`, and anything outside printable ASCII, as UTF-8) and decoded on the
 * way in. Structured mode: the whole event is one `application/cloudevents+json` document; data
 * goes in `data` when its content type is JSON (or text), else base64 in `data_base64` (read
 * strictly: padded RFC 4648 §4 base64 only, since Node's decoder would skip what it cannot read).
 *
 * Inbound envelopes carry `data` as a Uint8Array: the Bus decodes it with the envelope's
 * `datacontenttype` (the transport declares `encodesData`). Everything read passes core's inbound
 * rules (core/inbound-envelope.ts, the same on every transport), so control characters, bad names,
 * repeats, malformed percent-encoding, header bytes that are not UTF-8 and oversized headers are
 * refused with HeaderInvalidError / EnvelopeInvalidError; a malformed traceparent starts a new trace.
 *
 * @example
 * const { headers, body } = toHttpBinary(envelope);            // POST it
 * const env = fromHttpBinary(req.headers, bodyBytes);          // on the receiving side
 */
import { isUtf8 } from 'node:buffer';
import {
  checkInboundEnvelope, AttributeReader, DEFAULT_HEADER_LIMITS, EnvelopeInvalidError, HeaderInvalidError, MAX_JSON_DEPTH, checkJsonDepth, findRepeatedMember,
  base64DataProblem, isJsonContentType, mediaType, percentEncodeHeaderValue, perAttributeName, repeatedMemberError, type Envelope, type HeaderLimits,
} from '../../core/index.js';
import { BodyInvalidError } from './errors.js';

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';
export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';

// The routes of the protocol, shared by the client transport and the gateway (gateway/).
/** `POST <EVENTS_PATH><subject>` publishes one event (or a batch). */
export const EVENTS_PATH = '/v1/events/';
/** `POST <REQUESTS_PATH><subject>` sends a request and answers with the reply. */
export const REQUESTS_PATH = '/v1/requests/';
/** `GET <STREAM_PATH><pattern>[?group=…]` is a server-sent event stream of a subscription. */
export const STREAM_PATH = '/v1/stream/';
/** Where a stream client answers a request it received (the SSE event's `reply` field is the token). */
export const REPLIES_PATH = '/v1/replies/';
/** Request header a client uses to ask for a request/reply timeout (ms), capped by the gateway's `maxRequestTimeoutMs`. */
export const TIMEOUT_HEADER = 'x-signalbus-timeout-ms';

/** Headers as Node gives them (lowercase names) or as a plain map to send. */
export type HeaderMap = Record<string, string | string[] | number | undefined>;

/** One HTTP message: headers to send (lowercase names) and the body, absent when there is no data. */
export interface HttpMessage {
  headers: Record<string, string>;
  body?: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

// ------------------------------------------------------------------ binary

/**
 * The binary-mode message of an envelope whose `data` is bytes (or absent).
 * @example toHttpBinary({ specversion: '1.0', id: '1', source: 's', type: 't', datacontenttype: 'application/json', data: bytes })
 */
export function toHttpBinary(envelope: Envelope): HttpMessage {
  const headers: Record<string, string> = {};
  for (const name in envelope) {
    if (name === 'data' || name === 'data_base64') continue;
    const value = envelope[name];
    if (typeof value !== 'string') continue;
    if (name === 'datacontenttype') headers['content-type'] = value;
    else headers[headerName(name)] = percentEncodeHeaderValue(value);
  }
  return envelope.data === undefined ? { headers } : { headers, body: dataBytes(envelope) };
}

/**
 * The envelope of a binary-mode message. Throws HeaderInvalidError / EnvelopeInvalidError.
 * @example fromHttpBinary({ 'ce-id': '1', 'ce-source': 's', 'ce-type': 't', 'ce-specversion': '1.0' }, new Uint8Array())
 */
export function fromHttpBinary(headers: HeaderMap, body: Uint8Array | undefined, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): Envelope {
  // Through core's reader, as on every transport (core/inbound-envelope.ts): repeats, strict
  // percent-decoding and limits; then the envelope rules, a malformed traceparent restarting the trace.
  const reader = new AttributeReader(limits);
  const env = reader.attributes;
  for (const key in headers) {
    // Node lowercases incoming names; plain maps from callers may not.
    const lower = key.length > 3 && (key.charCodeAt(0) | 32) === 99 && (key.charCodeAt(1) | 32) === 101 && key.charCodeAt(2) === 45 ? key.toLowerCase() : undefined;
    if (lower === undefined) continue;
    const value = headers[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') {
      throw new HeaderInvalidError(`header ${lower} must appear once`, { details: { header: lower } });
    }
    if (!reader.add(lower.slice(3), utf8HeaderValue(lower, value), true)) throw reader.problem!;
  }
  const contentType = headers['content-type'] ?? headers['Content-Type'];
  if (typeof contentType === 'string' && contentType.length > 0) env.datacontenttype = contentType;
  if (body !== undefined && body.byteLength > 0) env.data = body;
  checkInboundEnvelope(env, limits);
  return env;
}

/**
 * A header value as Node hands it (each byte one latin1 character) read as the UTF-8 it must be:
 * HeaderInvalidError when those bytes are not UTF-8. Values with characters above U+00FF come
 * from a caller's map, not from the wire, and are kept.
 */
export function utf8HeaderValue(header: string, value: string): string {
  let high = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff) return value;
    if (c >= 0x80) high = true;
  }
  if (!high) return value;
  const bytes = Buffer.from(value, 'latin1');
  if (!isUtf8(bytes)) throw new HeaderInvalidError(`header ${header} holds bytes that are not UTF-8`, { details: { header } });
  return bytes.toString('utf8');
}

/** `ce-<attribute>`, made once per attribute name rather than once per message. */
const headerName = perAttributeName((attribute) => `ce-${attribute}`);

/** Decodes percent-encoding (UTF-8), strictly: HeaderInvalidError when it is malformed (NATS keeps such values as they came). */
export function decodeHeaderValue(header: string, value: string): string {
  if (value.indexOf('%') < 0) return value;
  try { return decodeURIComponent(value); } catch (cause) {
    throw new HeaderInvalidError(`header ${header} has malformed percent-encoding`, { cause, details: { header } });
  }
}

// ------------------------------------------------------------------ structured

/**
 * The structured-mode message of an envelope (`application/cloudevents+json`).
 * @example toHttpStructured(envelope).body // UTF-8 JSON of the whole event
 */
export function toHttpStructured(envelope: Envelope): HttpMessage {
  return { headers: { 'content-type': `${STRUCTURED_CONTENT_TYPE}; charset=utf-8` }, body: encoder.encode(JSON.stringify(toJsonEvent(envelope))) };
}

/** The CloudEvents JSON-format object of an envelope (data bytes become `data` or `data_base64`). */
export function toJsonEvent(envelope: Envelope): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name in envelope) {
    if (name === 'data' || name === 'data_base64') continue;
    const value = envelope[name];
    if (value !== undefined) out[name] = value;
  }
  const data = envelope.data;
  if (data === undefined) return out;
  if (!(data instanceof Uint8Array)) { out.data = data; return out; }
  const kind = contentKind(envelope.datacontenttype);
  if (kind !== 'binary') {
    try {
      const text = decoder.decode(data);
      // Too deep to be written out again as JSON (stringify recurses): such data goes as bytes.
      if (kind === 'json') checkJsonDepth(text);
      out.data = kind === 'json' ? JSON.parse(text) : text;
      return out;
    } catch { /* not what it claims to be: carry the bytes as they are */ }
  }
  out.data_base64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  return out;
}

/**
 * The envelope of a structured-mode body. Throws BodyInvalidError (not JSON, not an object) or
 * EnvelopeInvalidError / HeaderInvalidError; EnvelopeInvalidError (`details.member`) too for an
 * event that repeats a member name (JSON.parse keeps the last, another reader may keep the first).
 */
export function fromHttpStructured(body: Uint8Array, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): Envelope {
  const text = utf8Text(body);
  // One level for the event object around `data`.
  const event = parseJson(text, 1);
  const repeated = findRepeatedMember(text);
  if (repeated !== undefined) throw repeatedMemberError(repeated);
  return fromJsonEvent(event, limits);
}

/** The envelope of one CloudEvents JSON-format object, data turned into bytes. */
export function fromJsonEvent(event: unknown, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): Envelope {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new EnvelopeInvalidError('a structured event must be a JSON object');
  }
  const env: Record<string, unknown> = { ...(event as Record<string, unknown>) };
  const { data, data_base64: base64 } = env;
  delete env.data; delete env.data_base64;
  if (base64 !== undefined) {
    const problem = base64DataProblem(data, base64);
    if (problem !== undefined) throw problem;
    env.data = new Uint8Array(Buffer.from(base64 as string, 'base64'));
    env.datacontenttype ??= 'application/octet-stream';
  } else if (data !== undefined) {
    if (env.datacontenttype === undefined) env.datacontenttype = 'application/json';
    // Checked before contentKind reads it: a number here was a TypeError (a 500 at the gateway).
    if (typeof env.datacontenttype !== 'string') throw new EnvelopeInvalidError('datacontenttype must be a string', { details: { attribute: 'datacontenttype' } });
    const kind = contentKind(env.datacontenttype);
    env.data = encoder.encode(kind !== 'json' && typeof data === 'string' ? data : JSON.stringify(data));
  }
  checkInboundEnvelope(env, limits);
  return env;
}

// ------------------------------------------------------------------ batch

/** A batch body (`application/cloudevents-batch+json`) of envelopes. */
export function toHttpBatch(envelopes: Envelope[]): HttpMessage {
  return { headers: { 'content-type': `${BATCH_CONTENT_TYPE}; charset=utf-8` }, body: encoder.encode(JSON.stringify(envelopes.map(toJsonEvent))) };
}

/**
 * The envelopes of a batch body; the first bad event fails it all (BodyInvalidError naming its
 * index, `details.reason` the code of what was wrong with it: SB_ERR_ENVELOPE_INVALID for an
 * event that repeats a member name, as for other invalid events).
 */
export function fromHttpBatch(body: Uint8Array, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): Envelope[] {
  const text = utf8Text(body);
  // Two levels for the batch array and the event object around `data`.
  const parsed = parseJson(text, 2);
  if (!Array.isArray(parsed)) throw new BodyInvalidError('a batch must be a JSON array of events');
  // The first event that repeats a member name is refused in its turn, like any other bad event.
  const repeated = findRepeatedMember(text, { elements: true });
  return parsed.map((event, index) => {
    try {
      if (repeated !== undefined && repeated.index === index) throw repeatedMemberError({ name: repeated.name });
      return fromJsonEvent(event, limits);
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      throw new BodyInvalidError(`batch event ${index} is invalid: ${(cause as Error).message}`, { cause, details: { index, reason: code } });
    }
  });
}

// ------------------------------------------------------------------ helpers

/** `json` for application/json and `+json` (and no content type), `text` for text/*, else `binary`. */
export function contentKind(contentType: string | undefined): 'json' | 'text' | 'binary' {
  if (isJsonContentType(contentType)) return 'json';
  return mediaType(contentType).startsWith('text/') ? 'text' : 'binary';
}

/** The text of a JSON body; BodyInvalidError when it is not UTF-8. */
function utf8Text(body: Uint8Array): string {
  try { return decoder.decode(body); } catch (cause) {
    throw new BodyInvalidError('body is not valid UTF-8 JSON: not UTF-8', { cause });
  }
}

/**
 * Parses the text of a JSON body; CodecTooDeepError when its data nests past MAX_JSON_DEPTH under
 * `enclosing` levels (checked first: the parsed value would overflow the next walk of it).
 */
function parseJson(text: string, enclosing: number): unknown {
  checkJsonDepth(text, MAX_JSON_DEPTH, enclosing);
  try { return JSON.parse(text); } catch (cause) {
    throw new BodyInvalidError(`body is not valid UTF-8 JSON: ${(cause as Error).message}`, { cause });
  }
}

function dataBytes(envelope: Envelope): Uint8Array {
  const data = envelope.data;
  if (data instanceof Uint8Array) return data;
  // Callers outside a Bus may hand decoded data; encode it the way the content type says.
  if (typeof data === 'string' && contentKind(envelope.datacontenttype) !== 'json') return encoder.encode(data);
  return encoder.encode(JSON.stringify(data));
}
