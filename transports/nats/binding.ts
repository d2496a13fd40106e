/**
 * The NATS binding (binary content mode): envelope attributes travel as NATS headers named
 * `ce-<attr>`, `datacontenttype` as `content-type` (as in the CloudEvents NATS and HTTP bindings),
 * `data` as the body. Header values are percent-encoded where they hold a space, `"`, `%` or
 * anything outside printable ASCII, so they survive NATS' header parser (which trims and splits
 * on CR/LF) byte for byte. Structured content mode (`contentMode: 'structured'`): the whole event
 * as CloudEvents JSON in the body and no header block (JetStream adds `Nats-Msg-Id`). Inbound,
 * both modes are read whatever the transport sends. Pure: no I/O, golden-tested both ways.
 */
import { isUtf8 } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import {
  AttributeReader, CodecEncodeError, CodecTooDeepError, DEFAULT_HEADER_LIMITS, HeaderInvalidError, percentDecodeHeaderValue, percentEncodeHeaderValue,
  perAttributeEntry, readStructuredEvent, refuseInbound, structuredEventBytes, type EnvelopeInvalidError, type Envelope, type StructuredEvent,
} from '../../core/index.js';
import { cloudEventMessage, cloudEventProblem, HeaderShapes, NO_SPECVERSION } from './common-block.js';

export { HeaderShapes } from './common-block.js';

/** Prefix of every attribute header. */
export const CE_HEADER_PREFIX = 'ce-';
/** Where `datacontenttype` travels. */
export const CONTENT_TYPE_HEADER = 'content-type';
/** JetStream's de-duplication header; signalbus sets it to the envelope id. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';
/** On requests carried through a JetStream stream: where the reply goes (the stream keeps no reply subject). */
export const REPLY_TO_HEADER = 'sb-reply-to';

const HEADER_LINE_START = 'NATS/1.0\r\n';

/**
 * One attribute's header line: its start (`ce-<attr>: `, `content-type: ` for datacontenttype),
 * built once, and the last line written with it, reused while the value stays the same. Most
 * values repeat from one message to the next (specversion, source, type, content type; time
 * within a millisecond), and each fresh line costs a percent-encoding scan and two joins.
 */
interface HeaderLine { readonly start: string; value: string | undefined; line: string }

const headerLine = perAttributeEntry((attr): HeaderLine => ({
  start: (attr === 'datacontenttype' ? CONTENT_TYPE_HEADER : CE_HEADER_PREFIX + attr) + ': ', value: undefined, line: '',
}));

/** Longest value whose line is kept for reuse: long values seldom repeat, and each kept one stays in memory. */
const MAX_REUSED_VALUE = 256;

/** `name: value` as a header line, CRLF included, the value percent-encoded. */
function lineFor(name: string, value: string): string {
  const h = headerLine(name);
  if (h.value === value) return h.line;
  const line = h.start + percentEncodeHeaderValue(value) + '\r\n';
  if (value.length <= MAX_REUSED_VALUE) { h.line = line; h.value = value; }
  return line;
}
/**
 * The NATS header block (`NATS/1.0\r\n…\r\n\r\n`) for an envelope, with `Nats-Msg-Id` = id when
 * `withMsgId` (JetStream) and `sb-reply-to` when a request travels through a stream.
 *
 * @example toNatsHeaders({ specversion: '1.0', id: '1', source: 's', type: 't' }, false)
 * // 'NATS/1.0\r\nce-specversion: 1.0\r\nce-id: 1\r\nce-source: s\r\nce-type: t\r\n\r\n'
 */
export function toNatsHeaders(envelope: Envelope, withMsgId: boolean, replyTo?: string): string {
  let block = HEADER_LINE_START;
  for (const name in envelope) {
    if (name === 'data' || name === 'data_base64') continue;
    const value = envelope[name];
    if (typeof value !== 'string') continue;
    block += lineFor(name, value);
  }
  return block + streamLines(envelope, withMsgId, replyTo) + '\r\n';
}

/** The header lines a JetStream stream needs in either mode: `Nats-Msg-Id` when `withMsgId`, `sb-reply-to` for a request through it. */
function streamLines(envelope: Envelope, withMsgId: boolean, replyTo: string | undefined): string {
  let lines = '';
  if (withMsgId) lines += MSG_ID_HEADER + ': ' + percentEncodeHeaderValue(natsMsgId(envelope)) + '\r\n';
  if (replyTo !== undefined) lines += REPLY_TO_HEADER + ': ' + replyTo + '\r\n';
  return lines;
}

/**
 * The JetStream de-duplication id: the envelope id. A dead-letter copy keeps the original's id
 * but must not be dropped as a duplicate of it, so it gets `<id>:dlq`.
 */
