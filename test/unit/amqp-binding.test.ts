import { expect } from 'chai';
import type { Envelope } from '../../core/index.js';
import {
  ATTEMPT_HEADER, DELAY_HEADER, RAW_TYPE, SUBJECT_HEADER, UNKNOWN_SOURCE, fromAmqpMessage, retryCopyProperties, toAmqpMessage,
} from '../../transports/amqp/binding.js';

const body = Buffer.from('{"t":21.5}');

/** A full envelope as the Bus hands it to the transport (data already encoded). */
const envelope: Envelope = {
  specversion: '1.0', id: '6f1c1a52-9b1e-4a57-9f3c-1d2e3f405162', source: 'ingest@edge-1', type: 'sensor.reading',
  time: '2025-11-13T10:00:00.123Z', subject: 'sensor-7', datacontenttype: 'application/json',
  dataschema: 'urn:signalbus:contract:sensor.reading:1.0.0', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'vendor=abc', correlationid: 'corr-1', causationid: 'cause-1', partitionkey: 'sensor-7', tenant: 'acme',
  myextension: 'value with spaces, % and ünïcode', data: body,
};

/** The same message on the wire (golden). */
const wire = {
  content: body,
  properties: {
    headers: {
      'cloudEvents:specversion': '1.0', 'cloudEvents:id': '6f1c1a52-9b1e-4a57-9f3c-1d2e3f405162', 'cloudEvents:source': 'ingest@edge-1',
      'cloudEvents:type': 'sensor.reading', 'cloudEvents:time': '2025-11-13T10:00:00.123Z', 'cloudEvents:subject': 'sensor-7',
      'cloudEvents:datacontenttype': 'application/json', 'cloudEvents:dataschema': 'urn:signalbus:contract:sensor.reading:1.0.0',
      'cloudEvents:traceparent': '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'cloudEvents:tracestate': 'vendor=abc',
      'cloudEvents:correlationid': 'corr-1', 'cloudEvents:causationid': 'cause-1', 'cloudEvents:partitionkey': 'sensor-7',
      'cloudEvents:tenant': 'acme', 'cloudEvents:myextension': 'value with spaces, % and ünïcode',
    },
    messageId: '6f1c1a52-9b1e-4a57-9f3c-1d2e3f405162', type: 'sensor.reading', appId: 'ingest@edge-1', contentType: 'application/json',
    timestamp: 1763028000, correlationId: 'corr-1', deliveryMode: 2,
  },
};

