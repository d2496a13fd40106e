import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { Bus, EnvelopeInvalidError, inboundProblem, inboundRefusal, type Envelope } from '../../core/index.js';
import { transportFromUrl } from '../../transports/index.js';
import { startEmbeddedBroker } from '../../transports/mqtt/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';
import {
  fromMqttBinary, fromMqttStructured, toMqttBinary, toMqttStructured, rawEnvelope, RAW_TYPE, STRUCTURED_CONTENT_TYPE,
  type MqttWireMessage,
} from '../../transports/mqtt/binding.js';
import { decodePublish, encodePublish, topicField } from '../../transports/mqtt/packet-codec.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');

/** A binary-mode message as a subscriber reads it: through a PUBLISH packet and back. */
function received(wire: MqttWireMessage) {
  const packet = encodePublish(topicField('t'), wire.payload, 0, 0, true, wire.properties);
  let start = 1;
  while (packet[start]! & 0x80) start++;
  return decodePublish(packet, 0, start + 1, packet.length, true)!;
}
const event: Envelope = {
  specversion: '1.0', id: '6f1c7a52-0c1e-4a34-9d0b-3b1b1f4e9a10', source: 'ingest@edge-1', type: 'sensor.reading',
  time: '2025-11-23T10:00:00.000Z', datacontenttype: 'application/json', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tenant: 'acme', myextension: 'ünïcode, % and spaces', data: bytes('{"t":21.5}'),
};

