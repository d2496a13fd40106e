/**
 * MQTT PUBLISH and PUBACK packets (3.1.1 and 5) encoded and decoded by hand, the hot path only.
 * mqtt-packet writes a packet as dozens of small stream writes (four per user property) and
 * parses properties through a BufferList; here a packet is one Buffer out and one pass in.
 * Byte-for-byte equal to mqtt-packet's output (test/unit/mqtt-packet-codec.test.ts).
 */
import { DEFAULT_MAX_ATTRIBUTES, MessageTooLargeError } from '../../core/index.js';
import type { IPublishPacket } from 'mqtt';
import type { MqttInboundProperties, MqttWireProperties } from './binding.js';

/** MQTT 5 property identifiers this codec reads or writes. */
const PROP = {
  payloadFormatIndicator: 0x01, messageExpiryInterval: 0x02, contentType: 0x03, responseTopic: 0x08,
  correlationData: 0x09, subscriptionIdentifier: 0x0b, topicAlias: 0x23, userProperty: 0x26,
} as const;

/** Largest MQTT UTF-8 string or binary field (two-byte length prefix). */
const MAX_FIELD = 0xffff;
/** Largest MQTT Remaining Length (four-byte variable integer). */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** User properties decoded at most (besides a late `specversion`): one more than core lets an envelope hold. */
export const MAX_USER_PAIRS = DEFAULT_MAX_ATTRIBUTES + 1;

function isSpecversion(buf: Buffer, start: number, end: number): boolean {
  return end - start === 11 && buf.toString('latin1', start, end) === 'specversion';
}

/** A PUBLISH as the transport reads it: the fields of mqtt.js's IPublishPacket it uses. */
export interface InboundPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  messageId: number;
  properties?: InboundPublishProperties;
}

export interface InboundPublishProperties extends MqttInboundProperties {
  subscriptionIdentifier?: number | number[];
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
}

/** A PUBLISH that mqtt.js decoded (QoS 2, topic aliases) in the form this codec decodes to. */
export function fromMqttPacket(packet: IPublishPacket): InboundPublish {
  const { topic, qos, messageId = 0 } = packet;
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;
  const p = packet.properties;
  if (p === undefined) return { topic, payload, qos, messageId };
  const properties: InboundPublishProperties = {};
  if (p.contentType !== undefined) properties.contentType = p.contentType;
  if (p.responseTopic !== undefined) properties.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) properties.correlationData = p.correlationData;
  if (p.subscriptionIdentifier !== undefined) properties.subscriptionIdentifier = p.subscriptionIdentifier;
  if (p.userProperties !== undefined) {
    const pairs: string[] = [];
    for (const name in p.userProperties) {
      const v = p.userProperties[name]!;
      if (Array.isArray(v)) for (const item of v) pairs.push(name, item);
      else pairs.push(name, v);
    }
    properties.userPairs = pairs;
  }
  return { topic, payload, qos, messageId, properties };
}

const topicFields = new Map<string, Buffer>();
const TOPIC_CACHE_LIMIT = 10_000;

/**
 * The topic as a PUBLISH carries it (two-byte length, UTF-8), cached: publishers reuse a few topics.
 * @example topicField('sensor/reading') // <Buffer 00 0e 73 65 6e ...>
 */
export function topicField(topic: string): Buffer {
  let field = topicFields.get(topic);
  if (field === undefined) {
    const n = Buffer.byteLength(topic, 'utf8');
    if (n > MAX_FIELD) throw new MessageTooLargeError(`MQTT topic is ${n} bytes; at most ${MAX_FIELD}`, { details: { bytes: n, limit: MAX_FIELD } });
    field = Buffer.allocUnsafe(2 + n);
    field.writeUInt16BE(n, 0);
    field.write(topic, 2, 'utf8');
    if (topicFields.size >= TOPIC_CACHE_LIMIT) topicFields.clear();
    topicFields.set(topic, field);
  }
  return field;
}

