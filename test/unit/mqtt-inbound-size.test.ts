/**
 * MQTT 3.1.1 cannot announce a Maximum Packet Size, so a publisher could make a 3.1.1 subscriber
 * buffer a PUBLISH of up to 256 MB. The packet stream skips a PUBLISH longer than
 * `maxMessageBytes` as it streams past (keeping topic, packet id and a bounded head of the
 * payload), the connection acknowledges it at its QoS, and the subscriber's Bus dead-letters a
 * truncated copy with SB_ERR_MESSAGE_TOO_LARGE. MQTT 5 still ends the connection (the broker
 * broke the limit it was told).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { generate, parser, type Packet } from 'mqtt-packet';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { Bus, type Envelope } from '../../core/index.js';
import { MqttTransport } from '../../transports/mqtt/index.js';
import { oversizeHeadBytes } from '../../transports/mqtt/connection.js';
import { toMqttStructured } from '../../transports/mqtt/binding.js';
import { decodePublish } from '../../transports/mqtt/packet-codec.js';
import { PacketStream, type OversizeSkip } from '../../transports/mqtt/packet-stream.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

/** A socket stand-in: PacketStream only listens to it, pauses, resumes and destroys it. */
function fakeSocket(): Socket {
  return new PassThrough() as unknown as Socket;
}

const TOPIC = 'sensors/big/in';
const LIMIT = 1024;
const HEAD = 16;
/** The most a skip may hold: topic length and topic, packet id, the head of the payload. */
const PREFIX_BOUND = 2 + TOPIC.length + 2 + HEAD;

const publish = (payload: Buffer, qos: 0 | 1 | 2, messageId?: number) =>
  generate({ cmd: 'publish', topic: TOPIC, payload, qos, messageId, dup: false, retain: false }, { protocolVersion: 4 });

interface Skipped { topic: string; qos: number; messageId: number; head: string; remaining: number }

/** A 3.1.1 packet stream with a LIMIT-byte bound that records what it taps, skips and passes on to mqtt.js. */
function stream3(skippedResult: () => true | Buffer | Promise<void> = () => true) {
  const socket = fakeSocket();
  const tapped: string[] = [];
  const skipped: Skipped[] = [];
  const passed: Buffer[] = [];
  const skip: OversizeSkip = {
    headBytes: HEAD,
    skipped: (prefix, flags, remaining) => {
      const p = decodePublish(prefix, flags, 0, prefix.length, false)!;
      skipped.push({ topic: p.topic, qos: p.qos, messageId: p.messageId, head: p.payload.toString(), remaining });
      return skippedResult();
    },
  };
  const s = new PacketStream(socket, (buf, flags, start, end) => {
    tapped.push(decodePublish(buf, flags, start, end, false)!.payload.toString());
    return true;
  }, LIMIT, undefined, skip);
  let failure: Error | undefined;
  s.on('error', (err) => { failure = err; });
  s.on('data', (b: Buffer) => passed.push(b));
  return { socket, s, tapped, skipped, passed, failure: () => failure };
}

