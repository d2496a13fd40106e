/**
 * The WebSocket binding: structured CloudEvents JSON (subprotocol `cloudevents.json`), one event
 * per text frame, plus small control frames (see README.md). Pure: no I/O, no Node-only APIs
 * beyond an optional `Buffer` fast path, so the client side also runs in a browser.
 */
import type { Envelope } from '../../core/envelope.js';
import { CodecDecodeError, EnvelopeInvalidError, errorCode, errorMessage } from '../../core/errors.js';
import { isJsonContentType } from '../../core/content-type.js';
import { isBase64 } from '../../core/base64.js';
import { checkJsonDepth, MAX_JSON_DEPTH } from '../../core/json-depth.js';
import { findRepeatedMember, repeatedMemberError, type MemberScope } from '../../core/json-members.js';

/** The WebSocket subprotocol every frame follows. */
export const SUBPROTOCOL = 'cloudevents.json';

/** Frame ids are chosen by the sender (numbers or strings) and echoed back unchanged. */
export type FrameId = string | number;

/** Client → hub: publish `event` on `subject` (default: the event's `subject` attribute). */
export interface PublishFrame {
  op: 'pub'; id?: FrameId; subject?: string; event: Envelope;
  /** The event's exact JSON text, when the frame had the canonical layout and the event needed no change (relay without re-serialising). */
  eventText?: string;
}
/** Client → hub: a bare structured CloudEvent, published on its `subject` attribute without an ack. */
export interface EventFrame { op: 'event'; event: Envelope }
/** Client → hub: deliver events matching `pattern` as `msg` frames tagged `sid` (or bare events with `bare`). */
export interface SubscribeFrame {
  op: 'sub'; id?: FrameId; sid: string; pattern: string; group?: string;
  /** Most deliveries not yet acked; 0 or absent: the hub does not wait for delivery acks. */
  inflight?: number;
  /** Deliver bare CloudEvents instead of `msg` frames (no acks, no replies). */
  bare?: boolean;
}
export interface UnsubscribeFrame { op: 'unsub'; id?: FrameId; sid: string }
/** Client → hub: a request; answered by a `reply` or an `error` frame with `ref` = `id`. */
export interface RequestFrame { op: 'req'; id: FrameId; subject?: string; timeout?: number; event: Envelope }
/** Either way: the frames (client → hub) or deliveries (hub → client) with these ids were accepted. */
export interface AckFrame { op: 'ack'; ids: FrameId[] }
/** Either way: the reply to the request frame or delivery `ref`. */
export interface ReplyFrame { op: 'reply'; ref: FrameId; event: Envelope }
/** Hub → client: the frame `ref` (or the bare event `eventid`) failed with `code` (`SB_ERR_*`). */
export interface ErrorFrame { op: 'error'; ref?: FrameId; eventid?: string; code: string; message: string }
/** Hub → client: an event for subscription `sid`, published on `subject`; `id` to ack, `req` when it wants a reply. */
export interface DeliveryFrame { op: 'msg'; sid: string; subject: string; id?: number; req?: boolean; event: Envelope }

export type ClientFrame = PublishFrame | EventFrame | SubscribeFrame | UnsubscribeFrame | RequestFrame | AckFrame | ReplyFrame;
export type HubFrame = AckFrame | ReplyFrame | ErrorFrame | DeliveryFrame | EventFrame;

// ------------------------------------------------------------------ events

const BufferCtor = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function bytesToBase64(bytes: Uint8Array): string {
  if (BufferCtor) return BufferCtor.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary);
}

