import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import type { AmqpProperties } from '../../transports/amqp/binding.js';
import { toAmqpMessage } from '../../transports/amqp/binding.js';
import { wireFields } from '../../transports/amqp/publisher.js';

// amqplib's own frame encoders and option mapping (not exported by its package.json: loaded by path).
const require = createRequire(import.meta.url);
const lib = join(dirname(require.resolve('amqplib')), 'lib');
const defs = require(join(lib, 'defs.js')) as {
  encodeMethod(id: number, channel: number, fields: object): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: object): Buffer;
  BasicPublish: number; BasicProperties: number;
};
const Args = require(join(lib, 'api_args.js')) as { publish(exchange: string, routingKey: string, options: object): object };

/** The method and header frames amqplib writes for a publish made from `fields`. */
function frames(fields: object, size: number): string {
  return Buffer.concat([defs.encodeMethod(defs.BasicPublish, 3, fields), defs.encodeProperties(defs.BasicProperties, 3, size, fields)]).toString('hex');
}

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const properties: fc.Arbitrary<AmqpProperties> = fc.record({
  headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.oneof(text, fc.integer({ min: -1000, max: 100_000 }))),
  messageId: text, type: text, appId: text, contentType: text,
  timestamp: fc.integer({ min: 0, max: 4_000_000_000 }),
  correlationId: text, replyTo: text,
  deliveryMode: fc.constantFrom(1, 2),
  expiration: fc.oneof(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 1e9 }).map(String)),
  mandatory: fc.boolean(),
}, { requiredKeys: [] });

describe('amqp wire fields', () => {
  it('amqp wire fields - amqplib still has the channel methods the publisher calls (without them it falls back to the slower publish())', () => {
    const { Channel } = require(join(lib, 'channel.js')) as { Channel: { prototype: Record<string, unknown> } };
    expect(Channel.prototype.sendMessage).to.be.a('function');
    expect(Channel.prototype.pushConfirmCallback).to.be.a('function');
  });

  it('amqp wire fields - encode to the same frames as channel.publish() with the same options', () => {
    fc.assert(fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 60 }), properties, fc.nat(10_000), (exchange, routingKey, p, size) => {
      expect(frames(wireFields(exchange, routingKey, p), size)).to.equal(frames(Args.publish(exchange, routingKey, p), size));
    }), { numRuns: 500 });
  });

  it('amqp wire fields - a signalbus envelope is framed byte for byte as publish() frames it', () => {
    const { content, properties: p } = toAmqpMessage({
      specversion: '1.0', id: 'e-1', source: 'pub@c1', type: 'sensor.reading', time: '2026-11-23T10:00:00.000Z',
      datacontenttype: 'application/json', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tenant: 'acme', data: Buffer.from('{}'),
    }, { persistent: true, correlationId: 'c-1', replyTo: 'amq.rabbitmq.reply-to' });
    expect(frames(wireFields('signalbus', 'sensor.reading', p), content.length)).to.equal(frames(Args.publish('signalbus', 'sensor.reading', p), content.length));
  });
});
