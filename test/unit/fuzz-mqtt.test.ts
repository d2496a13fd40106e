import { expect } from 'chai';
import fc from 'fast-check';
import { generate } from 'mqtt-packet';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { fromMqttBinary, fromMqttStructured, rawEnvelope, toMqttBinary, toMqttStructured } from '../../transports/mqtt/binding.js';
import { decodePublish, type InboundPublish } from '../../transports/mqtt/packet-codec.js';
import { PacketStream } from '../../transports/mqtt/packet-stream.js';
import {
  arbitraryBytes, attributeName, deepJson, expectEnvelopeOrTypedError, expectValidatable, FUZZ_TIMEOUT_MS, fuzzParams, hostileString, isTypedError,
  jsonEventObject, mutated,
} from '../helpers/fuzz.js';

const envelope = fc.record({
  specversion: fc.constant('1.0'), id: fc.uuid(), source: fc.constant('urn:fuzz'), type: fc.constant('sensor.reading'),
  subject: hostileString, datacontenttype: fc.constantFrom('application/json', 'text/plain'),
  data: fc.constantFrom('{"t":1}', 'x').map((s) => Buffer.from(s)),
});

/** Valid PUBLISH packets (MQTT 5 binary mode with user properties, 3.1.1 structured mode) and a PUBACK, as mqtt-packet writes them. */
const validPacket = fc.tuple(envelope, fc.constantFrom(0 as const, 1 as const), fc.boolean(), fc.integer({ min: 1, max: 65535 })).map(([e, qos, v5, messageId]) => {
  const wire = v5 ? toMqttBinary(e, 'reply/topic', Buffer.from('corr')) : toMqttStructured(e, 'reply/topic');
  return {
    v5,
    bytes: generate({
      cmd: 'publish', topic: 'devices/d1/telemetry', payload: wire.payload, qos, messageId, dup: false, retain: false,
      ...(v5 ? { properties: { ...wire.properties, subscriptionIdentifier: 3, payloadFormatIndicator: true, messageExpiryInterval: 60 } } : {}),
    }, { protocolVersion: v5 ? 5 : 4 }),
  };
});

/** Where the variable header starts (after type byte and Remaining Length), or undefined when the length is cut off. */
function bodyStart(packet: Buffer): number | undefined {
  for (let i = 1; i < Math.min(packet.length, 5); i++) if (!(packet[i]! & 0x80)) return i + 1;
  return undefined;
}

/** What the transport does with a decoded PUBLISH: binary mode, else structured, else a raw device message. */
function toEnvelope(p: InboundPublish): unknown {
  const binary = fromMqttBinary(p.payload, p.properties);
  if (binary) return binary;
  const structured = fromMqttStructured(p.payload);
  if (structured) return structured.envelope;
  return rawEnvelope(p.topic, p.payload, p.properties?.contentType, 'id', new Date(0).toISOString());
}

/** A socket stand-in: PacketStream only listens to it, pauses, resumes and destroys it. */
function fakeSocket(): Socket {
  return new PassThrough() as unknown as Socket;
}

