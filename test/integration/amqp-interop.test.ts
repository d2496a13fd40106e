import { expect } from 'chai';
import type { ConsumeMessage } from 'amqplib';
import type { Envelope } from '../../core/index.js';
import { amqpWorld } from './amqp-world.js';
import { waitFor } from '../helpers/wait.js';

describe('amqp interop with a plain amqplib client (RabbitMQ)', function () {
  this.timeout(20_000);
  const world = amqpWorld('interop', 'sbinterop');
  const { exchange } = world;
  const bus = world.bus;

  it('amqp interop - a plain consumer reads a signalbus message with cloudEvents headers and basic properties', async () => {
    const pub = await bus({ durable: true });
    const ch = await world.plain.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchange, 'interop.out.*');
    const got: ConsumeMessage[] = [];
    await ch.consume(queue, (m) => { if (m) got.push(m); }, { noAck: true });
    const sent = await pub.publish('interop.out.berlin', { t: 21.5 }, { type: 'sensor.reading', partitionKey: 'sensor-7', headers: { tenant: 'acme' } });
    await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the message' });
    const m = got[0]!;
    expect(m.fields.routingKey).to.equal('interop.out.berlin');
    expect(JSON.parse(m.content.toString())).to.deep.equal({ t: 21.5 });
    expect(m.properties).to.include({
      messageId: sent.id, type: 'sensor.reading', appId: sent.source, contentType: 'application/json', correlationId: sent.correlationid, deliveryMode: 2,
    });
    expect(m.properties.timestamp).to.equal(Math.floor(Date.parse(sent.time!) / 1000));
    expect(m.properties.headers).to.include({
      'cloudEvents:specversion': '1.0', 'cloudEvents:id': sent.id, 'cloudEvents:source': sent.source, 'cloudEvents:type': 'sensor.reading',
      'cloudEvents:time': sent.time, 'cloudEvents:datacontenttype': 'application/json', 'cloudEvents:partitionkey': 'sensor-7',
      'cloudEvents:tenant': 'acme', 'cloudEvents:traceparent': sent.traceparent,
    });
    await ch.close();
  });

  it('amqp interop - a plain publisher\'s CloudEvent reaches a signalbus handler as the same envelope', async () => {
    const sub = await bus();
    const got: Envelope[] = [];
    await sub.subscribe('interop.in.>', async (m) => { got.push(m); });
    const ch = await world.plain.createChannel();
    ch.publish(exchange, 'interop.in.a.b', Buffer.from('{"n":7}'), {
      contentType: 'application/json', messageId: 'ignored-property-id',
      headers: { 'cloudEvents:specversion': '1.0', 'cloudEvents:id': 'ev-1', 'cloudEvents:source': 'legacy://billing', 'cloudEvents:type': 'invoice.paid',
        'cloudEvents:time': '2025-11-13T10:00:00Z', 'cloudEvents:correlationid': 'flow-9' },
    });
    await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the message' });
    expect(got[0]).to.deep.equal({
      specversion: '1.0', id: 'ev-1', source: 'legacy://billing', type: 'invoice.paid', time: '2025-11-13T10:00:00Z', correlationid: 'flow-9',
      datacontenttype: 'application/json', data: { n: 7 },
    });
    await ch.close();
  });

  it('amqp interop - a plain publisher that only sets basic properties still yields a proper envelope', async () => {
    const sub = await bus();
    const got: Envelope[] = [];
    await sub.subscribe('interop.props', async (m) => { got.push(m); }, { group: `interop-${exchange}` });
    const ch = await world.plain.createChannel();
    ch.publish(exchange, 'interop.props', Buffer.from('{"ok":true}'), { contentType: 'application/json', messageId: 'm-1', type: 'order.created', appId: 'legacy-app', timestamp: 1763028000 });
    await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the message' });
    expect(got[0]).to.deep.equal({
      specversion: '1.0', id: 'm-1', source: 'legacy-app', type: 'order.created', time: '2025-11-13T10:00:00.000Z', datacontenttype: 'application/json', data: { ok: true },
    });
    await ch.close();
  });

  it('amqp interop - a payload that is not a CloudEvent reaches raw subscribers and is dead-lettered by the Bus elsewhere', async () => {
    const sub = await bus();
    const raw: Envelope[] = []; const strict: Envelope[] = []; const dead: Envelope[] = [];
    await sub.subscribe('interop.device', async (m) => { raw.push(m); }, { raw: true });
    await sub.subscribe('interop.device', async (m) => { strict.push(m); });
    await sub.subscribe('dlq.interop.device', async (m) => { dead.push(m); }, { raw: true });
    const ch = await world.plain.createChannel();
    ch.publish(exchange, 'interop.device', Buffer.from('{"v":3}'));
    await waitFor(() => raw.length === 1 && dead.length === 1, { timeoutMs: 5000, what: 'the raw message and the dead letter' });
    expect(raw[0]).to.include({ type: 'amqp.raw', datacontenttype: 'application/json' });
    expect(dead[0]).to.include({ dlqreason: 'SB_ERR_ENVELOPE_INVALID', dlqsubject: 'interop.device', type: 'amqp.raw' });
    expect(Buffer.from(dead[0]!.data as Uint8Array).toString(), 'the payload, unchanged').to.equal('{"v":3}');
    expect(strict).to.deep.equal([]);
    await ch.close();
  });

  it('amqp interop - a plain client can answer a signalbus request through reply_to and correlation_id', async () => {
    const client = await bus();
    const ch = await world.plain.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchange, 'interop.rpc');
    await ch.consume(queue, (m) => {
      if (!m) return;
      const req = JSON.parse(m.content.toString()) as { a: number; b: number };
      ch.sendToQueue(m.properties.replyTo, Buffer.from(JSON.stringify({ sum: req.a + req.b })), {
        correlationId: m.properties.correlationId, contentType: 'application/json', messageId: 'r-1', type: 'sum', appId: 'plain-responder',
      });
      ch.ack(m);
    });
    const reply = await client.request('interop.rpc', { a: 2, b: 5 }, { timeoutMs: 5000 });
    expect(reply.data).to.deep.equal({ sum: 7 });
    expect(reply.source).to.equal('plain-responder');
    await ch.close();
  });

  it('amqp interop - a bad message on a 254-byte routing key is dead-lettered to a cut dlq subject, and a subject over 255 bytes is SubjectInvalidError', async () => {
    const sub = await bus();
    const dead: Envelope[] = [];
    await sub.subscribe('interop.long.>', async () => {});
    await sub.subscribe('dlq.interop.long.>', async (m) => { dead.push(m); }, { raw: true });
    const ch = await world.plain.createChannel();
    const key = `interop.long.${'k'.repeat(254 - 'interop.long.'.length)}`;
    ch.publish(exchange, key, Buffer.from('{"n":1}'), {
      contentType: 'application/json',
      headers: { 'cloudEvents:specversion': '1.0', 'cloudEvents:id': 'long-1', 'cloudEvents:source': 'legacy://x', 'cloudEvents:type': 't', 'cloudEvents:time': 'yesterday' },
    });
    await waitFor(() => dead.length === 1, { timeoutMs: 5000, what: 'the dead letter' });
    expect(dead[0]!.id).to.equal('long-1');
    expect(dead[0]!.dlqreason).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(dead[0]!.dlqsubject).to.equal(key);
    await ch.close();
    // The transport refuses a routing key over 255 bytes itself, with a typed error (amqplib would throw a TypeError).
    const transport = sub.transportFor('interop.x');
    const refused = await transport.publish(`interop.${'\u00e9'.repeat(130)}`, { specversion: '1.0', id: 'x', source: 's', type: 't' }).then(() => null, (e: unknown) => e);
    expect(refused).to.have.property('code', 'SB_ERR_SUBJECT_INVALID');
  });
});
