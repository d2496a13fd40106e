/**
 * The MQTT protocol binding (DESIGN.md section 3): envelope <-> MQTT payload and properties.
 * Pure: no I/O, golden-tested both ways (test/unit/mqtt-binding.test.ts).
 *
 * - MQTT 5, binary mode: every attribute but `datacontenttype` is a user property named by the
 *   attribute; `datacontenttype` is the Content Type property; the payload is the data bytes.
 * - MQTT 3.1.1, structured mode: the whole event as CloudEvents JSON (`application/cloudevents+json`);
 *   JSON data is embedded as JSON, other data as `data_base64`.
 *
 * Inbound, both forms are understood on either protocol version; a payload that is neither is a
 * raw device message, wrapped by `rawEnvelope`.
 */
import { AttributeReader, encodedDataBytes, HeaderInvalidError, readStructuredEvent, refuseInbound, structuredEventBytes, STRUCTURED_CONTENT_TYPE, type Envelope } from '../../core/index.js';

/** The MQTT 5 publish properties the binding reads and writes. */
export interface MqttWireProperties {
  contentType?: string;
  userProperties?: Record<string, string | string[]>;
  responseTopic?: string;
  correlationData?: Buffer;
}

/** The MQTT 5 properties of an inbound message that the binding reads. */
export interface MqttInboundProperties {
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /**
   * User properties in wire order as name, value, name, value…, repeats kept. A flat array: an
   * object keyed by arbitrary names would need a null prototype, which V8 keeps in slow
   * dictionary mode, and the binding copies them into an envelope anyway.
   */
  userPairs?: string[];
}

export interface MqttWireMessage {
  payload: Buffer;
  properties?: MqttWireProperties;
}

/** Extension attribute carrying the reply topic of a request in structured mode (MQTT 3.1.1 has no Response Topic). */
export const REPLY_TO_ATTRIBUTE = 'replyto';

export { STRUCTURED_CONTENT_TYPE };


/**
 * Binary mode (MQTT 5): attributes become user properties, `datacontenttype` the Content Type property.
 * @example toMqttBinary({ specversion: '1.0', id: '1', source: 's', type: 't', data: bytes, datacontenttype: 'application/json' })
 */
export function toMqttBinary(envelope: Envelope, responseTopic?: string, correlationData?: Buffer): MqttWireMessage {
  const userProperties: Record<string, string> = {};
  let contentType: string | undefined;
  for (const name in envelope) {
    if (name === 'data') continue;
    const value = envelope[name];
    if (typeof value !== 'string') continue;
    if (name === 'datacontenttype') contentType = value;
    else userProperties[name] = value;
  }
  const properties: MqttWireProperties = { userProperties };
  if (contentType !== undefined) properties.contentType = contentType;
  if (responseTopic !== undefined) properties.responseTopic = responseTopic;
  if (correlationData !== undefined) properties.correlationData = correlationData;
  return { payload: encodedDataBytes(envelope.data), properties };
}

/** The envelope of a binary-mode message, or undefined when it carries no `specversion` user property. */
export function fromMqttBinary(payload: Buffer, properties: MqttInboundProperties | undefined): Envelope | undefined {
  const pairs = properties?.userPairs;
  if (pairs === undefined) return undefined;
  let isEvent = false;
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === 'specversion') { isEvent = true; break; }
  if (!isEvent) return undefined;
  // Through core's reader (core/inbound-envelope.ts): CloudEvents attributes are single-valued, so
  // a repeated user property refuses the envelope, as do values past the limits.
  const reader = new AttributeReader();
  for (let i = 0; i < pairs.length; i += 2) if (!reader.add(pairs[i]!, pairs[i + 1]!, false)) break;
  const envelope = reader.attributes as Envelope;
  if (reader.problem !== undefined) refuseInbound(envelope, reader.problem);
  const contentType = properties!.contentType;
  if (contentType !== undefined) {
    // datacontenttype given twice (the Content Type property and a user property) and not the same: which counts would be a guess.
    if (envelope.datacontenttype !== undefined && envelope.datacontenttype !== contentType && reader.problem === undefined) {
      refuseInbound(envelope, new HeaderInvalidError('the Content Type property and the datacontenttype user property disagree; send the data content type once', { details: { header: 'datacontenttype' } }));
    }
    envelope.datacontenttype = contentType;
  }
  if (payload.length > 0 || envelope.datacontenttype !== undefined) envelope.data = payload;
  return envelope;
}

/**
 * Structured mode (MQTT 3.1.1): the whole event as CloudEvents JSON (core/structured-event.ts),
 * with the reply topic of a request in `replyto`.
 * @example toMqttStructured(envelope, 'signalbus/_inbox/abc') // payload: {"specversion":"1.0",…,"replyto":"…","data":{…}}
 */
export function toMqttStructured(envelope: Envelope, replyTo?: string): MqttWireMessage {
  return { payload: structuredEventBytes(envelope, REPLY_TO_ATTRIBUTE, replyTo), properties: { contentType: STRUCTURED_CONTENT_TYPE } };
}

/** The result of decoding a structured message: the envelope and the reply topic it asks for. */
export interface StructuredDecoded {
  envelope: Envelope;
  replyTo?: string;
}

/**
 * The envelope of a structured-mode message and its `replyto`, or undefined when the payload is
 * not a CloudEvent in JSON (core readStructuredEvent, which says what is refused and thrown).
 */
export function fromMqttStructured(payload: Buffer): StructuredDecoded | undefined {
  const event = readStructuredEvent(payload, REPLY_TO_ATTRIBUTE);
  if (event === undefined) return undefined;
  return event.member === undefined ? { envelope: event.envelope } : { envelope: event.envelope, replyTo: event.member };
}

/** The type of envelopes made up around raw device payloads. */
export const RAW_TYPE = 'mqtt.raw';

/**
 * Wraps a payload that is not a CloudEvent (a device's JSON, text or bytes) in a made-up envelope:
 * `subject` = the MQTT topic, `data` = the payload bytes, `datacontenttype` = the Content Type
 * property, else `application/json` when the payload looks like JSON, else `application/octet-stream`.
 * @example rawEnvelope('devices/sensor-7/telemetry', payload, undefined, randomUUID(), new Date().toISOString())
 */
export function rawEnvelope(topic: string, payload: Buffer, contentType: string | undefined, id: string, time: string): Envelope {
  let first = 0;
  while (first < payload.length && (payload[first] === 0x20 || payload[first] === 0x0a || payload[first] === 0x0d || payload[first] === 0x09)) first++;
  const looksJson = payload[first] === 0x7b || payload[first] === 0x5b;
  return {
    specversion: '1.0', id, source: `mqtt:/${topic}`, type: RAW_TYPE, time, subject: topic,
    datacontenttype: contentType ?? (looksJson ? 'application/json' : 'application/octet-stream'),
    data: payload,
  };
}