describe('mqtt binding', () => {
  it('mqtt binding - binary mode writes attributes as user properties and the content type property (golden)', () => {
    const wire = toMqttBinary(event, 'signalbus/_inbox/x', Buffer.from('corr'));
    expect(wire.payload.toString()).to.equal('{"t":21.5}');
    expect(wire.properties).to.deep.equal({
      contentType: 'application/json',
      userProperties: {
        specversion: '1.0', id: '6f1c7a52-0c1e-4a34-9d0b-3b1b1f4e9a10', source: 'ingest@edge-1', type: 'sensor.reading',
        time: '2025-11-23T10:00:00.000Z', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tenant: 'acme', myextension: 'ünïcode, % and spaces',
      },
      responseTopic: 'signalbus/_inbox/x',
      correlationData: Buffer.from('corr'),
    });
  });

  it('mqtt binding - binary mode reads user properties back into the same envelope (golden)', () => {
    const env = fromMqttBinary(bytes('{"t":21.5}'), {
      contentType: 'application/json',
      userPairs: ['specversion', '1.0', 'id', 'a', 'source', 's', 'type', 't', 'tenant', 'acme', 'tenant', 'ignored-duplicate'],
    });
    expect(env).to.deep.equal({ specversion: '1.0', id: 'a', source: 's', type: 't', tenant: 'acme', datacontenttype: 'application/json', data: bytes('{"t":21.5}') });
  });

  it('mqtt binding - refuses a Content Type property and a datacontenttype user property that disagree', () => {
    const pairs = ['specversion', '1.0', 'id', 'a', 'source', 's', 'type', 't'];
    const disagree = fromMqttBinary(bytes('{}'), { contentType: 'application/json', userPairs: [...pairs, 'datacontenttype', 'text/plain'] })!;
    expect(inboundRefusal(disagree)).to.have.property('code', 'SB_ERR_HEADER_INVALID');
    const same = fromMqttBinary(bytes('hi'), { contentType: 'text/plain', userPairs: [...pairs, 'datacontenttype', 'text/plain'] })!;
    expect(inboundProblem(same)).to.equal(undefined);
    expect(same.datacontenttype).to.equal('text/plain');
  });

  it('mqtt binding - binary mode round-trips an envelope, with and without data', () => {
    const wire = toMqttBinary(event);
    const r = received(wire);
    expect(fromMqttBinary(r.payload, r.properties)).to.deep.equal(event);
    const { data: _data, datacontenttype: _ct, ...noData } = event;
    const w2 = toMqttBinary(noData as Envelope);
    const r2 = received(w2);
    expect(fromMqttBinary(r2.payload, r2.properties)).to.deep.equal(noData);
  });

  it('mqtt binding - binary mode recognises a message without specversion as not a CloudEvent', () => {
    expect(fromMqttBinary(bytes('{"temperature":1}'), undefined)).to.equal(undefined);
    expect(fromMqttBinary(bytes('x'), { userPairs: ['other', 'x'] })).to.equal(undefined);
    expect(fromMqttBinary(bytes('x'), { userPairs: ['other', 'specversion'] }), 'specversion as a value').to.equal(undefined);
  });

  it('mqtt binding - structured mode writes the event as CloudEvents JSON with JSON data embedded (golden)', () => {
    const wire = toMqttStructured({ specversion: '1.0', id: 'a', source: 's', type: 't', datacontenttype: 'application/json', data: bytes('{"t":1}') }, 'signalbus/_inbox/x');
    expect(wire.payload.toString()).to.equal('{"specversion":"1.0","id":"a","source":"s","type":"t","datacontenttype":"application/json","replyto":"signalbus/_inbox/x","data":{"t":1}}');
    expect(wire.properties).to.deep.equal({ contentType: STRUCTURED_CONTENT_TYPE });
  });

  it('mqtt binding - structured mode writes other data as data_base64 (golden)', () => {
    const wire = toMqttStructured({ specversion: '1.0', id: 'a', source: 's', type: 't', datacontenttype: 'application/octet-stream', data: Uint8Array.from([0, 1, 255]) });
    expect(wire.payload.toString()).to.equal('{"specversion":"1.0","id":"a","source":"s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAH/"}');
  });

  it('mqtt binding - structured mode reads JSON data decoded, base64 data as bytes, and the reply topic apart', () => {
    const json = fromMqttStructured(bytes('{"specversion":"1.0","id":"a","source":"s","type":"t","replyto":"r/1","data":{"t":1}}'));
    expect(json).to.deep.equal({ envelope: { specversion: '1.0', id: 'a', source: 's', type: 't', data: { t: 1 } }, replyTo: 'r/1' });
    const bin = fromMqttStructured(bytes('{"specversion":"1.0","id":"a","source":"s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAH/"}'));
    expect(Buffer.from(bin!.envelope.data as Uint8Array)).to.deep.equal(Buffer.from([0, 1, 255]));
    expect(bin!.envelope).to.not.have.property('data_base64');
  });

  it('mqtt binding - structured mode round-trips attributes', () => {
    const wire = toMqttStructured(event);
    const back = fromMqttStructured(wire.payload)!.envelope;
    expect(back).to.deep.equal({ ...event, data: { t: 21.5 } });
  });

  it('mqtt binding - device JSON, text and broken JSON are not CloudEvents', () => {
    for (const p of ['{"ts":1,"temperature":21.5}', '21.5', '{"specversion":', '[1,2]', '{"specversion":"1.0","id":"a"}']) {
      expect(fromMqttStructured(bytes(p)), p).to.equal(undefined);
    }
  });

  it('mqtt binding - structured mode refuses an event that repeats a member name (SB_ERR_ENVELOPE_INVALID naming it; the Bus dead-letters it)', () => {
    const head = '{"specversion":"1.0","id":"a","source":"s","type":"t"';
    for (const [payload, member] of [
      [`${head},"tenant":"acme","tenant":"evil"}`, 'tenant'],
      [`${head},"id":"b"}`, 'id'],
      [`${head},"\\u0069d":"b"}`, 'id'],
      [`${head},"replyto":"r/1","replyto":"r/2"}`, 'replyto'],
      [`${head},"data":{"t":1},"data":{"t":2}}`, 'data'],
    ] as const) {
      const decoded = fromMqttStructured(bytes(payload));
      expect(decoded, payload).to.not.equal(undefined);
      const refusal = inboundRefusal(decoded!.envelope);
      expect(refusal, payload).to.be.instanceOf(EnvelopeInvalidError);
      expect(refusal!.details, payload).to.include({ member });
      expect(inboundProblem(decoded!.envelope)?.code, payload).to.equal('SB_ERR_ENVELOPE_INVALID');
    }
    // Without the repeat, and with data repeating names of its own (the payload), nothing is refused.
    for (const payload of [`${head},"tenant":"acme"}`, `${head},"tenant":"acme","data":{"tenant":1,"tenant":2}}`]) {
      const decoded = fromMqttStructured(bytes(payload))!;
      expect(decoded.envelope.tenant, payload).to.equal('acme');
      expect(inboundRefusal(decoded.envelope), payload).to.equal(undefined);
      expect(inboundProblem(decoded.envelope), payload).to.equal(undefined);
    }
  });

  it('mqtt - a structured event that repeats a member name is dead-lettered by the Bus with SB_ERR_ENVELOPE_INVALID, never handled (embedded broker, MQTT 3.1.1)', async function () {
    this.timeout(20_000);
    const broker = await startEmbeddedBroker({ port: 0 });
    const bus = new Bus({ service: 'dupm@test', transport: await transportFromUrl(broker.url), metrics: false, logger: silentLogger });
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 4, clientId: `dupm-${randomUUID().slice(0, 8)}` });
    try {
      const handled: Envelope[] = [];
      const dead: Envelope[] = [];
      await bus.subscribe('dupm.>', (m) => { handled.push(m); });
      await bus.subscribe('dlq.dupm.>', (m) => { dead.push(m); }, { raw: true });
      const head = '{"specversion":"1.0","source":"device","type":"t","datacontenttype":"application/json"';
      await device.publishAsync('dupm/x', `${head},"id":"twice","tenant":"acme","tenant":"evil","data":{"n":1}}`, { qos: 1 });
      await device.publishAsync('dupm/x', `${head},"id":"good","tenant":"acme","data":{"n":2,"n":3}}`, { qos: 1 });
      await waitFor(() => dead.length === 1 && handled.length === 1, { timeoutMs: 5000, what: 'the dead letter and the good event' });
      expect(dead[0]).to.include({ dlqreason: 'SB_ERR_ENVELOPE_INVALID', dlqsubject: 'dupm.x', id: 'twice' });
      expect(dead[0]!.dlqmessage).to.include('"tenant"');
      expect(handled.map((e) => e.id)).to.deep.equal(['good']);
    } finally {
      await device.endAsync();
      await bus.stop();
      await broker.stop();
    }
  });

  it('mqtt binding - wraps a raw device payload with the topic as subject (golden)', () => {
    const payload = bytes('{"ts":1,"temperature":21.5}');
    expect(rawEnvelope('devices/sensor-7/telemetry', payload, undefined, 'id-1', '2025-11-23T10:00:00.000Z')).to.deep.equal({
      specversion: '1.0', id: 'id-1', source: 'mqtt:/devices/sensor-7/telemetry', type: RAW_TYPE, time: '2025-11-23T10:00:00.000Z',
      subject: 'devices/sensor-7/telemetry', datacontenttype: 'application/json', data: payload,
    });
    expect(rawEnvelope('d/x', bytes('\x01\x02'), undefined, 'i', 't').datacontenttype).to.equal('application/octet-stream');
    expect(rawEnvelope('d/x', bytes('21'), 'text/plain', 'i', 't').datacontenttype).to.equal('text/plain');
  });
});
