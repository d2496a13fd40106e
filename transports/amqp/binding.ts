/**
 * The AMQP 0-9-1 binding of a CloudEvent (binary mode, DESIGN.md section 3): every attribute
 * travels as a header `cloudEvents:<attr>`; the basic properties repeat the ones plain AMQP
 * clients look at (`message_id`, `type`, `app_id`, `content_type`, `timestamp`,
 * `correlation_id`); the body is the encoded data. Pure: no I/O, golden-tested both ways.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { AttributeReader, defaultCodecs, derivedEventId, HeaderInvalidError, perAttributeName, refuseInbound, type Envelope } from '../../core/index.js';

export const CE_HEADER_PREFIX = 'cloudEvents:';
/** The CloudEvents AMQP binding also allows `cloudEvents_` (for JMS); accepted inbound. */
const CE_HEADER_PREFIX_ALT = 'cloudEvents_';
const PREFIX_LENGTH = CE_HEADER_PREFIX.length;
/** Delivery count of a retried copy (the broker does not count for classic queues). */
export const ATTEMPT_HEADER = 'x-sb-attempt';
/** Set by a quorum queue on every delivery: how often the message was delivered before. */
export const DELIVERY_COUNT_HEADER = 'x-delivery-count';
/** The subject of a retried copy: its routing key then names the queue it returns to. */
export const SUBJECT_HEADER = 'x-sb-subject';
/**
 * The retry delay tier a copy waits in, matched by the retry (headers) exchange. No `x-` prefix:
 * RabbitMQ's headers exchange ignores `x-` headers when matching.
 */
export const DELAY_HEADER = 'sb-retry-delay';
/** The type of envelopes made up around payloads that are not CloudEvents (as `mqtt.raw` on MQTT). */
export const RAW_TYPE = 'amqp.raw';
/** `source` of messages from publishers that set neither a header nor `app_id`. */
export const UNKNOWN_SOURCE = 'urn:signalbus:amqp:unknown';

/** Basic properties as amqplib takes them on publish and hands them over on delivery. */
export interface AmqpProperties {
  headers?: Record<string, unknown>;
  messageId?: string;
  type?: string;
  appId?: string;
  contentType?: string;
  timestamp?: number;
  correlationId?: string;
  replyTo?: string;
  deliveryMode?: number;
  expiration?: string | number;
  mandatory?: boolean;
}

export interface AmqpWireMessage {
  content: Buffer;
  properties: AmqpProperties;
}

export interface EncodeOptions {
  /** Durable mode: delivery mode 2 (persistent). */
  persistent: boolean;
  /** Overrides `correlation_id` (requests and replies match on it). Default: the envelope's `correlationid`. */
  correlationId?: string;
  replyTo?: string;
}

const EMPTY = Buffer.alloc(0);
// Header names are built once per attribute name, not once per message.
const headerName = perAttributeName((attr) => CE_HEADER_PREFIX + attr);

/**
 * Envelope → AMQP message. `data` should already be bytes (the Bus encodes it); anything else is
 * encoded here with the codec of `datacontenttype`.
 *
 * @example toAmqpMessage(envelope, { persistent: true }).properties.headers['cloudEvents:id'] === envelope.id
 */
export function toAmqpMessage(envelope: Envelope, options: EncodeOptions): AmqpWireMessage {
  const headers: Record<string, unknown> = {};
  for (const name in envelope) {
    if (name === 'data' || name === 'data_base64') continue;
    const v = envelope[name];
    if (typeof v === 'string') headers[headerName(name)] = v;
  }
  const properties: AmqpProperties = {
    headers, messageId: envelope.id, type: envelope.type, appId: envelope.source,
  };
  if (envelope.datacontenttype !== undefined) properties.contentType = envelope.datacontenttype;
  if (envelope.time !== undefined) {
    const ms = Date.parse(envelope.time);
    if (!Number.isNaN(ms)) properties.timestamp = Math.floor(ms / 1000);
  }
  const correlationId = options.correlationId ?? envelope.correlationid;
  if (correlationId !== undefined) properties.correlationId = correlationId;
  if (options.replyTo !== undefined) properties.replyTo = options.replyTo;
  if (options.persistent) properties.deliveryMode = 2;
  return { content: bodyOf(envelope), properties };
}