/** Scratch space for the variable header and properties; grown when a packet needs more. */
let scratch = Buffer.allocUnsafe(16 * 1024);
/** Where properties start in `scratch`: room before it for fixed header, topic, packet id, property length. */
const HEAD_ROOM = 1 + 4 + 2 + 2 + 4;

function varIntSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

function writeVarInt(buf: Buffer, offset: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[offset++] = byte;
  } while (n > 0);
  return offset;
}

/** Writes a two-byte-length-prefixed UTF-8 string at `offset`; returns the offset after it. */
function writeString(buf: Buffer, offset: number, text: string): number {
  const n = buf.write(text, offset + 2, 'utf8');
  if (n > MAX_FIELD) throw new MessageTooLargeError(`MQTT string field is ${n} bytes; at most ${MAX_FIELD}`, { details: { bytes: n, limit: MAX_FIELD } });
  buf[offset] = n >>> 8;
  buf[offset + 1] = n & 0xff;
  return offset + 2 + n;
}

/** An upper bound of the encoded size of the properties (UTF-8 takes at most 3 bytes per UTF-16 unit). */
function propertiesBound(p: MqttWireProperties): number {
  let n = 0;
  for (const key in p) {
    const value = (p as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (key === 'userProperties') {
      const user = value as Record<string, string | string[]>;
      for (const name in user) {
        const v = user[name]!;
        if (Array.isArray(v)) for (const item of v) n += 5 + 3 * (name.length + String(item).length);
        else n += 5 + 3 * (name.length + String(v).length);
      }
    } else if (key === 'correlationData') n += 3 + (value as Buffer).length;
    else n += 3 + 3 * String(value).length;
  }
  return n;
}

/**
 * User property names as written (identifier, length, UTF-8 bytes), cached: every message repeats
 * the same few attribute names, and copying a dozen bytes costs less than encoding the string again.
 */
const userNameFields = new Map<string, Buffer>();

function writeUserName(buf: Buffer, offset: number, name: string): number {
  let field = userNameFields.get(name);
  if (field === undefined) {
    field = Buffer.allocUnsafe(3 + 3 * name.length);
    field[0] = PROP.userProperty;
    field = field.subarray(0, writeString(field, 1, name));
    if (userNameFields.size >= 1000) userNameFields.clear();
    userNameFields.set(name, field);
  }
  const n = field.length;
  for (let i = 0; i < n; i++) buf[offset + i] = field[i]!;
  return offset + n;
}

/** Writes the properties at `offset` in the order of the object's keys (as mqtt-packet does). */
function writeProperties(buf: Buffer, offset: number, p: MqttWireProperties): number {
  for (const key in p) {
    const value = (p as Record<string, unknown>)[key];
    if (value === undefined || value === null) continue;
    switch (key) {
      case 'userProperties': {
        const user = value as Record<string, string | string[]>;
        for (const name in user) {
          const v = user[name]!;
          if (Array.isArray(v)) {
            for (const item of v) offset = writeString(buf, writeUserName(buf, offset, name), String(item));
          } else {
            offset = writeString(buf, writeUserName(buf, offset, name), String(v));
          }
        }
        break;
      }
      case 'contentType': buf[offset] = PROP.contentType; offset = writeString(buf, offset + 1, value as string); break;
      case 'responseTopic': buf[offset] = PROP.responseTopic; offset = writeString(buf, offset + 1, value as string); break;
      case 'correlationData': {
        const data = value as Buffer;
        if (data.length > MAX_FIELD) throw new MessageTooLargeError(`MQTT correlation data is ${data.length} bytes; at most ${MAX_FIELD}`, { details: { bytes: data.length, limit: MAX_FIELD } });
        buf[offset] = PROP.correlationData;
        buf[offset + 1] = data.length >>> 8;
        buf[offset + 2] = data.length & 0xff;
        data.copy(buf, offset + 3);
        offset += 3 + data.length;
        break;
      }
      default: throw new TypeError(`MQTT publish property ${key} is not supported by this encoder`);
    }
  }
  return offset;
}

/**
 * One PUBLISH packet as one Buffer: fixed header, topic, packet id (QoS > 0), properties (MQTT 5)
 * and payload. `topic` is a `topicField()`. Throws MessageTooLargeError past MQTT's limits.
 * @example encodePublish(topicField('a/b'), payload, 1, 42, true, { contentType: 'application/json' })
 */
export function encodePublish(topic: Buffer, payload: Buffer, qos: 0 | 1 | 2, messageId: number, v5: boolean,
  properties?: MqttWireProperties): Buffer {
  let propsEnd = HEAD_ROOM;
  if (v5 && properties !== undefined) {
    const bound = HEAD_ROOM + propertiesBound(properties);
    if (bound > scratch.length) scratch = Buffer.allocUnsafe(Math.max(bound, scratch.length * 2));
    propsEnd = writeProperties(scratch, HEAD_ROOM, properties);
  }
  const propsLength = propsEnd - HEAD_ROOM;
  const remaining = topic.length + (qos > 0 ? 2 : 0) + (v5 ? varIntSize(propsLength) + propsLength : 0) + payload.length;
  if (remaining > MAX_REMAINING_LENGTH) {
    throw new MessageTooLargeError(`MQTT packet would be ${remaining} bytes; at most ${MAX_REMAINING_LENGTH}`, { details: { bytes: remaining, limit: MAX_REMAINING_LENGTH } });
  }
  const headerLength = 1 + varIntSize(remaining) + remaining - payload.length - propsLength;
  const out = Buffer.allocUnsafe(headerLength + propsLength + payload.length);
  out[0] = 0x30 | (qos << 1);
  let o = writeVarInt(out, 1, remaining);
  o += topic.copy(out, o);
  if (qos > 0) { out[o++] = messageId >>> 8; out[o++] = messageId & 0xff; }
  if (v5) {
    o = writeVarInt(out, o, propsLength);
    if (propsLength > 0) o += scratch.copy(out, o, HEAD_ROOM, propsEnd);
  }
  payload.copy(out, o);
  return out;
}

/**
 * A PUBACK for `messageId`. MQTT 5 lets a success omit reason code and properties, which is what
 * mqtt-packet writes for reason code 0 too.
 */
export function encodePuback(messageId: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out[0] = 0x40; out[1] = 2; out[2] = messageId >>> 8; out[3] = messageId & 0xff;
  return out;
}

/** Last decoded topic, reused while the bytes repeat: most streams carry one topic. */
let lastTopicBytes = Buffer.alloc(0);
let lastTopic = '';
/**
 * Interned ASCII user property names, keyed by length, first and last byte: attribute names repeat
 * in every message, so they are matched in place instead of decoded into a new string each time.
 * A name sharing its key with another one already interned is decoded as usual.
 */
const names = new Map<number, string>();

function topicAt(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === lastTopicBytes.length && buf.compare(lastTopicBytes, 0, n, start, end) === 0) return lastTopic;
  lastTopicBytes = Buffer.from(buf.subarray(start, end));
  lastTopic = buf.toString('utf8', start, end);
  return lastTopic;
}