describe('mqtt 3.1.1 - inbound PUBLISH longer than maxMessageBytes', () => {
  const big = Buffer.alloc(200 * 1024, 'x');
  big.write('HEAD-OF-PAYLOAD:0123456789', 0);
  const oversize = publish(big, 1, 4242);
  const before = publish(Buffer.from('before'), 0);
  const after = publish(Buffer.from('after'), 1, 7);
  const pingresp = generate({ cmd: 'pingresp' });
  const all = Buffer.concat([before, oversize, pingresp, after]);

  for (const size of [1, 7, 1000, 16 * 1024, all.length]) {
    it(`mqtt stream - an oversize PUBLISH cut into ${size}-byte chunks is skipped holding at most its prefix; the packets around it arrive intact`, async () => {
      const t = stream3();
      let most = 0;
      for (let o = 0; o < all.length; o += size) {
        t.socket.emit('data', all.subarray(o, o + size));
        most = Math.max(most, t.s.bufferedBytes);
      }
      await new Promise((r) => setImmediate(r));
      expect(t.failure(), 'the stream lives on').to.equal(undefined);
      expect(t.s.destroyed).to.equal(false);
      // What is held at once: the prefix kept of the skipped packet, or a normal packet cut by a chunk boundary.
      expect(most, 'bytes held at once').to.be.at.most(Math.max(PREFIX_BOUND, after.length));
      expect(t.tapped).to.deep.equal(['before', 'after']);
      expect(t.skipped).to.deep.equal([{ topic: TOPIC, qos: 1, messageId: 4242, head: 'HEAD-OF-PAYLOAD:', remaining: 2 + TOPIC.length + 2 + big.length }]);
      expect(Buffer.concat(t.passed).equals(pingresp), 'the PINGRESP reaches mqtt.js unchanged').to.equal(true);
      expect(t.s.bufferedBytes).to.equal(0);
      t.s.destroy();
    });
  }

  it('mqtt stream - any mix of normal, oversize and other packets, cut anywhere: each PUBLISH tapped or skipped in order, the rest passed on, never more than the bound held (property)', async () => {
    const packet = fc.oneof(
      fc.record({ kind: fc.constant('small' as const), i: fc.nat(999), qos: fc.constantFrom(0 as const, 1 as const) }),
      fc.record({ kind: fc.constant('big' as const), i: fc.nat(999), qos: fc.constantFrom(0 as const, 1 as const, 2 as const), size: fc.integer({ min: LIMIT, max: 20_000 }) }),
      fc.record({ kind: fc.constant('other' as const), i: fc.nat(999) }),
    );
    await fc.assert(fc.asyncProperty(fc.array(packet, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }), async (packets, cuts) => {
      const t = stream3();
      const wire = packets.map((p) => (p.kind === 'small' ? publish(Buffer.from(`s${p.i}`), p.qos, p.i + 1)
        : p.kind === 'big' ? publish(Buffer.alloc(p.size, `b${p.i}.`), p.qos, p.i + 1)
          : generate({ cmd: 'puback', messageId: p.i + 1 }, { protocolVersion: 4 })));
      const all = Buffer.concat(wire);
      let most = 0;
      for (let o = 0, k = 0; o < all.length; k++) {
        const n = cuts[k % cuts.length]!;
        t.socket.emit('data', all.subarray(o, o + n));
        most = Math.max(most, t.s.bufferedBytes);
        o += n;
      }
      await new Promise((r) => setImmediate(r)); // 'data' events
      expect(t.failure()).to.equal(undefined);
      expect(Buffer.concat(t.passed).equals(Buffer.concat(wire.filter((_, i) => packets[i]!.kind === 'other')))).to.equal(true);
      expect(t.tapped).to.deep.equal(packets.flatMap((p) => (p.kind === 'small' ? [`s${p.i}`] : [])));
      expect(t.skipped.map((x) => [x.qos, x.messageId, x.head])).to.deep.equal(packets.flatMap((p) => (p.kind === 'big'
        ? [[p.qos, p.qos > 0 ? p.i + 1 : 0, Buffer.alloc(p.size, `b${p.i}.`).subarray(0, HEAD).toString()]] : [])));
      // A normal packet cut by a chunk boundary is held whole (it is at most LIMIT bytes); a skipped one never is.
      expect(most).to.be.at.most(LIMIT);
      t.s.destroy();
    }), { numRuns: 100 });
  });

  it('mqtt stream - the packets before and after an oversize one in the same chunks (it starting and ending mid-chunk) are delivered', () => {
    const t = stream3();
    const cut = before.length + 100;
    const tail = before.length + oversize.length - 50;
    t.socket.emit('data', all.subarray(0, cut));
    for (let o = cut; o < tail; o += 4096) t.socket.emit('data', all.subarray(o, Math.min(o + 4096, tail)));
    expect(t.tapped).to.deep.equal(['before']);
    expect(t.skipped).to.have.length(0);
    t.socket.emit('data', all.subarray(tail));
    expect(t.tapped).to.deep.equal(['before', 'after']);
    expect(t.skipped.map((s) => s.messageId)).to.deep.equal([4242]);
    t.s.destroy();
  });

  it('mqtt stream - two oversize packets in a row, QoS 0 and QoS 2, are both skipped', () => {
    const t = stream3();
    const wire = Buffer.concat([publish(Buffer.alloc(5000, 'a'), 0), publish(Buffer.alloc(3000, 'b'), 2, 9), after]);
    for (let o = 0; o < wire.length; o += 333) t.socket.emit('data', wire.subarray(o, o + 333));
    expect(t.skipped.map((s) => [s.qos, s.messageId, s.head])).to.deep.equal([[0, 0, 'a'.repeat(HEAD)], [2, 9, 'b'.repeat(HEAD)]]);
    expect(t.tapped).to.deep.equal(['after']);
    t.s.destroy();
  });

  it('mqtt stream - a skipped packet\'s promise holds the next packet back until it settles', async () => {
    let release!: () => void;
    const t = stream3(() => new Promise<void>((r) => { release = r; }));
    t.socket.emit('data', all);
    expect(t.skipped).to.have.length(1);
    expect(t.tapped).to.deep.equal(['before']);
    release();
    await waitFor(() => t.tapped.length === 2, { what: 'the packet after the skipped one' });
    expect(t.tapped).to.deep.equal(['before', 'after']);
    t.s.destroy();
  });

  it('mqtt stream - bytes a skip returns go to mqtt.js in the packet\'s place (QoS 2)', async () => {
    const stand = publish(Buffer.from('stand-in'), 2, 9);
    const t = stream3(() => stand);
    t.socket.emit('data', Buffer.concat([publish(Buffer.alloc(5000), 2, 9), pingresp]));
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(t.passed).equals(Buffer.concat([stand, pingresp]))).to.equal(true);
    t.s.destroy();
  });

  it('mqtt stream - without a skip (MQTT 5, which announced the limit) the same packet still ends the stream with SB_ERR_MESSAGE_TOO_LARGE', async () => {
    const socket = fakeSocket();
    const s = new PacketStream(socket, () => true, LIMIT);
    let err: Error | undefined;
    s.on('error', (e) => { err = e; });
    socket.emit('data', all.subarray(0, before.length + 64));
    await new Promise((r) => setImmediate(r));
    expect(s.destroyed).to.equal(true);
    expect(err).to.have.property('code', 'SB_ERR_MESSAGE_TOO_LARGE');
  });
});

