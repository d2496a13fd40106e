import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import mqtt from 'mqtt';
import { MqttTransport } from '../../transports/mqtt/index.js';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import { AmqpTransport } from '../../transports/amqp/index.js';
import { Bus, type Envelope, type Transport } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const NATS = 'nats://127.0.0.1:4222';
const deep = new TextEncoder().encode('['.repeat(100_000) + ']'.repeat(100_000));

/**
 * A subscriber's side of item 7: JSON data nested 100,000 deep (what a binary-mode client could
 * send) is dead-lettered with dlqreason SB_ERR_CODEC_TOO_DEEP, and the next message still flows.
 * Before the limit the handler's walk of the value overflowed the stack and the message was lost.
 */
async function deadLettersDeepJson(transport: Transport, prefix: string, sendDeep: (subject: string) => Promise<void>, keptBytes = deep.byteLength): Promise<void> {
  const bus = new Bus({ service: 'deep@t', transport, metrics: false, logger: silentLogger });
  try {
    const handled: unknown[] = [];
    const deadLetters: Envelope[] = [];
    // A handler that walks the data, as most do (logging, copying, validating).
    await bus.subscribe(`${prefix}.in`, (m) => { handled.push(JSON.parse(JSON.stringify(m.data))); });
    await bus.subscribe(`dlq.${prefix}.in`, (m) => { deadLetters.push(m); }, { raw: true });
    await bus.start();
    await sendDeep(`${prefix}.in`);
    await bus.publish(`${prefix}.in`, { n: 1 });
    await waitFor(() => handled.length === 1 && deadLetters.length === 1, {
      timeoutMs: 10_000, what: () => `the next message and the dead letter (handled ${handled.length}, dead letters ${deadLetters.length})`,
    });
    expect(handled).to.deep.equal([{ n: 1 }]);
    const dl = deadLetters[0]!;
    expect(dl).to.include({ dlqreason: 'SB_ERR_CODEC_TOO_DEEP', dlqsubject: `${prefix}.in`, datacontenttype: 'application/octet-stream' });
    expect((dl.data as Uint8Array).byteLength, 'the original bytes are kept').to.equal(keptBytes);
  } finally {
    await bus.stop();
  }
}

describe('deep JSON - dead-lettered at a subscriber, never lost', function () {
  this.timeout(30_000);

  it('memory - JSON data nested 100,000 deep is dead-lettered SB_ERR_CODEC_TOO_DEEP and the next message flows', async () => {
    const broker = new MemoryBroker();
    const prefix = `deep.${randomUUID().slice(0, 8)}`;
    const sender = new Bus({ service: 'sender@t', transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger });
    try {
      await deadLettersDeepJson(new MemoryTransport({ broker }), prefix, (subject) => sender.publishEnvelope(subject, {
        specversion: '1.0', id: randomUUID(), source: 'urn:t', type: 't', datacontenttype: 'application/json', data: deep,
      }));
    } finally { await sender.stop(); }
  });

  describe('nats core', () => {
    let nc: NatsConnection;
    before(async function () {
      await requireBroker(this, 'nats');
      nc = await connect({ servers: NATS });
    });
    after(async () => { await nc?.close(); });

    const sendBinary = async (subject: string) => {
      const h = natsHeaders();
      for (const [k, v] of [['ce-specversion', '1.0'], ['ce-id', randomUUID()], ['ce-source', 'urn:t'], ['ce-type', 't'], ['content-type', 'application/json']]) h.set(k!, v!);
      nc.publish(subject, deep, { headers: h });
      await nc.flush();
    };

    it('nats - a binary-mode message whose JSON data nests 100,000 deep is dead-lettered SB_ERR_CODEC_TOO_DEEP and the next message flows', async () => {
      const prefix = `deep.${randomUUID().slice(0, 8)}`;
      await deadLettersDeepJson(new NatsTransport({ servers: NATS }), prefix, sendBinary);
    });

    it('nats-jetstream - the same message through a stream is dead-lettered SB_ERR_CODEC_TOO_DEEP and the next message flows', async () => {
      const prefix = `deep.${randomUUID().slice(0, 8)}`;
      const stream = `SB_DEEP_${randomUUID().slice(0, 8)}`;
      try {
        await deadLettersDeepJson(new NatsTransport({ servers: NATS, jetstream: { stream, subjects: [`${prefix}.>`, `dlq.${prefix}.>`], storage: 'memory' } }), prefix, sendBinary);
      } finally {
        await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
      }
    });
  });

  it('mqtt - a structured-mode CloudEvent whose data nests 100,000 deep is dead-lettered SB_ERR_CODEC_TOO_DEEP (not as no CloudEvent) and the next message flows', async function () {
    await requireBroker(this, 'mosquitto');
    const url = 'mqtt://127.0.0.1:1883';
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `deep-${randomUUID().slice(0, 8)}` });
    const structured = Buffer.from(`{"specversion":"1.0","id":"${randomUUID()}","source":"urn:t","type":"t","datacontenttype":"application/json","data":${Buffer.from(deep).toString()}}`);
    try {
      const prefix = `deep.${randomUUID().slice(0, 8)}`;
      await deadLettersDeepJson(new MqttTransport({ url, qos: 1, logger: silentLogger }), prefix, async (subject) => {
        await client.publishAsync(subject.replaceAll('.', '/'), structured, { qos: 1 });
      }, structured.byteLength);
    } finally {
      await client.endAsync();
    }
  });

  it('amqp - a message whose JSON data nests 100,000 deep is dead-lettered SB_ERR_CODEC_TOO_DEEP and the next message flows', async function () {
    await requireBroker(this, 'rabbitmq');
    const url = 'amqp://guest:guest@127.0.0.1:5672';
    const conn = await amqplib.connect(url);
    try {
      const ch = await conn.createConfirmChannel();
      const prefix = `deep.${randomUUID().slice(0, 8)}`;
      await deadLettersDeepJson(new AmqpTransport({ url }), prefix, async (subject) => {
        ch.publish('signalbus', subject, Buffer.from(deep), {
          contentType: 'application/json',
          headers: { 'cloudEvents:specversion': '1.0', 'cloudEvents:id': randomUUID(), 'cloudEvents:source': 'urn:t', 'cloudEvents:type': 't' },
        });
        await ch.waitForConfirms();
      });
    } finally {
      await conn.close();
    }
  });
});