function base64ToBytes(text: string): Uint8Array {
  if (BufferCtor) {
    const b = BufferCtor.from(text, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * The JSON-format form of an envelope. Decoded data goes in `data` as is; bytes go in
 * `data_base64`, except JSON or text bytes (from a broker that carries bytes), which are inlined.
 */
export function toWebSocketEvent(envelope: Envelope): Record<string, unknown> {
  const data = envelope.data;
  if (!(data instanceof Uint8Array)) return envelope;
  const out: Record<string, unknown> = { ...envelope };
  delete out.data;
  const ct = envelope.datacontenttype;
  if (ct !== 'application/octet-stream' && (isJsonContentType(ct) || ct!.startsWith('text/'))) {
    try {
      const text = utf8.decode(data);
      out.data = isJsonContentType(ct) ? JSON.parse(text) : text;
      return out;
    } catch { /* not UTF-8 JSON/text: carry it as bytes below */ }
  }
  out.data_base64 = bytesToBase64(data);
  return out;
}

/** One event as the text of a frame. */
export function toWebSocketEventText(envelope: Envelope): string {
  return JSON.stringify(toWebSocketEvent(envelope));
}

/**
 * The envelope in a JSON-format event: `data_base64` becomes Uint8Array data; number and
 * boolean extension values (allowed by the JSON format) become strings. It does not validate
 * attributes (the receiver runs `validateEnvelope`), so it stays cheap on the client.
 */
export function fromWebSocketEvent(value: unknown): Envelope {
  normalizeEvent(value);
  return value as Envelope;
}

/** Turns a parsed JSON-format event into an envelope in place; true when anything changed. */
function normalizeEvent(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new EnvelopeInvalidError('an event must be a JSON object', { details: { field: 'event' } });
  }
  const e = value as Record<string, unknown>;
  let changed = false;
  for (const name in e) {
    const v = e[name];
    if (name === 'data') continue;
    if (name === 'data_base64') {
      if (typeof v !== 'string') throw new EnvelopeInvalidError('data_base64 must be a string', { details: { attribute: 'data_base64' } });
      if (e.data !== undefined) throw new EnvelopeInvalidError('an event carries data or data_base64, not both', { details: { attribute: 'data_base64' } });
      // Strict, as every binding reads it: a lenient decoder reads "-_8 !" as some bytes.
      if (!isBase64(v)) throw new EnvelopeInvalidError('data_base64 is not base64 (RFC 4648 §4, padded; no base64url, no whitespace)', { details: { attribute: 'data_base64' } });
      e.data = base64ToBytes(v);
      delete e.data_base64;
      changed = true;
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      e[name] = String(v);
      changed = true;
    }
  }
  return changed;
}

// ------------------------------------------------------------------ frames

function fail(message: string, ref: FrameId | undefined, field: string): never {
  throw new EnvelopeInvalidError(message, { details: ref === undefined ? { field } : { field, ref } });
}

function parseObject(text: string): Record<string, unknown> {
  let value: unknown;
  try { value = JSON.parse(text); } catch (cause) {
    throw new CodecDecodeError(`frame is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('a frame must be a JSON object', undefined, 'frame');
  return value as Record<string, unknown>;
}

function frameId(f: Record<string, unknown>, required: boolean): FrameId | undefined {
  const id = f.id;
  if (id === undefined && !required) return undefined;
  if (typeof id === 'number' || (typeof id === 'string' && id.length > 0 && id.length <= 128)) return id;
  return fail(`frame "${String(f.op)}" needs an "id" (number or 1-128 character string)`, undefined, 'id');
}

function optionalString(f: Record<string, unknown>, name: string, ref: FrameId | undefined): string | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(`"${name}" must be a string`, ref, name);
  return v;
}

function requiredString(f: Record<string, unknown>, name: string, ref: FrameId | undefined): string {
  const v = f[name];
  if (typeof v !== 'string' || v.length === 0) fail(`"${name}" must be a non-empty string`, ref, name);
  return v;
}

/** A subscription id: 1-128 characters, like frame ids (the hub keeps it, and repeats it in every delivery). */
function subscriptionId(f: Record<string, unknown>, ref: FrameId | undefined): string {
  const sid = f.sid;
  if (typeof sid !== 'string' || sid.length === 0 || sid.length > 128) fail('"sid" must be a string of 1-128 characters', ref, 'sid');
  return sid;
}

function ids(f: Record<string, unknown>): FrameId[] {
  const v = f.ids;
  if (!Array.isArray(v)) fail('"ids" must be an array', undefined, 'ids');
  for (const id of v) if (typeof id !== 'number' && typeof id !== 'string') fail('"ids" holds numbers or strings', undefined, 'ids');
  return v as FrameId[];
}

function event(f: Record<string, unknown>, ref: FrameId | undefined): Envelope {
  try { return fromWebSocketEvent(f.event); } catch (err) {
    if (ref !== undefined && err instanceof EnvelopeInvalidError) fail(err.message, ref, 'event');
    throw err;
  }
}

/** The objects of a frame that must not repeat a member name: the frame (or bare event) and the event it carries. */
const FRAME_MEMBERS: MemberScope = { within: 'event' };

/**
 * Refuses a frame that repeats a member name, in itself or in its `event`: JSON.parse kept the
 * last, where another reader of the same text (a proxy, a log, a client in another language) may
 * take the first subject, tenant or id. EnvelopeInvalidError with `details.member`.
 */
function checkFrameMembers(text: string, f: Record<string, unknown>): void {
  const repeated = findRepeatedMember(text, FRAME_MEMBERS);
  if (repeated === undefined) return;
  const field = repeated.within ?? (f.op === undefined ? 'event' : 'frame');
  // The answer names the frame by its id, unless that id is what repeats (a bare event has none).
  const id = f.op !== undefined && !(repeated.within === undefined && repeated.name === 'id') ? f.id : undefined;
  const ref = typeof id === 'number' || (typeof id === 'string' && id.length > 0 && id.length <= 128) ? id : undefined;
  throw repeatedMemberError(repeated, ref === undefined ? { field } : { field, ref }, `the ${field}`);
}

/**
 * A frame a client sent. Throws CodecDecodeError for bad JSON (CodecTooDeepError when an event's
 * data nests deeper than MAX_JSON_DEPTH) and EnvelopeInvalidError for a malformed frame
 * (`details.ref` holds the frame id when it could be read), among them a frame or event that
 * repeats a member name (`details.member`).
 */
export function parseClientFrame(text: string): ClientFrame {
  // Checked on the text, before parsing: the frame and the event wrap the data (2 levels).
  checkJsonDepth(text, MAX_JSON_DEPTH, 2);
  if (text.startsWith(PUB_PREFIX)) {
    const fast = parseCanonicalPublish(text);
    if (fast) return fast;
  }
  const f = parseObject(text);
  checkFrameMembers(text, f);
  const op = f.op;
  if (op === undefined) {
    if (f.specversion === undefined) fail('a frame is a CloudEvent (with "specversion") or a control frame (with "op")', undefined, 'op');
    checkJsonDepth(text, MAX_JSON_DEPTH, 1); // a bare event: only its own object wraps the data
    return { op: 'event', event: fromWebSocketEvent(f) };
  }
  switch (op) {
    case 'pub': {
      const id = frameId(f, false);
      return { op: 'pub', id, subject: optionalString(f, 'subject', id), event: event(f, id) };
    }
    case 'sub': {
      const id = frameId(f, false);
      const inflight = f.inflight;
      if (inflight !== undefined && !(Number.isInteger(inflight) && (inflight as number) >= 0)) fail('"inflight" must be a non-negative integer', id, 'inflight');
      if (f.bare !== undefined && typeof f.bare !== 'boolean') fail('"bare" must be a boolean', id, 'bare');
      return {
        op: 'sub', id, sid: subscriptionId(f, id), pattern: requiredString(f, 'pattern', id), group: optionalString(f, 'group', id),
        inflight: inflight as number | undefined, bare: f.bare as boolean | undefined,
      };
    }
    case 'unsub': {
      const id = frameId(f, false);
      return { op: 'unsub', id, sid: subscriptionId(f, id) };
    }
    case 'req': {
      const id = frameId(f, true) as FrameId;
      const timeout = f.timeout;
      if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0)) fail('"timeout" must be a positive number of ms', id, 'timeout');
      return { op: 'req', id, subject: optionalString(f, 'subject', id), timeout: timeout as number | undefined, event: event(f, id) };
    }
    case 'ack': return { op: 'ack', ids: ids(f) };
    case 'reply': {
      const ref = f.ref;
      if (typeof ref !== 'number' && typeof ref !== 'string') fail('"ref" must name the delivery replied to', undefined, 'ref');
      return { op: 'reply', ref, event: event(f, undefined) };
    }
    default: return fail(`unknown op ${JSON.stringify(op)}`, typeof f.id === 'number' || typeof f.id === 'string' ? f.id : undefined, 'op');
  }
}

const PUB_PREFIX = '{"op":"pub","id":';
const SUBJECT_MEMBER = ',"subject":"';
const EVENT_MEMBER = ',"event":';

/**
 * The frames `publishFrameText` writes (`{"op":"pub","id":<digits>,"subject":"<tokens>","event":{…}}`)
 * are read by slicing out the event and parsing only it, so its text can be relayed as is.
 * Anything else returns undefined and takes the general path.
 */
function parseCanonicalPublish(text: string): PublishFrame | undefined {
  let i = PUB_PREFIX.length;
  const idStart = i;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  if (i === idStart || i - idStart > 15 || !text.startsWith(SUBJECT_MEMBER, i)) return undefined;
  const id = Number(text.slice(idStart, i));
  i += SUBJECT_MEMBER.length;
  const subjectStart = i;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) break;
    if (c === 92 /* \ */ || c < 32) return undefined;
  }
  const subject = text.slice(subjectStart, i);
  i++;
  if (!text.startsWith(EVENT_MEMBER, i) || text.charCodeAt(text.length - 1) !== 125 /* } */) return undefined;
  const eventText = text.slice(i + EVENT_MEMBER.length, text.length - 1);
  if (eventText.charCodeAt(0) !== 123 /* { */) return undefined;
  let event: unknown;
  try { event = JSON.parse(eventText); } catch { return undefined; }
  // The frame around it has exactly its four members; the event must not repeat one either.
  const repeated = findRepeatedMember(eventText);
  if (repeated !== undefined) throw repeatedMemberError({ name: repeated.name, within: 'event' }, { field: 'event', ref: id });
  let changed: boolean;
  try { changed = normalizeEvent(event); } catch (err) { return fail((err as Error).message, id, 'event'); }
  return changed ? { op: 'pub', id, subject, event: event as Envelope } : { op: 'pub', id, subject, event: event as Envelope, eventText };
}

/**
 * A frame the hub sent (used by the client; trusts the hub, so checks only what it reads: the hub
 * writes events with JSON.stringify, or relays the text of one parseClientFrame checked, so no
 * member name repeats).
 */
export function parseHubFrame(text: string): HubFrame {
  const f = parseObject(text);
  switch (f.op) {
    case 'msg': return f as unknown as DeliveryFrame;
    case 'ack': return { op: 'ack', ids: ids(f) };
    case 'reply':
    case 'error': return f as unknown as HubFrame;
    case undefined: return { op: 'event', event: f as Envelope };
    default: return fail(`unknown op ${JSON.stringify(f.op)}`, undefined, 'op');
  }
}

// Frames that carry an event are one JSON.stringify of the whole frame: gluing the event's text
// into a template makes a rope string that is flattened again (a second copy) when it is sent.

/** Subjects and sids checked by the caller contain no `"` or `\`; quote them fast. */
function q(token: string): string { return `"${token}"`; }

/** `{"op":"pub","id":…,"subject":…,"event":…}` (the layout the hub's fast path reads). */
export function publishFrameText(id: number, subject: string, envelope: Envelope): string {
  return JSON.stringify({ op: 'pub', id, subject, event: toWebSocketEvent(envelope) });
}

/** `{"op":"req","id":…,"subject":…,"timeout":…,"event":…}` */
export function requestFrameText(id: number, subject: string, timeoutMs: number, envelope: Envelope): string {
  return JSON.stringify({ op: 'req', id, subject, timeout: timeoutMs, event: toWebSocketEvent(envelope) });
}

export function subscribeFrameText(frame: Omit<SubscribeFrame, 'op'>): string {
  return JSON.stringify({ op: 'sub', ...frame });
}

export function unsubscribeFrameText(id: FrameId, sid: string): string {
  return JSON.stringify({ op: 'unsub', id, sid });
}

export function ackFrameText(frameIds: FrameId[]): string {
  return `{"op":"ack","ids":${JSON.stringify(frameIds)}}`;
}

export function replyFrameText(ref: FrameId, envelope: Envelope): string {
  return JSON.stringify({ op: 'reply', ref, event: toWebSocketEvent(envelope) });
}

/** `{"op":"error",…}` for any thrown value, with its `SB_ERR_*` code. */
export function errorFrameText(err: unknown, ref?: FrameId, eventid?: string): string {
  const frame: ErrorFrame = { op: 'error', code: errorCode(err), message: errorMessage(err) };
  if (ref !== undefined) frame.ref = ref;
  if (eventid !== undefined) frame.eventid = eventid;
  return JSON.stringify(frame);
}

/**
 * A delivery; `text` is the event's frame text (shared by every subscriber of one message).
 * `sidJson` is the subscription id already JSON-quoted; `id` is 0 for deliveries that need no ack.
 */
export function deliveryFrameText(sidJson: string, subject: string, id: number, request: boolean, text: string): string {
  return `{"op":"msg","sid":${sidJson},"subject":${q(subject)}${id > 0 ? `,"id":${id}` : ''}${request ? ',"req":true' : ''},"event":${text}}`;
}