function nameAt(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return '';
  const key = (n << 16) | (buf[start]! << 8) | buf[end - 1]!;
  const known = names.get(key);
  if (known !== undefined) {
    let same = true;
    for (let i = 1; same && i < n - 1; i++) same = known.charCodeAt(i) === buf[start + i];
    if (same) return known;
  }
  const name = buf.toString('utf8', start, end);
  if (known === undefined && names.size < 1000 && name.length === n) names.set(key, name); // ASCII only
  return name;
}

/**
 * Decodes the PUBLISH packet whose variable header starts at `start` and that ends at `end`.
 * `flags` is the low nibble of the first byte. Returns undefined for what it leaves to mqtt-packet
 * (topic aliases, properties it does not know, malformed fields); the payload is copied out.
 */
export function decodePublish(buf: Buffer, flags: number, start: number, end: number, v5: boolean): InboundPublish | undefined {
  const qos = ((flags >> 1) & 3) as 0 | 1 | 2;
  if (qos === 3 as number || start + 2 > end) return undefined;
  const topicLength = (buf[start]! << 8) | buf[start + 1]!;
  let o = start + 2 + topicLength;
  if (o > end || topicLength === 0) return undefined;
  const topic = topicAt(buf, start + 2, o);
  let messageId = 0;
  if (qos > 0) {
    if (o + 2 > end) return undefined;
    messageId = (buf[o]! << 8) | buf[o + 1]!;
    o += 2;
  }
  let properties: InboundPublishProperties | undefined;
  if (v5) {
    let propsLength = 0; let shift = 0; let byte: number;
    do {
      if (o >= end || shift > 21) return undefined;
      byte = buf[o++]!;
      propsLength += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    const propsEnd = o + propsLength;
    if (propsEnd > end) return undefined;
    if (propsLength > 0) {
      properties = {};
      while (o < propsEnd) {
        const id = buf[o++]!;
        switch (id) {
          case PROP.userProperty: {
            if (o + 2 > propsEnd) return undefined;
            const nameEnd = o + 2 + ((buf[o]! << 8) | buf[o + 1]!);
            if (nameEnd + 2 > propsEnd) return undefined;
            const valueEnd = nameEnd + 2 + ((buf[nameEnd]! << 8) | buf[nameEnd + 1]!);
            if (valueEnd > propsEnd) return undefined;
            const pairs = (properties.userPairs ??= []);
            // Past one more than an envelope may hold, only `specversion` is still taken: the count
            // alone refuses the envelope (core/inbound-envelope.ts), so a hostile packet's thousands
            // of properties are never made into strings.
            if (pairs.length < MAX_USER_PAIRS * 2 || isSpecversion(buf, o + 2, nameEnd)) pairs.push(nameAt(buf, o + 2, nameEnd), buf.toString('utf8', nameEnd + 2, valueEnd));
            o = valueEnd;
            break;
          }
          case PROP.contentType: case PROP.responseTopic: case PROP.correlationData: {
            if (o + 2 > propsEnd) return undefined;
            const fieldEnd = o + 2 + ((buf[o]! << 8) | buf[o + 1]!);
            if (fieldEnd > propsEnd) return undefined;
            if (id === PROP.contentType) properties.contentType = buf.toString('utf8', o + 2, fieldEnd);
            else if (id === PROP.responseTopic) properties.responseTopic = buf.toString('utf8', o + 2, fieldEnd);
            else properties.correlationData = Buffer.from(buf.subarray(o + 2, fieldEnd));
            o = fieldEnd;
            break;
          }
          case PROP.subscriptionIdentifier: {
            let value = 0; let s = 0; let b: number;
            do {
              if (o >= propsEnd || s > 21) return undefined;
              b = buf[o++]!;
              value += (b & 0x7f) * 2 ** s;
              s += 7;
            } while (b & 0x80);
            const prev = properties.subscriptionIdentifier;
            properties.subscriptionIdentifier = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
            break;
          }
          case PROP.payloadFormatIndicator:
            if (o + 1 > propsEnd) return undefined;
            properties.payloadFormatIndicator = buf[o++] !== 0;
            break;
          case PROP.messageExpiryInterval:
            if (o + 4 > propsEnd) return undefined;
            properties.messageExpiryInterval = buf.readUInt32BE(o);
            o += 4;
            break;
          default:
            return undefined; // topic alias or a property this codec does not read: mqtt-packet's turn
        }
      }
      if (o !== propsEnd) return undefined;
    }
  }
  const payload = Buffer.allocUnsafe(end - o);
  buf.copy(payload, 0, o, end);
  return properties === undefined ? { topic, payload, qos, messageId } : { topic, payload, qos, messageId, properties };
}
