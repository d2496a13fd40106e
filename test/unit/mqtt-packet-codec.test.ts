import { expect } from 'chai';
import fc from 'fast-check';
import { generate, parser, type IPublishPacket, type Packet } from 'mqtt-packet';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { inboundRefusal, MessageTooLargeError } from '../../core/index.js';
import { fromMqttBinary, type MqttWireProperties } from '../../transports/mqtt/binding.js';
import { MAX_USER_PAIRS, decodePublish, encodePuback, encodePublish, fromMqttPacket, topicField, type InboundPublishProperties } from '../../transports/mqtt/packet-codec.js';
import { PacketStream } from '../../transports/mqtt/packet-stream.js';
import { nextTurn, waitFor } from '../helpers/wait.js';

/** The fixed header's length: type byte plus the Remaining Length variable integer. */
function bodyStart(packet: Buffer): number {
  let i = 1;
  while (packet[i]! & 0x80) i++;
  return i + 1;
}

/** Decoded properties in the shape they were sent in: user property pairs as a record, repeats as arrays. */
function asSent(p: InboundPublishProperties | undefined): MqttWireProperties | undefined {
  if (p === undefined) return undefined;
  const { userPairs, ...rest } = p;
  if (userPairs === undefined) return rest;
  const user: Record<string, string | string[]> = {};
  for (let i = 0; i < userPairs.length; i += 2) {
    const name = userPairs[i]!; const value = userPairs[i + 1]!;
    const prev = Object.hasOwn(user, name) ? user[name] : undefined;
    if (prev === undefined) Object.defineProperty(user, name, { value, enumerable: true, writable: true, configurable: true });
    else if (Array.isArray(prev)) prev.push(value);
    else user[name] = [prev, value];
  }
  return { ...rest, userProperties: user };
}

/** What mqtt-packet parses `bytes` into (one packet). */
function parseWithMqttPacket(bytes: Buffer, protocolVersion: 4 | 5): Packet {
  const p = parser({ protocolVersion });
  let out: Packet | undefined;
  let failure: Error | undefined;
  p.on('packet', (packet) => { out = packet; });
  p.on('error', (err) => { failure = err; });
  p.parse(bytes);
  if (failure) throw failure;
  if (!out) throw new Error('mqtt-packet parsed nothing');
  return out;
}

const text = fc.string({ unit: 'grapheme', maxLength: 24 });
const topic = fc.array(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }).filter((s) => !/[+#/\0]/.test(s)), { minLength: 1, maxLength: 5 })
  .map((parts) => parts.join('/'));
const properties: fc.Arbitrary<MqttWireProperties> = fc.record({
  contentType: text,
  userProperties: fc.dictionary(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }), fc.oneof(text, fc.array(text, { minLength: 2, maxLength: 3 })), { minKeys: 1, maxKeys: 8 }), // the binding always sends some; mqtt-packet mis-encodes {}
  responseTopic: topic,
  correlationData: fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b)),
}, { requiredKeys: [] });
const publishes = fc.record({
  topic,
  payload: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
  messageId: fc.integer({ min: 1, max: 65535 }),
  properties: fc.option(properties, { nil: undefined }),
});