export function natsMsgId(envelope: Envelope): string {
  return envelope.dlqreason === undefined ? envelope.id : `${envelope.id}:dlq`;
}

const EMPTY = new Uint8Array(0);

/**
 * The body for an envelope: `data`, which the Bus has encoded to bytes (the transport declares
 * `encodesData`). Anything else is a caller's mistake, refused rather than encoded a second way.
 */
export function toNatsBody(envelope: Envelope): Uint8Array {
  const data = envelope.data;
  if (data === undefined) return EMPTY;
  if (data instanceof Uint8Array) return data;
  throw new CodecEncodeError(`nats carries data as bytes: encode it before publishing (the Bus does), got ${typeof data} for ${envelope.type}`,
    { details: { type: envelope.type, datacontenttype: envelope.datacontenttype } });
}

/** What goes on the wire for one message: the body, and the header block when there is one. */
export interface NatsWire {
  body: Uint8Array;
  headers: Uint8Array | undefined;
}

/** NatsWire with the header block as its text (ASCII; '' when there is none), as a frame is written from it (frames.ts). */
export interface NatsWireText {
  body: Uint8Array;
  headerBlock: string;
}

/**
 * The wire form of an envelope: binary mode (attributes in the header block, data the body) or
 * structured mode (the event as JSON in the body, no header block unless JetStream needs its
 * `Nats-Msg-Id` or a request through a stream its `sb-reply-to`). Header blocks are ASCII
 * (values are percent-encoded), so latin1 is exact and cheaper than UTF-8. Over the server's
 * max_payload, nats.js' own check refuses the publish (MessageTooLargeError).
 */
export function toNatsWire(envelope: Envelope, structured: boolean, withMsgId: boolean, replyTo?: string): NatsWire {
  const { body, headerBlock } = toNatsWireText(envelope, structured, withMsgId, replyTo);
  return { body, headers: headerBlock === '' ? undefined : Buffer.from(headerBlock, 'latin1') };
}

/** toNatsWire with the header block left as text. */
export function toNatsWireText(envelope: Envelope, structured: boolean, withMsgId: boolean, replyTo?: string): NatsWireText {
  const data = toNatsBody(envelope); // refuses data that is not bytes, in either mode
  if (!structured) return { body: data, headerBlock: toNatsHeaders(envelope, withMsgId, replyTo) };
  const lines = streamLines(envelope, withMsgId, replyTo);
  return { body: structuredEventBytes(envelope), headerBlock: lines === '' ? '' : HEADER_LINE_START + lines + '\r\n' };
}

/**
 * The made-up envelope id of a stored JetStream message that is not a CloudEvent and carries no
 * Nats-Msg-Id: UUID-shaped (version 5 layout) from a SHA-1 of stream name and sequence, so every
 * replay of the same stored message gives the same id (and `dedupe()` and checkpoints downstream
 * recognise it).
 *
 * @example storedMessageId('SENSORS', 42) // same string on every call
 */
