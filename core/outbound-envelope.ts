/**
 * Envelopes the Bus makes (publishes, replies, error replies, dead-letter copies) and the checks
 * of what a caller gave for them. Pure: no I/O, no Bus state.
 */
import { jsonCodec, type CodecRegistry } from './codec.js';
import type { Envelope } from './envelope.js';
import { CodecDecodeError, EnvelopeInvalidError, errorCode, errorMessage } from './errors.js';
import { isJsonContentType } from './content-type.js';
import type { PublishOptions } from './handler.js';
import { ERROR_HEADERS, validateHeader, type HeaderLimits } from './headers.js';
import { nowIso } from './clock.js';
import { newEventId } from './random.js';
import { checkTraceparent, childTraceparent, newTraceparent } from './traceparent.js';

const DLQ_MESSAGE_MAX = 1024;
/** Room left for the attributes the Bus adds itself (ids, source, time, trace: well under 512). */
const BUS_ATTRIBUTES_ROOM = 512;

/**
 * The last frozen `headers` object that passed the checks, and its length. Services pass the same
 * frozen headers with every message, and a frozen object cannot change: it needs no second check.
 */
export interface CheckedHeaders { headers?: Readonly<Record<string, string>>; length: number }

/**
 * Checks what a caller gave for an outbound envelope (headers and attribute options). Attributes
 * the Bus makes itself are valid by construction and are not checked.
 */
export function checkCallerHeaders(o: PublishOptions, limits: HeaderLimits, checked: CheckedHeaders): void {
  const headers = o.headers;
  let total = 0;
  if (headers !== undefined) {
    if (headers === checked.headers) total = checked.length;
    else {
      total = checkHeaders(headers, limits);
      if (Object.isFrozen(headers)) { checked.headers = headers; checked.length = total; }
    }
  }
  total += checkAttribute('type', o.type, limits) + checkAttribute('id', o.id, limits)
    + checkAttribute('partitionkey', o.partitionKey, limits) + checkAttribute('datacontenttype', o.contentType, limits);
  if (total > limits.maxTotalLength - BUS_ATTRIBUTES_ROOM) {
    throw new EnvelopeInvalidError(`headers total ${total} characters, over the limit of ${limits.maxTotalLength - BUS_ATTRIBUTES_ROOM} for caller-given attributes`, { details: { limit: limits.maxTotalLength } });
  }
}

/** Checks caller-given headers; returns their length toward the total. */
function checkHeaders(headers: Record<string, string>, limits: HeaderLimits): number {
  let total = 0;
  for (const name in headers) {
    const value = headers[name];
    validateHeader(name, value, limits);
    total += name.length + (value as string).length;
  }
  if (headers.traceparent !== undefined) checkTraceparent(headers.traceparent);
  if (headers.time !== undefined && Number.isNaN(Date.parse(headers.time))) {
    throw new EnvelopeInvalidError(`attribute "time" is not an RFC 3339 timestamp: ${headers.time}`, { details: { attribute: 'time' } });
  }
  return total;
}

/** Checks one caller-given attribute (a publish option); returns its length toward the total. */
function checkAttribute(name: string, value: string | undefined, limits: HeaderLimits): number {
  if (value === undefined) return 0;
  if (value === '') throw new EnvelopeInvalidError(`attribute "${name}" must not be empty`, { details: { attribute: name } });
  validateHeader(name, value, limits);
  return value.length;
}

/**
 * A new envelope from `source` on `subject`. With a `cause` (the message being handled), the
 * trace, correlation and tenant carry forward and `causationid` names it. Built in `into` when
 * given (an object marked as the Bus's own, `publishedEnvelope`).
 */
export function buildEnvelope<T>(source: string, subject: string, data: T, o: PublishOptions, cause: Envelope | undefined, into?: Record<string, unknown>): Envelope<T> {
  const id = o.id ?? newEventId();
  const h = o.headers;
  const env = (into ?? {}) as Envelope<T>;
  if (h !== undefined) Object.assign(env, h);
  // Every attribute in the same order, so all envelopes share one shape.
  env.specversion = '1.0'; env.id = id; env.source = source; env.type = o.type ?? subject; env.time = h?.time ?? nowIso();
  env.traceparent = cause ? childTraceparent(cause.traceparent) : h?.traceparent ?? newTraceparent();
  env.correlationid = cause ? cause.correlationid ?? cause.id : h?.correlationid ?? id;
  if (cause) {
    if (h?.tracestate === undefined && cause.tracestate !== undefined) env.tracestate = cause.tracestate;
    env.causationid = cause.id;
    if (cause.tenant !== undefined) env.tenant = cause.tenant;
  }
  if (o.partitionKey !== undefined) env.partitionkey = o.partitionKey;
  if (data !== undefined) {
    env.data = data;
    env.datacontenttype = o.contentType ?? (data instanceof Uint8Array ? 'application/octet-stream' : 'application/json');
  }
  return env;
}