/**
 * Just enough of a 3.1.1 broker for one client: CONNACK, SUBACK, PUBACK/PUBREC/PUBCOMP for what it
 * publishes, PINGRESP; it records every packet the client sends and lets the test write raw bytes.
 */
class ScriptedBroker {
  readonly received: Packet[] = [];
  private server?: Server;
  private socket?: Socket;

  async start(): Promise<string> {
    this.server = createServer((socket) => {
      this.socket = socket;
      const p = parser({ protocolVersion: 4 });
      p.on('packet', (packet: Packet) => {
        this.received.push(packet);
        const send = (out: object) => socket.write(generate(out as Packet, { protocolVersion: 4 }));
        switch (packet.cmd) {
          case 'connect': send({ cmd: 'connack', returnCode: 0, sessionPresent: false }); break;
          case 'subscribe': send({ cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map((s) => s.qos) }); break;
          case 'publish':
            if (packet.qos === 1) send({ cmd: 'puback', messageId: packet.messageId });
            if (packet.qos === 2) send({ cmd: 'pubrec', messageId: packet.messageId });
            break;
          case 'unsubscribe': send({ cmd: 'unsuback', messageId: packet.messageId }); break;
          case 'pubrel': send({ cmd: 'pubcomp', messageId: packet.messageId }); break;
          case 'pingreq': send({ cmd: 'pingresp' }); break;
          case 'disconnect': socket.end(); break;
          default: break;
        }
      });
      socket.on('data', (b) => p.parse(b));
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `mqtt://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get connected(): boolean { return this.socket !== undefined && !this.socket.destroyed; }

  /** Writes `bytes` to the client in `chunk`-byte pieces, each its own TCP write. */
  async write(bytes: Buffer, chunk = bytes.length): Promise<void> {
    for (let o = 0; o < bytes.length; o += chunk) {
      await new Promise<void>((r) => this.socket!.write(bytes.subarray(o, o + chunk), () => r()));
    }
  }

  of<C extends Packet['cmd']>(cmd: C): Array<Extract<Packet, { cmd: C }>> {
    return this.received.filter((p) => p.cmd === cmd) as Array<Extract<Packet, { cmd: C }>>;
  }

  async stop(): Promise<void> {
    this.socket?.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

describe('mqtt 3.1.1 transport - an oversize message is acknowledged and dead-lettered, the connection lives on', function () {
  this.timeout(15_000);
  let broker: ScriptedBroker;
  let bus: Bus | undefined;
  afterEach(async () => { await bus?.stop(); bus = undefined; await broker.stop(); });

  const event = (id: string) => toMqttStructured({
    specversion: '1.0', id, source: 'urn:test', type: 'reading', datacontenttype: 'application/json', data: new TextEncoder().encode(`{"id":"${id}"}`),
  }).payload;
  const maxMessageBytes = 4096;
  const payloadBytes = 100_000;
  const body = Buffer.alloc(payloadBytes, 'y');
  body.write('{"specversion":"1.0","oversize":', 0);

  async function subscriber(): Promise<{ handled: string[] }> {
    broker = new ScriptedBroker();
    const url = await broker.start();
    const transport = new MqttTransport({ url, protocolVersion: 4, qos: 2, maxMessageBytes, logger: silentLogger });
    bus = new Bus({ service: 'big@test', transport, metrics: false, logger: silentLogger });
    const handled: string[] = [];
    await bus.subscribe('big.in', (m: Envelope) => { handled.push(m.id); });
    await bus.start();
    await waitFor(() => broker.of('subscribe').length === 1, { what: 'the subscription' });
    return { handled };
  }

  /** The dead letter the client published, parsed (3.1.1: structured mode). */
  function deadLetters(): Array<Record<string, string>> {
    return broker.of('publish').filter((p) => p.topic === 'dlq/big/in').map((p) => JSON.parse(p.payload.toString()));
  }

  function expectDeadLetter(dl: Record<string, string>): void {
    expect(dl).to.include({ dlqreason: 'SB_ERR_MESSAGE_TOO_LARGE', dlqsubject: 'big.in', dlqtruncated: String(payloadBytes), datacontenttype: 'application/octet-stream' });
    expect(dl.dlqmessage).to.include('big/in');
    const head = Buffer.from(dl.data_base64!, 'base64');
    expect(head.length, 'a bounded head of the payload').to.equal(oversizeHeadBytes(maxMessageBytes));
    expect(head.equals(body.subarray(0, head.length))).to.equal(true);
  }

  it('mqtt - QoS 1: the oversize message is PUBACKed with its packet id in order, dead-lettered SB_ERR_MESSAGE_TOO_LARGE with the head of its payload, and the next message is handled', async () => {
    const { handled } = await subscriber();
    const pub = (payload: Buffer, messageId: number) => generate({ cmd: 'publish', topic: 'big/in', payload, qos: 1, messageId, dup: false, retain: false }, { protocolVersion: 4 });
    await broker.write(pub(event('before'), 1));
    await broker.write(pub(body, 2), 1000);
    await broker.write(pub(event('after'), 3));
    await waitFor(() => handled.length === 2 && deadLetters().length === 1 && broker.of('puback').length === 3, {
      timeoutMs: 5000, what: () => `handled ${handled}, ${deadLetters().length} dead letters, pubacks ${broker.of('puback').map((p) => p.messageId)}`,
    });
    expect(handled).to.deep.equal(['before', 'after']);
    expect(broker.of('puback').map((p) => p.messageId)).to.deep.equal([1, 2, 3]);
    expectDeadLetter(deadLetters()[0]!);
    expect(broker.of('connect'), 'one connection, never dropped').to.have.length(1);
    expect(broker.connected).to.equal(true);
  });

  it('mqtt - QoS 2: the oversize message goes through PUBREC/PUBREL/PUBCOMP with its packet id and is dead-lettered; QoS 0: dead-lettered', async () => {
    const { handled } = await subscriber();
    await broker.write(generate({ cmd: 'publish', topic: 'big/in', payload: body, qos: 2, messageId: 9, dup: false, retain: false }, { protocolVersion: 4 }), 1000);
    await waitFor(() => broker.of('pubrec').length === 1, { what: 'the PUBREC' });
    expect(broker.of('pubrec')[0]!.messageId).to.equal(9);
    await broker.write(generate({ cmd: 'pubrel', messageId: 9 }, { protocolVersion: 4 }));
    await waitFor(() => broker.of('pubcomp').length === 1 && deadLetters().length === 1, { what: 'the PUBCOMP and the dead letter' });
    expect(broker.of('pubcomp')[0]!.messageId).to.equal(9);
    expectDeadLetter(deadLetters()[0]!);

    await broker.write(generate({ cmd: 'publish', topic: 'big/in', payload: body, qos: 0, dup: false, retain: false }, { protocolVersion: 4 }), 777);
    await broker.write(generate({ cmd: 'publish', topic: 'big/in', payload: event('after'), qos: 0, dup: false, retain: false }, { protocolVersion: 4 }));
    await waitFor(() => handled.length === 1 && deadLetters().length === 2, { what: () => `handled ${handled}, ${deadLetters().length} dead letters` });
    expect(handled).to.deep.equal(['after']);
    expectDeadLetter(deadLetters()[1]!);
    expect(broker.of('connect')).to.have.length(1);
  });
});