describe('fuzz - MQTT packet codec and binding', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  it('mqtt fuzz - decodePublish on any packet (valid ones mutated, arbitrary bytes) gives a packet or undefined, and the binding an envelope', () => {
    const packet = fc.oneof(
      fc.tuple(mutated(validPacket.map((p) => p.bytes), 6), fc.boolean()),
      fc.tuple(arbitraryBytes.map((b) => Buffer.concat([Buffer.from([0x32]), b])), fc.boolean()),
    );
    fc.assert(fc.property(packet, ([bytes, v5]) => {
      const start = bodyStart(bytes);
      if (start === undefined || start > bytes.length) return;
      const { value } = expectEnvelopeOrTypedError(() => decodePublish(bytes, bytes[0]! & 0x0f, start, bytes.length, v5));
      if (!value) return;
      // A typed refusal (e.g. JSON nested past the depth limit) is what the transport dead-letters.
      const bound = expectEnvelopeOrTypedError(() => toEnvelope(value));
      if (bound.error === undefined) expectValidatable(bound.value);
    }), fuzzParams(500));
  });

  it('mqtt fuzz - decodePublish reads only inside [start, end) whatever the bytes claim', () => {
    fc.assert(fc.property(arbitraryBytes, fc.nat(), fc.nat(), fc.boolean(), (bytes, a, b, v5) => {
      const start = bytes.length === 0 ? 0 : a % bytes.length;
      const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
      const { value } = expectEnvelopeOrTypedError(() => decodePublish(bytes, 2, start, end, v5));
      if (value) expect(value.payload.length).to.be.at.most(end - start);
    }), fuzzParams(400));
  });

  it('mqtt fuzz - user properties: any names and values (repeats, prototype names, odd counts) give an envelope or undefined', () => {
    const pairs = fc.array(fc.tuple(attributeName, hostileString), { maxLength: 8 }).map((list) => list.flat());
    fc.assert(fc.property(pairs, fc.option(hostileString, { nil: undefined }), arbitraryBytes, (userPairs, contentType, payload) => {
      const props = contentType === undefined ? { userPairs } : { userPairs, contentType };
      const { value } = expectEnvelopeOrTypedError(() => fromMqttBinary(payload, props));
      if (value) expectValidatable(value);
    }), fuzzParams(400));
  });

  it('mqtt fuzz - structured payloads: valid events mutated, odd attributes, deep JSON give an envelope or undefined', () => {
    const payload = fc.oneof(
      mutated(envelope.map((e) => toMqttStructured(e).payload), 6),
      jsonEventObject.map((e) => Buffer.from(JSON.stringify(e))),
      deepJson.map((t) => Buffer.from(`{"specversion":"1.0","id":"1","source":"s","type":"t","data":${t}}`)),
      arbitraryBytes,
    );
    fc.assert(fc.property(payload, (p) => {
      const { value } = expectEnvelopeOrTypedError(() => fromMqttStructured(p));
      if (value) expectValidatable(value.envelope);
    }), fuzzParams(400));
  });

  it('mqtt fuzz - the packet stream splits any byte stream, cut anywhere, without throwing; a refusal is a typed error', () => {
    const stream = fc.array(fc.oneof(mutated(validPacket.map((p) => p.bytes), 3), validPacket.map((p) => p.bytes), arbitraryBytes), { minLength: 1, maxLength: 6 });
    fc.assert(fc.property(stream, fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 8 }), (packets, cuts) => {
      const socket = fakeSocket();
      let failure: unknown;
      const s = new PacketStream(socket, (buf, flags, start, end) => {
        const p = decodePublish(buf, flags, start, end, true);
        if (!p) return false;
        toEnvelope(p);
        return true;
      }, 64 * 1024);
      s.on('error', (err) => { failure = err; });
      s.on('data', () => {});
      const all = Buffer.concat(packets);
      for (let o = 0, k = 0; o < all.length && !s.destroyed; k++) {
        const n = cuts[k % cuts.length]!;
        expectEnvelopeOrTypedError(() => socket.emit('data', all.subarray(o, o + n)));
        o += n;
      }
      s.destroy();
      if (failure !== undefined) expect(isTypedError(failure), String(failure)).to.equal(true);
    }), fuzzParams(300, 0.5));
  });
});

describe('fuzz - MQTT regressions (minimized counterexamples)', () => {
  /** A PUBLISH fixed header whose Remaining Length claims `n` bytes. */
  function header(n: number): Buffer {
    const out = [0x30];
    do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 0x80; out.push(b); } while (n > 0);
    return Buffer.from(out);
  }

  it('mqtt stream - a packet claiming more than maxPacketBytes (here 200 MiB over a 1 MiB bound) is refused with SB_ERR_MESSAGE_TOO_LARGE before it is buffered', async () => {
    const socket = fakeSocket();
    const s = new PacketStream(socket, () => true, 1024 * 1024);
    let err: Error | undefined;
    s.on('error', (e) => { err = e; });
    socket.emit('data', Buffer.concat([header(200 * 1024 * 1024), Buffer.alloc(1000)]));
    await new Promise((resolve) => setImmediate(resolve)); // 'error' is emitted on the next tick
    expect(s.destroyed).to.equal(true);
    expect(err).to.have.property('code', 'SB_ERR_MESSAGE_TOO_LARGE');
  });

  it('mqtt stream - a large packet arriving in many small chunks is joined once, not once per chunk (linear, not quadratic, copying)', () => {
    const socket = fakeSocket();
    const payload = 4 * 1024 * 1024;
    let tapped = 0;
    const s = new PacketStream(socket, (_buf, _flags, start, end) => { tapped = end - start; return true; }, 8 * 1024 * 1024);
    const all = Buffer.concat([header(payload), Buffer.alloc(payload)]);
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = concat(list, total);
      copied += out.length;
      return out;
    }) as typeof Buffer.concat;
    try {
      for (let o = 0; o < all.length; o += 16 * 1024) socket.emit('data', all.subarray(o, o + 16 * 1024));
    } finally {
      Buffer.concat = concat;
      s.destroy();
    }
    expect(tapped).to.equal(payload);
    // Joining per chunk copies about chunks²/2 × 16 KiB (~2 GiB here); joining once copies the packet once.
    expect(copied).to.be.at.most(2 * all.length);
  });
});