export function storedMessageId(stream: string, sequence: number): string {
  const h = createHash('sha1').update(`nats-jetstream:${stream}:${sequence}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex', 0, 16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Where a delivered message is stored (JetStream): what a made-up id is derived from. nats.js' `JsMsg.info` has this shape. */
export interface StoredAt {
  stream: string;
  streamSequence: number;
}

/** NATS headers as nats.js decodes them: name → values. */
export type NatsHeaderEntries = Iterable<[string, string[]]>;

/** What the binding learned from a message besides the envelope. */
export interface DecodedNatsMessage {
  envelope: Envelope;
  /** `sb-reply-to`: the requester's reply subject when a request came through a stream. */
  replyTo?: string;
  /** Not a CloudEvent (or a malformed one): the envelope was made up around the payload, and this says why. */
  notCloudEvent?: EnvelopeInvalidError;
  /** The event came in structured mode (JSON in the body): a reply to it goes the same way. */
  structured?: boolean;
}

/**
 * Accumulates headers into an envelope; shared by the entry and the raw-text readers. Attributes
 * go through core's AttributeReader (repeats, strict percent-decoding, limits): once it finds a
 * problem the readers stop and the envelope is refused (`refuseInbound`), as on every transport.
 */
class EnvelopeCollector {
  readonly reader = new AttributeReader();
  readonly env = this.reader.attributes;
  contentType?: string;
  msgId?: string;
  replyTo?: string;

  /** False once the headers were refused: stop reading. */
  add(key: string, value: string): boolean {
    if (key.length > 3 && (key.charCodeAt(0) | 32) === 99 && (key.charCodeAt(1) | 32) === 101 && key.charCodeAt(2) === 45) {
      return this.reader.add(key.slice(3).toLowerCase(), value, true);
    }
    const lower = key.toLowerCase();
    if (lower === CONTENT_TYPE_HEADER) {
      if (this.contentType !== undefined) return this.reader.refuse(new HeaderInvalidError('header content-type must appear once', { details: { header: CONTENT_TYPE_HEADER } }));
      return this.reader.add(CONTENT_TYPE_HEADER, value, true, true) && this.takeContentType();
    }
    if (lower === 'nats-msg-id') this.msgId ??= percentDecodeHeaderValue(value);
    else if (lower === REPLY_TO_HEADER) this.replyTo ??= value;
    return true;
  }

  /** content-type went through the reader (its limits and decoding); it is kept aside, not as an attribute. */
  private takeContentType(): boolean {
    this.contentType = this.env[CONTENT_TYPE_HEADER] as string;
    delete this.env[CONTENT_TYPE_HEADER];
    return true;
  }

  finish(subject: string, body: Uint8Array, storedAt: StoredAt | undefined): DecodedNatsMessage {
    const decoded = this.decode(subject, body, storedAt);
    if (this.reader.problem !== undefined) refuseInbound(decoded.envelope, this.reader.problem);
    return decoded;
  }

  private decode(subject: string, body: Uint8Array, storedAt: StoredAt | undefined): DecodedNatsMessage {
    const problem = cloudEventProblem(subject, this.env);
    if (problem !== undefined) {
      // No ce-specversion header (and nothing wrong with the headers there are): the body may hold the event, in structured mode.
      const structured = problem === NO_SPECVERSION && this.reader.problem === undefined ? this.structured(subject, body, storedAt) : undefined;
      return structured ?? this.madeUp(subject, body, problem, storedAt);
    }
    this.reader.seal(this.env);
    return cloudEventMessage(this.env, this.contentType, body, this.replyTo);
  }

  /**
   * The event in a structured-mode body, or undefined when the body is no CloudEvent in JSON. One
   * nested too deep to parse is no payload to wrap either: the made-up envelope is refused with
   * CodecTooDeepError (a dead letter, on raw subscriptions too), as on MQTT.
   */
  private structured(subject: string, body: Uint8Array, storedAt: StoredAt | undefined): DecodedNatsMessage | undefined {
    let event: StructuredEvent | undefined;
    try {
      event = readStructuredEvent(body);
    } catch (err) {
      if (!(err instanceof CodecTooDeepError)) throw err;
      const made = this.madeUp(subject, body, NO_SPECVERSION, storedAt);
      refuseInbound(made.envelope, err);
      return made;
    }
    if (event === undefined) return undefined;
    const replyTo = this.replyTo;
    return replyTo === undefined ? { envelope: event.envelope, structured: true } : { envelope: event.envelope, replyTo, structured: true };
  }

  /** Refuses the whole header block unread (too large, not UTF-8): the envelope is made up around the payload. */
  refuseBlock(err: HeaderInvalidError): void {
    this.reader.refuse(err);
  }

  /**
   * An envelope made up around a payload that is not a CloudEvent: `type` = subject, `id` =
   * Nats-Msg-Id, else derived from where it is stored (the same on every replay), else a new UUID.
   */
  private madeUp(subject: string, body: Uint8Array, notCloudEvent: EnvelopeInvalidError, storedAt: StoredAt | undefined): DecodedNatsMessage {
    const id = this.msgId ?? (storedAt ? storedMessageId(storedAt.stream, storedAt.streamSequence) : randomUUID());
    const envelope: Envelope = {
      specversion: '1.0', id, source: `nats:${subject}`, type: subject, time: new Date().toISOString(), data: body,
    };
    if (this.contentType !== undefined) envelope.datacontenttype = this.contentType;
    const replyTo = this.replyTo;
    return replyTo === undefined ? { envelope, notCloudEvent } : { envelope, notCloudEvent, replyTo };
  }
}

/**
 * The envelope of a NATS message: `ce-*` headers (any case) become attributes, `content-type`
 * the datacontenttype, the body the data (a Uint8Array; the Bus decodes it). Without
 * `ce-specversion` (or with a malformed set of `ce-*` headers) the message is not a CloudEvent: an
 * envelope is made up around the payload (`type` = subject, `id` = Nats-Msg-Id, else
 * `storedMessageId(storedAt)` for a stored JetStream message, else a new UUID) and `notCloudEvent`
 * says why; the Bus decides what becomes of it.
 * A repeated attribute, malformed percent-encoding or headers over core's limits refuse the
 * envelope (core/inbound-envelope.ts): the Bus dead-letters it with SB_ERR_HEADER_INVALID.
 *
 * @example fromNatsMessage('a.b', [['ce-specversion', ['1.0']], …], body)
 */
export function fromNatsMessage(subject: string, headers: NatsHeaderEntries | undefined, body: Uint8Array, storedAt?: StoredAt): DecodedNatsMessage {
  const c = new EnvelopeCollector();
  if (headers) {
    // Every value of a repeated header is added: the reader refuses the repeat.
    reading: for (const [key, values] of headers) for (const value of values) if (!c.add(key, value)) break reading;
  }
  return c.finish(subject, body, storedAt);
}

/** The HeaderShapes of callers that pass none. */
const sharedShapes = new HeaderShapes();

/**
 * Same as fromNatsMessage, reading the header block text (`NATS/1.0\r\nk: v\r\n…`) directly:
 * the hot path skips building nats.js' header map. A block as signalbus writes it is read by
 * `shapes` (common-block.ts: one per subscription, learning its publishers' blocks; a shared one
 * by default); anything else goes through the AttributeReader, which says exactly what is wrong.
 *
 * @example fromNatsHeaderText('a.b', 'NATS/1.0\r\nce-specversion: 1.0\r\n…\r\n\r\n', body)
 */
export function fromNatsHeaderText(subject: string, text: string, body: Uint8Array, storedAt?: StoredAt, shapes = sharedShapes): DecodedNatsMessage {
  return shapes.read(subject, text, body) ?? fromNatsHeaderTextByReader(subject, text, body, storedAt);
}

/** fromNatsHeaderText without the one-pass reader: every block through the AttributeReader (the oracle the fast path is tested against). */
export function fromNatsHeaderTextByReader(subject: string, text: string, body: Uint8Array, storedAt?: StoredAt): DecodedNatsMessage {
  const c = new EnvelopeCollector();
  let lineStart = text.indexOf('\r\n');
  const n = text.length;
  while (lineStart >= 0 && lineStart < n) {
    lineStart += 2;
    let lineEnd = text.indexOf('\r\n', lineStart);
    if (lineEnd < 0) lineEnd = n;
    if (lineEnd === lineStart) break;
    const colon = text.indexOf(':', lineStart);
    if (colon > lineStart && colon < lineEnd && !c.add(text.slice(lineStart, colon), text.slice(colon + 1, lineEnd).trim())) break;
    lineStart = lineEnd;
  }
  return c.finish(subject, body, storedAt);
}

/**
 * Largest header block read, in bytes: room for core's 16 KiB of attributes percent-encoded, plus
 * a publisher's own headers. A larger block is refused without being decoded (SB_ERR_HEADER_INVALID):
 * core NATS lets a client send up to the server's max_payload (1 MB) of headers.
 */
export const MAX_HEADER_BLOCK_BYTES = 4 * DEFAULT_HEADER_LIMITS.maxTotalLength;

/**
 * Same as fromNatsHeaderText, from the header block's bytes (`bytes[0, length)`): a block over
 * MAX_HEADER_BLOCK_BYTES or not valid UTF-8 refuses the envelope before any header is read.
 *
 * @example fromNatsHeaderBytes('a.b', raw, headerLength, body)
 */
export function fromNatsHeaderBytes(subject: string, bytes: Uint8Array, length: number, body: Uint8Array, storedAt?: StoredAt, shapes = sharedShapes): DecodedNatsMessage {
  // nats.js gives -1 for a message without headers (MSG, not HMSG).
  if (length <= 0) return fromNatsHeaderTextByReader(subject, '', body, storedAt);
  let problem: HeaderInvalidError | undefined;
  let text = '';
  if (length > MAX_HEADER_BLOCK_BYTES) {
    problem = new HeaderInvalidError(`header block is ${length} bytes, over the limit of ${MAX_HEADER_BLOCK_BYTES}`, { details: { limit: MAX_HEADER_BLOCK_BYTES } });
  } else {
    // nats.js hands over a Buffer; a view of anything else.
    const block = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // A block as signalbus writes it is ASCII (COMMON_BLOCK admits nothing else), which latin1
    // reads as UTF-8 does, at half the cost and with no scan for invalid bytes.
    const common = shapes.read(subject, block.toString('latin1', 0, length), body);
    if (common !== undefined) return common;
    text = block.toString('utf8', 0, length);
    // A replacement character is either sent as such (rare) or stands for bytes that are not UTF-8.
    if (text.indexOf('\uFFFD') >= 0 && !isUtf8(block.subarray(0, length))) problem = new HeaderInvalidError('header block is not valid UTF-8');
  }
  if (problem === undefined) return fromNatsHeaderTextByReader(subject, text, body, storedAt);
  const c = new EnvelopeCollector();
  c.refuseBlock(problem);
  return c.finish(subject, body, storedAt);
}