describe('mqtt packet codec', () => {
  it('mqtt codec - a PUBLISH is byte-for-byte what mqtt-packet generates (MQTT 5 and 3.1.1, property)', () => {
    fc.assert(fc.property(publishes, fc.boolean(), (p, v5) => {
      const props = v5 ? p.properties : undefined;
      const ours = encodePublish(topicField(p.topic), p.payload, p.qos, p.messageId, v5, props);
      const packet: IPublishPacket = { cmd: 'publish', topic: p.topic, payload: p.payload, qos: p.qos, dup: false, retain: false, ...(p.qos > 0 ? { messageId: p.messageId } : {}), ...(props ? { properties: props } : {}) };
      expect(ours.equals(generate(packet, { protocolVersion: v5 ? 5 : 4 }))).to.equal(true);
    }), { numRuns: 300 });
  });

  it('mqtt codec - decoding what mqtt-packet generates gives the same topic, payload, qos, id and properties (property)', () => {
    fc.assert(fc.property(publishes, fc.boolean(), (p, v5) => {
      const props = v5 ? p.properties : undefined;
      const bytes = generate({ cmd: 'publish', topic: p.topic, payload: p.payload, qos: p.qos, dup: false, retain: false, messageId: p.messageId, ...(props ? { properties: props } : {}) }, { protocolVersion: v5 ? 5 : 4 });
      const decoded = decodePublish(bytes, bytes[0]! & 0x0f, bodyStart(bytes), bytes.length, v5);
      const reference = parseWithMqttPacket(bytes, v5 ? 5 : 4) as IPublishPacket;
      expect(decoded).to.not.equal(undefined);
      expect(decoded!.topic).to.equal(reference.topic);
      expect(decoded!.payload.equals(reference.payload as Buffer)).to.equal(true);
      expect(decoded!.qos).to.equal(reference.qos);
      if (p.qos > 0) expect(decoded!.messageId).to.equal(reference.messageId);
      // Properties are compared with what was sent: mqtt-packet's parser loses a repeated user
      // property whose first value is '' (it tests the value for truthiness).
      expect(asSent(decoded!.properties)).to.deep.equal(props && Object.keys(props).length > 0 ? props : undefined);
    }), { numRuns: 300 });
  });

  it('mqtt codec - decodes at most one user property more than an envelope may hold, and a late specversion', () => {
    const userProperties: Record<string, string> = {};
    for (let i = 0; i < 10_000; i++) userProperties[`x${i}`] = 'v';
    userProperties.specversion = '1.0';
    const bytes = generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(0), qos: 0, dup: false, retain: false, properties: { userProperties } }, { protocolVersion: 5 });
    const pairs = decodePublish(bytes, bytes[0]! & 0x0f, bodyStart(bytes), bytes.length, true)!.properties!.userPairs!;
    expect(pairs.length).to.equal((MAX_USER_PAIRS + 1) * 2);
    expect(pairs.slice(-2)).to.deep.equal(['specversion', '1.0']);
    const envelope = fromMqttBinary(Buffer.alloc(0), { userPairs: pairs })!;
    expect(inboundRefusal(envelope)).to.have.property('code', 'SB_ERR_HEADER_INVALID');
  });

  it('mqtt codec - a PUBLISH mqtt.js decoded (QoS 2, topic alias path) takes the same form as one decoded here (property)', () => {
    fc.assert(fc.property(publishes, (p) => {
      const bytes = generate({ cmd: 'publish', topic: p.topic, payload: p.payload, qos: p.qos, dup: false, retain: false, messageId: p.messageId, ...(p.properties ? { properties: p.properties } : {}) }, { protocolVersion: 5 });
      const ours = decodePublish(bytes, bytes[0]! & 0x0f, bodyStart(bytes), bytes.length, true)!;
      const theirs = fromMqttPacket(parseWithMqttPacket(bytes, 5) as IPublishPacket);
      expect(theirs.topic).to.equal(ours.topic);
      expect(theirs.payload.equals(ours.payload)).to.equal(true);
      expect(theirs.qos).to.equal(ours.qos);
      if (p.qos > 0) expect(theirs.messageId).to.equal(ours.messageId);
      // mqtt-packet drops a repeated user property whose first value is '' (see above): compare the rest.
      const { userPairs: a, ...restA } = theirs.properties ?? {};
      const { userPairs: b, ...restB } = ours.properties ?? {};
      expect(restA).to.deep.equal(restB);
      if (a !== undefined && !(b ?? []).some((v, i) => i % 2 === 1 && v === '')) expect(a).to.deep.equal(b);
    }), { numRuns: 200 });
  });

  it('mqtt codec - a topic alias, or a property it does not read, is left to mqtt-packet', () => {
    for (const properties of [{ topicAlias: 3 }, { subscriptionIdentifier: 7, topicAlias: 2 }]) {
      const bytes = generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties }, { protocolVersion: 5 });
      expect(decodePublish(bytes, bytes[0]! & 0x0f, bodyStart(bytes), bytes.length, true)).to.equal(undefined);
    }
  });

  it('mqtt codec - truncated or inconsistent packets are declined, never read past their end', () => {
    const bytes = generate({ cmd: 'publish', topic: 'devices/d-1/telemetry', payload: Buffer.from('{"t":1}'), qos: 1, messageId: 9, dup: false, retain: false, properties: { contentType: 'application/json', userProperties: { id: 'x' } } }, { protocolVersion: 5 });
    const start = bodyStart(bytes);
    // Cut inside the topic, the packet id and the properties: each is declined.
    for (const end of [start + 1, start + 5, start + 2 + 21 + 1, start + 2 + 21 + 2 + 3]) {
      expect(decodePublish(bytes, bytes[0]! & 0x0f, start, end, true), `end ${end}`).to.equal(undefined);
    }
  });

  it('mqtt codec - a PUBACK is what mqtt-packet generates for a success', () => {
    for (const messageId of [1, 255, 256, 65535]) {
      expect(encodePuback(messageId).equals(generate({ cmd: 'puback', messageId }, { protocolVersion: 4 }))).to.equal(true);
      expect(parseWithMqttPacket(encodePuback(messageId), 5)).to.include({ cmd: 'puback', messageId });
    }
  });

  it('mqtt codec - past MQTT limits is a MessageTooLargeError, not a malformed packet', () => {
    expect(() => topicField('t'.repeat(70_000))).to.throw(MessageTooLargeError);
    expect(() => encodePublish(topicField('a'), Buffer.alloc(1), 1, 1, true, { userProperties: { big: 'v'.repeat(70_000) } })).to.throw(MessageTooLargeError);
    expect(() => encodePublish(topicField('a'), Buffer.alloc(1), 1, 1, true, { correlationData: Buffer.alloc(70_000) })).to.throw(MessageTooLargeError);
  });
});