function bodyOf(envelope: Envelope): Buffer {
  const data = envelope.data;
  if (data === undefined) return EMPTY;
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bytes = defaultCodecs.get(envelope.datacontenttype).encode(data, envelope.type);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A delivered AMQP message, as much of it as the binding reads. */
export interface AmqpDeliveryInput {
  routingKey: string;
  redelivered: boolean;
  content: Buffer;
  properties: AmqpProperties;
  /**
   * Delivered from a quorum queue: its `x-delivery-count` header, which RabbitMQ sets on every
   * delivery (overwriting any a publisher sent), is the exact number of earlier deliveries.
   * Elsewhere the header is a publisher's claim and ignored.
   */
  quorum?: boolean;
}

export interface DecodedDelivery {
  subject: string;
  envelope: Envelope;
  /**
   * 1 on first delivery; retried copies carry their count. Broker redeliveries add one (classic
   * queue: only whether it was redelivered is known) or their exact count (quorum queue).
   */
  attempt: number;
  /** Not a CloudEvent: `id`, `type` or `source` were made up around the payload. */
  raw: boolean;
}

/**
 * AMQP message → envelope with `data` still bytes. Headers win; basic properties fill what the
 * headers do not say, so a plain AMQP publisher that sets `message_id`, `type` and `app_id`
 * produces a proper envelope. A message with neither is handed on as raw.
 *
 * A message without an id (no `cloudEvents:id`, no `message_id`) gets one derived from its subject
 * (the routing key it was published with) and its bytes, so a redelivery or a retried copy keeps
 * its id and dedupe and a scale-out takeover recognise it. Two byte-identical payloads published on
 * one routing key therefore share one id: a publisher whose repeated payloads are distinct events
 * must set `message_id` (or put something distinct, like a timestamp, in the payload).
 *
 * @example fromAmqpMessage({ routingKey: 'a.b', redelivered: false, content, properties }).envelope.id
 */
export function fromAmqpMessage(input: AmqpDeliveryInput): DecodedDelivery {
  const p = input.properties;
  const headers = p.headers;
  // Attributes go through core's reader: `cloudEvents:id` and `cloudEvents_id` together are a
  // repeat, and limits hold (core/inbound-envelope.ts).
  const reader = new AttributeReader();
  const env = reader.attributes;
  let subject = input.routingKey;
  let attempt = 1;
  let cloudEvent = false;
  if (headers) {
    for (const key in headers) {
      if (key.startsWith(CE_HEADER_PREFIX) || key.startsWith(CE_HEADER_PREFIX_ALT)) {
        const name = key.slice(PREFIX_LENGTH);
        const value = headerString(headers[key]);
        if (!(typeof value === 'string' ? reader.add(name, value, false) : reader.refuse(headerProblem(key, value)))) break;
      }
    }
    cloudEvent = env.specversion !== undefined;
    const s = headers[SUBJECT_HEADER];
    if (typeof s === 'string') subject = s;
    const a = headers[ATTEMPT_HEADER];
    if (typeof a === 'number' && a >= 1) attempt = Math.floor(a);
  }
  const count = input.quorum ? headers?.[DELIVERY_COUNT_HEADER] : undefined;
  if ((typeof count === 'number' || typeof count === 'bigint') && count >= 0) attempt += Number(count);
  else if (input.redelivered) attempt++;
  env.specversion ??= '1.0';
  if (env.id === undefined && p.messageId != null) env.id = String(p.messageId);
  if (env.type === undefined && p.type != null) env.type = String(p.type);
  const raw = !cloudEvent && (env.id === undefined || env.type === undefined);
  env.id ??= rawMessageId(subject, input.content);
  env.type ??= RAW_TYPE;
  if (env.source === undefined) env.source = p.appId != null ? String(p.appId) : UNKNOWN_SOURCE;
  if (env.time === undefined && typeof p.timestamp === 'number') {
    const time = isoTime(p.timestamp);
    if (time !== undefined) env.time = time;
  }
  if (env.datacontenttype === undefined && p.contentType != null) env.datacontenttype = String(p.contentType);
  if (env.correlationid === undefined && p.correlationId != null) env.correlationid = String(p.correlationId);
  if (input.content.length > 0) {
    env.data = input.content;
    if (raw && env.datacontenttype === undefined) env.datacontenttype = looksLikeJson(input.content) ? 'application/json' : 'application/octet-stream';
  }
  if (reader.problem !== undefined) refuseInbound(env as Envelope, reader.problem);
  return { subject, envelope: env as Envelope, attempt, raw };
}

function headerProblem(key: string, value: NOT_A_STRING): HeaderInvalidError {
  return new HeaderInvalidError(value === NOT_UTF8 ? `header ${key} holds bytes that are not UTF-8` : `header ${key} has no string form (a table, array or void)`,
    { details: { header: key } });
}

/** The id of a message that brought none: the same subject and bytes give the same id, in every process. */
export function rawMessageId(subject: string, content: Buffer): string {
  return derivedEventId(RAW_TYPE, subject, createHash('sha256').update(content).digest('hex'));
}

function looksLikeJson(b: Buffer): boolean {
  let i = 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  return b[i] === 0x7b || b[i] === 0x5b;
}

const NOT_UTF8 = Symbol('not UTF-8');
const NO_STRING_FORM = Symbol('no string form');
type NOT_A_STRING = typeof NOT_UTF8 | typeof NO_STRING_FORM;

/** A header value as a CloudEvents string; tables, arrays, void and bytes that are not UTF-8 have none. */
function headerString(v: unknown): string | NOT_A_STRING {
  switch (typeof v) {
    case 'string': return v;
    case 'number': case 'boolean': case 'bigint': return String(v);
    case 'object':
      if (v === null) return NO_STRING_FORM;
      if (Buffer.isBuffer(v)) return isUtf8(v) ? v.toString('utf8') : NOT_UTF8;
      if ((v as { '!'?: string })['!'] === 'timestamp') return isoTime(Number((v as { value: number }).value)) ?? NO_STRING_FORM;
      return NO_STRING_FORM;
    default: return NO_STRING_FORM;
  }
}

/**
 * An AMQP timestamp (seconds) as RFC 3339, or undefined past what a Date holds: the field is 64
 * bits, and toISOString throws a RangeError on anything beyond year 275760.
 */
function isoTime(seconds: number): string | undefined {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Headers a retried copy must not carry over: the broker's own dead-lettering history and delivery count. */
export function isBrokerHeader(name: string): boolean {
  return name === 'x-death' || name === DELIVERY_COUNT_HEADER || name.startsWith('x-first-death') || name.startsWith('x-last-death');
}

/**
 * The properties of a retried copy of `original`: same identity and body, delivery count and
 * subject in headers, routed by the retry exchange to the tier that waits `tierMs`.
 */
export function retryCopyProperties(original: AmqpProperties, subject: string, nextAttempt: number, tierMs: number, persistent: boolean): AmqpProperties {
  const headers: Record<string, unknown> = {};
  if (original.headers) for (const k in original.headers) if (!isBrokerHeader(k)) headers[k] = original.headers[k];
  headers[ATTEMPT_HEADER] = nextAttempt;
  headers[SUBJECT_HEADER] = subject;
  headers[DELAY_HEADER] = String(tierMs);
  const out: AmqpProperties = { headers };
  if (original.messageId != null) out.messageId = original.messageId;
  if (original.type != null) out.type = original.type;
  if (original.appId != null) out.appId = original.appId;
  if (original.contentType != null) out.contentType = original.contentType;
  if (original.timestamp != null) out.timestamp = original.timestamp;
  if (original.correlationId != null) out.correlationId = original.correlationId;
  if (persistent || original.deliveryMode === 2) out.deliveryMode = 2;
  return out;
}