describe('amqp binding', () => {
  it('amqp binding - writes every attribute as a cloudEvents: header and the basic properties (golden)', () => {
    const out = toAmqpMessage(envelope, { persistent: true });
    expect(out.properties).to.deep.equal(wire.properties);
    expect(out.content.equals(body)).to.equal(true);
  });

  it('amqp binding - marks messages persistent only in durable mode', () => {
    expect(toAmqpMessage(envelope, { persistent: false }).properties.deliveryMode).to.equal(undefined);
  });

  it('amqp binding - reads the golden wire message back into the same envelope', () => {
    const d = fromAmqpMessage({ routingKey: 'sensor.reading.berlin', redelivered: false, ...wire });
    expect(d.subject).to.equal('sensor.reading.berlin');
    expect(d.attempt).to.equal(1);
    expect(d.raw).to.equal(false);
    expect(d.envelope).to.deep.equal(envelope);
  });

  it('amqp binding - lets requests and replies override correlation_id and set reply_to', () => {
    const out = toAmqpMessage(envelope, { persistent: false, correlationId: 'req-42', replyTo: 'amq.rabbitmq.reply-to' });
    expect(out.properties.correlationId).to.equal('req-42');
    expect(out.properties.replyTo).to.equal('amq.rabbitmq.reply-to');
    expect((out.properties.headers as Record<string, string>)['cloudEvents:correlationid']).to.equal('corr-1');
  });

  it('amqp binding - sends no body and no content type without data', () => {
    const { data: _d, datacontenttype: _c, ...bare } = envelope;
    const out = toAmqpMessage(bare as Envelope, { persistent: false });
    expect(out.content.length).to.equal(0);
    expect(out.properties.contentType).to.equal(undefined);
    const back = fromAmqpMessage({ routingKey: 'a', redelivered: false, ...out });
    expect('data' in back.envelope).to.equal(false);
  });

  it('amqp binding - encodes data that is not bytes yet with the codec of its content type', () => {
    const out = toAmqpMessage({ ...envelope, data: { t: 21.5 } }, { persistent: false });
    expect(out.content.toString()).to.equal('{"t":21.5}');
  });

  it('amqp binding - builds an envelope from the basic properties of a plain AMQP publisher', () => {
    const d = fromAmqpMessage({
      routingKey: 'orders.created', redelivered: false, content: Buffer.from('{"n":1}'),
      properties: { messageId: 'm-1', type: 'order.created', appId: 'legacy-app', contentType: 'application/json', timestamp: 1763028000, correlationId: 'c-9', headers: { 'x-custom': 'ignored' } },
    });
    expect(d.raw).to.equal(false);
    expect(d.envelope).to.deep.equal({
      specversion: '1.0', id: 'm-1', type: 'order.created', source: 'legacy-app', time: '2025-11-13T10:00:00.000Z',
      datacontenttype: 'application/json', correlationid: 'c-9', data: Buffer.from('{"n":1}'),
    });
  });

  it('amqp binding - hands a message with no id or type on as raw, with an id derived from its subject and bytes', () => {
    const d = fromAmqpMessage({ routingKey: 'devices.7.telemetry', redelivered: false, content: Buffer.from('{"v":3}'), properties: {} });
    expect(d.raw).to.equal(true);
    // Golden: derivedEventId('amqp.raw', 'devices.7.telemetry', sha256 hex of '{"v":3}'), the same in every process.
    const id = 'dac1e577-303c-847a-b433-f08733eef4f6';
    expect(d.envelope).to.deep.equal({
      specversion: '1.0', id, type: RAW_TYPE, source: UNKNOWN_SOURCE, datacontenttype: 'application/json', data: Buffer.from('{"v":3}'),
    });
  });

  it('amqp binding - a raw message keeps its id when delivered again; other bytes or another subject give another id', () => {
    const raw = (routingKey: string, body: string, redelivered = false) =>
      fromAmqpMessage({ routingKey, redelivered, content: Buffer.from(body), properties: {} }).envelope.id;
    const first = raw('devices.7.telemetry', '{"v":3}');
    expect(raw('devices.7.telemetry', '{"v":3}', true)).to.equal(first);
    expect(raw('devices.7.telemetry', '{"v":4}')).to.not.equal(first);
    expect(raw('devices.8.telemetry', '{"v":3}')).to.not.equal(first);
    expect(first).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // A retried copy arrives with the queue as routing key and its subject in a header: same id.
    const copy = fromAmqpMessage({ routingKey: 'grp.devices.*.telemetry', redelivered: false, content: Buffer.from('{"v":3}'),
      properties: { headers: { [SUBJECT_HEADER]: 'devices.7.telemetry', [ATTEMPT_HEADER]: 2 } } });
    expect(copy.envelope.id).to.equal(first);
  });

  it('amqp binding - accepts the cloudEvents_ prefix and header values of other AMQP types', () => {
    const d = fromAmqpMessage({
      routingKey: 'a.b', redelivered: false, content: Buffer.alloc(0),
      properties: { headers: {
        'cloudEvents_specversion': '1.0', 'cloudEvents_id': Buffer.from('bytes-id'), 'cloudEvents:source': 's', 'cloudEvents:type': 't',
        'cloudEvents:count': 7, 'cloudEvents:time': { '!': 'timestamp', value: 1763028000 }, 'cloudEvents:table': { a: 1 },
      } },
    });
    expect(d.envelope).to.deep.equal({ specversion: '1.0', id: 'bytes-id', source: 's', type: 't', count: '7', time: '2025-11-13T10:00:00.000Z' });
  });

  it('amqp binding - counts a broker redelivery as another attempt', () => {
    expect(fromAmqpMessage({ routingKey: 'a', redelivered: true, ...wire }).attempt).to.equal(2);
  });

  it('amqp binding - a quorum queue counts attempts by x-delivery-count, on top of a retried copy\'s count', () => {
    const withCount = (count: unknown, extra: Record<string, unknown> = {}) => ({ ...wire.properties, headers: { ...wire.properties.headers, ...extra, 'x-delivery-count': count } });
    expect(fromAmqpMessage({ routingKey: 'a', redelivered: false, content: body, properties: withCount(0), quorum: true }).attempt).to.equal(1);
    expect(fromAmqpMessage({ routingKey: 'a', redelivered: true, content: body, properties: withCount(3), quorum: true }).attempt).to.equal(4);
    expect(fromAmqpMessage({ routingKey: 'a', redelivered: true, content: body, properties: withCount(2, { [ATTEMPT_HEADER]: 3 }), quorum: true }).attempt).to.equal(5);
    // Not a quorum queue: the header is a publisher's claim; only the redelivered flag counts.
    expect(fromAmqpMessage({ routingKey: 'a', redelivered: true, content: body, properties: withCount(3) }).attempt).to.equal(2);
    expect(fromAmqpMessage({ routingKey: 'a', redelivered: false, content: body, properties: withCount(3) }).attempt).to.equal(1);
    // A quorum delivery without the header falls back to the flag.
    expect(fromAmqpMessage({ routingKey: 'a', redelivered: true, ...wire, quorum: true }).attempt).to.equal(2);
    const copy = retryCopyProperties(withCount(4), 'a', 2, 10, true);
    expect(copy.headers, 'a retried copy starts its own delivery count').to.not.have.property('x-delivery-count');
  });

  it('amqp binding - a retried copy keeps identity and body, counts the attempt and names its subject', () => {
    const original = { ...wire.properties, headers: { ...wire.properties.headers, 'x-death': [{ count: 1 }], 'x-first-death-queue': 'q' } };
    const props = retryCopyProperties(original, 'sensor.reading.berlin', 3, 250, false);
    expect(props.headers).to.include({ [ATTEMPT_HEADER]: 3, [SUBJECT_HEADER]: 'sensor.reading.berlin', [DELAY_HEADER]: '250' });
    expect(props.headers).to.not.have.property('x-death');
    expect(props.headers).to.not.have.property('x-first-death-queue');
    expect(props.deliveryMode, 'a persistent original stays persistent').to.equal(2);
    // Back from the tier queue its routing key is the origin queue's name; the subject comes from the header.
    const d = fromAmqpMessage({ routingKey: 'billing.sensor.reading.>', redelivered: false, content: body, properties: props });
    expect(d.subject).to.equal('sensor.reading.berlin');
    expect(d.attempt).to.equal(3);
    expect(d.envelope).to.deep.equal(envelope);
  });
});