/**
 * The reply to `request` carrying `data`; encoded when the transport it goes back on carries
 * bytes. Built in `into` when given (an object marked as the Bus's own, `publishedEnvelope`).
 */
export function replyEnvelope(source: string, request: Envelope, data: unknown, encode: CodecRegistry | undefined, into?: Record<string, unknown>): Envelope {
  const env = (into ?? {}) as Envelope;
  env.specversion = '1.0'; env.id = newEventId(); env.source = source; env.type = `${request.type}.reply`; env.time = nowIso();
  env.correlationid = request.correlationid ?? request.id; env.causationid = request.id; env.traceparent = childTraceparent(request.traceparent);
  if (data !== undefined) {
    env.datacontenttype = data instanceof Uint8Array ? 'application/octet-stream' : 'application/json';
    env.data = data;
    if (encode !== undefined && !(data instanceof Uint8Array)) env.data = encode.get(env.datacontenttype).encode(data, env.type);
  }
  return env;
}

/** The reply telling a requester its handler failed; the error travels in reserved headers. */
export function errorReplyEnvelope(source: string, request: Envelope, err: unknown): Envelope {
  return {
    specversion: '1.0', id: newEventId(), source, type: `${request.type}.error`, time: nowIso(),
    correlationid: request.correlationid ?? request.id, causationid: request.id,
    [ERROR_HEADERS.code]: errorCode(err), [ERROR_HEADERS.message]: headerSafe(errorMessage(err)),
  };
}

/** A copy of `envelope` for the dead-letter subject, with `dlq*` headers saying why and where from. */
export function deadLetterCopy(envelope: Envelope, err: unknown, attempts: number, subject: string, service: string): Envelope {
  const copy: Envelope = {
    ...envelope,
    dlqreason: errorCode(err), dlqmessage: headerSafe(errorMessage(err)), dlqattempts: String(attempts),
    dlqsubject: subject, dlqservice: service,
  };
  if (copy.data === undefined) delete copy.datacontenttype;
  // Bytes nobody could decode (a device's broken JSON) must not be decoded again downstream. Bytes
  // never decoded (the message was refused before that) may not be what their content type says
  // either: a structured-mode writer would splice "JSON" bytes into the event as they are, so a
  // device could break the dead letter or forge its members. Those go as opaque bytes unless they parse.
  else if (copy.data instanceof Uint8Array && (copy.datacontenttype === undefined || err instanceof CodecDecodeError
    || (isJsonContentType(copy.datacontenttype) && !parsesAsJson(copy.data)))) copy.datacontenttype = 'application/octet-stream';
  return copy;
}

/**
 * Bytes of data a truncated dead letter keeps: enough to see what the message was, small enough
 * to fit any transport's limit with the `dlq*` headers added.
 */
export const DLQ_TRUNCATED_DATA_BYTES = 4096;

/**
 * A dead-letter copy too large for its transport (the `dlq*` headers pushed a near-limit message
 * over it) cut down to the first DLQ_TRUNCATED_DATA_BYTES of its data, as opaque bytes (a prefix
 * does not decode), with `dlqtruncated` = the data's original size in bytes. `bytes` is the data
 * encoded, when it was not bytes already; undefined drops the data.
 */
export function truncatedDeadLetter(copy: Envelope, bytes: Uint8Array | undefined): Envelope {
  const cut: Envelope = { ...copy, dlqtruncated: String(bytes?.byteLength ?? 0) };
  if (bytes === undefined) { delete cut.data; delete cut.datacontenttype; return cut; }
  cut.data = bytes.subarray(0, DLQ_TRUNCATED_DATA_BYTES);
  cut.datacontenttype = 'application/octet-stream';
  return cut;
}

/** Header values may not hold control characters; error messages sometimes do. */
export function headerSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return clean.length > DLQ_MESSAGE_MAX ? `${clean.slice(0, DLQ_MESSAGE_MAX - 1)}…` : clean;
}

/** An envelope for a log line: binary data as base64. */
export function loggable(env: Envelope): Record<string, unknown> {
  return env.data instanceof Uint8Array ? { ...env, data: undefined, data_base64: Buffer.from(env.data).toString('base64') } : env;
}

/** Whether `bytes` decode as the JSON codec reads them (a dead letter's, so rare: the parse costs nothing that matters). */
function parsesAsJson(bytes: Uint8Array): boolean {
  try { jsonCodec.decode(bytes, ''); return true; } catch { return false; }
}