/** A connected loopback socket pair. */
async function socketPair(): Promise<{ client: Socket; server: Socket; close(): Promise<void> }> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => srv.once('connection', r));
  const client = connect((srv.address() as AddressInfo).port, '127.0.0.1');
  const server = await accepted;
  return {
    client, server,
    close: async () => { client.destroy(); server.destroy(); await new Promise((r) => srv.close(r)); },
  };
}

describe('mqtt packet stream', () => {
  it('mqtt stream - PUBLISH packets go to the tap, everything else reaches mqtt.js in order, however the bytes are cut (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.oneof(
        fc.record({ kind: fc.constant('publish' as const), i: fc.nat(1000), qos: fc.constantFrom(0 as const, 1 as const) }),
        fc.record({ kind: fc.constant('other' as const), i: fc.nat(1000) }),
      ), { minLength: 1, maxLength: 40 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
      async (packets, cuts) => {
        const pair = await socketPair();
        try {
          const tapped: string[] = [];
          const stream = new PacketStream(pair.client, (buf, flags, start, end) => {
            const p = decodePublish(buf, flags, start, end, true)!;
            tapped.push(p.payload.toString());
            return true;
          });
          const passed: Buffer[] = [];
          stream.on('data', (b: Buffer) => passed.push(b));
          const wire = packets.map((p) => (p.kind === 'publish'
            ? generate({ cmd: 'publish', topic: 't', payload: Buffer.from(`p${p.i}`), qos: p.qos, messageId: p.i + 1, dup: false, retain: false }, { protocolVersion: 5 })
            : generate({ cmd: 'puback', messageId: p.i + 1 }, { protocolVersion: 5 })));
          const all = Buffer.concat(wire);
          // Write in pieces of the generated sizes, each piece its own TCP write.
          for (let o = 0, k = 0; o < all.length; k++) {
            const n = cuts[k % cuts.length]!;
            pair.server.write(all.subarray(o, o + n));
            o += n;
            await new Promise((r) => setImmediate(r));
          }
          const expectedOther = Buffer.concat(wire.filter((_, i) => packets[i]!.kind === 'other'));
          const expectedTapped = packets.filter((p) => p.kind === 'publish').map((p) => `p${p.i}`);
          // On a timeout the comparisons below show what is missing.
          await waitFor(() => Buffer.concat(passed).length >= expectedOther.length && tapped.length >= expectedTapped.length,
            { what: 'every packet through the stream', intervalMs: 2 }).catch(() => undefined);
          expect(tapped).to.deep.equal(expectedTapped);
          expect(Buffer.concat(passed).equals(expectedOther)).to.equal(true);
        } finally {
          await pair.close();
        }
      },
    ), { numRuns: 40 });
  });

  it('mqtt stream - a tap that returns a promise holds back the following packets until it settles (inbound backpressure)', async () => {
    const pair = await socketPair();
    try {
      const order: string[] = [];
      let release!: () => void;
      const stream = new PacketStream(pair.client, (buf, flags, start, end) => {
        const payload = decodePublish(buf, flags, start, end, false)!.payload.toString();
        order.push(`tap ${payload}`);
        return payload === 'first' ? new Promise<void>((r) => { release = r; }) : true;
      });
      stream.on('data', () => order.push('other'));
      pair.server.write(Buffer.concat([
        generate({ cmd: 'publish', topic: 't', payload: Buffer.from('first'), qos: 0, dup: false, retain: false }),
        generate({ cmd: 'pingresp' }),
        generate({ cmd: 'publish', topic: 't', payload: Buffer.from('second'), qos: 0, dup: false, retain: false }),
      ]));
      await waitFor(() => order.length > 0, { what: 'the first tap' });
      // The three packets arrive in one chunk: unheld, the other two would be parsed in the same turn.
      for (let i = 0; i < 5; i++) await nextTurn();
      expect(order).to.deep.equal(['tap first']);
      release();
      await waitFor(() => order.includes('tap second') && order.includes('other'), { what: 'the held-back packets' });
      // mqtt.js gets its packets through the stream's 'data' events, so only the tap's order is strict.
      expect(order.filter((o) => o.startsWith('tap'))).to.deep.equal(['tap first', 'tap second']);
      expect(order).to.include('other');
    } finally {
      await pair.close();
    }
  });

  it('mqtt stream - packets written in one tick leave together, and afterTurn lets the event loop read in between', async () => {
    const pair = await socketPair();
    try {
      const stream = new PacketStream(pair.client, () => true);
      const received: Buffer[] = [];
      pair.server.on('data', (b: Buffer) => received.push(b));
      const packets = Array.from({ length: 100 }, (_, i) => encodePublish(topicField('t'), Buffer.from(`m${i}`), 0, 0, false));
      for (const p of packets) stream.writePacket(p);
      let immediateRan = false;
      setImmediate(() => { immediateRan = true; });
      await stream.afterTurn();
      expect(immediateRan).to.equal(true);
      await waitFor(() => Buffer.concat(received).length >= Buffer.concat(packets).length, { what: 'all packets at the server', intervalMs: 2 }).catch(() => undefined);
      expect(Buffer.concat(received).equals(Buffer.concat(packets))).to.equal(true);
    } finally {
      await pair.close();
    }
  });
});
