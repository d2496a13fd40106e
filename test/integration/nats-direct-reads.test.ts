/**
 * The NATS transport parses the server's bytes in the socket's 'data' handler instead of through
 * nats.js' async reader (transports/nats/direct-reads.ts), reaching past its public API. These
 * tests hold it to the installed nats.js: it is in effect, whatever the server sends arrives
 * whole and in order (messages split over chunks, chunks holding many messages), it is in effect
 * again on the new socket after a reconnect, a chunk the parser throws on drops the connection
 * instead of the process, and a connection whose internals differ is left to nats.js.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import { connect, type NatsConnection } from 'nats';
import { Bus, type Envelope } from '../../core/index.js';
import { readDirectly, readsDirectly } from '../../transports/nats/direct-reads.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { NatsServerProcess } from '../helpers/nats-server-process.js';
import { expectSizedInOrder, mixedSizes, sizedBody } from '../helpers/sized-messages.js';
import { waitFor } from '../helpers/wait.js';

const NATS = 'nats://127.0.0.1:4222';
const te = new TextEncoder();
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const busOn = (transport: NatsTransport, service: string) => new Bus({ service, transport, metrics: false, logger: quiet });
/** nats.js' current socket for `nc` (a new one after each reconnect). */
const socketOf = (nc: NatsConnection) => (nc as unknown as { protocol: { transport: { socket: Socket } } }).protocol.transport.socket;
/** Publishes bytes as message `e-<i>`. */
const send = (bus: Bus, subject: string, i: number, data: Uint8Array) => bus.publish(subject, data, { type: 'direct.read', id: `e-${i}`, contentType: 'application/octet-stream' });

describe('nats direct reads', function () {
  this.timeout(30_000);
  before(async function () { await requireBroker(this, 'nats'); });

  it('nats direct reads - are in effect on a NatsTransport connected to the installed nats.js', async () => {
    const t = new NatsTransport({ servers: NATS });
    await t.connect();
    try {
      // False means the installed nats.js changed its transport: every message then takes nats.js' slower reader.
      expect(readsDirectly(t.connection!)).to.equal(true);
    } finally { await t.close(); }
  });

  it('nats direct reads - deliver every message whole and in order: 2,000 of 0-200 KB (split over chunks, and many to a chunk), then request/reply', async () => {
    const subject = `test.direct.${randomUUID().slice(0, 8)}`;
    const subTransport = new NatsTransport({ servers: NATS });
    const pub = busOn(new NatsTransport({ servers: NATS }), 'pub');
    const sub = busOn(subTransport, 'sub');
    await Promise.all([pub.start(), sub.start()]);
    try {
      expect(readsDirectly(subTransport.connection!)).to.equal(true);
      const got: Envelope[] = [];
      await sub.subscribe(subject, (m) => { got.push(m); });
      await subTransport.connection!.flush();
      const sizes = mixedSizes(2000, 100, 200_000);
      for (let i = 0; i < sizes.length; i++) await send(pub, subject, i, sizedBody(i, sizes[i]!));
      await waitFor(() => got.length === sizes.length, { timeoutMs: 20_000, what: 'all messages delivered' });
      expectSizedInOrder(got, sizes, (i) => `e-${i}`);
      const echo = `${subject}.echo`;
      await sub.subscribe(echo, (m) => m.data);
      await subTransport.connection!.flush();
      for (let i = 0; i < 50; i++) {
        const reply = await pub.request(echo, { ping: i }, { timeoutMs: 5000 });
        expect(reply.data).to.deep.equal({ ping: i });
      }
    } finally { await Promise.all([pub.stop(), sub.stop()]); }
  });

  it('nats direct reads - are in effect again on the new socket after the server restarts, and messages flow', async () => {
    const server = await NatsServerProcess.start();
    const t = new NatsTransport({ servers: server.url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const bus = busOn(t, 'restart');
    try {
      await bus.start();
      const nc = t.connection!;
      const before = socketOf(nc);
      expect(readsDirectly(nc)).to.equal(true);
      await server.halt('SIGKILL');
      await server.resume();
      await waitFor(() => socketOf(nc) !== before && readsDirectly(nc), { timeoutMs: 15_000, what: 'direct reads on the reconnected socket' });
      const got: string[] = [];
      await bus.subscribe('after.restart', (m) => { got.push(m.id); });
      await nc.flush();
      for (let i = 0; i < 20; i++) await send(bus, 'after.restart', i, te.encode('x'));
      await waitFor(() => got.length === 20, { timeoutMs: 10_000, what: 'messages after the restart' });
      expect(got).to.deep.equal(Array.from({ length: 20 }, (_, i) => `e-${i}`));
    } finally {
      await bus.stop();
      await server.stop();
    }
  });

  it('nats direct reads - a nats.js callback that throws drops the connection, which is made again, instead of crashing the process', async () => {
    const errors: unknown[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error(_msg: string, fields?: Record<string, unknown>) { errors.push(fields?.err); }, child() { return logger; } };
    const t = new NatsTransport({ servers: NATS, logger, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const bus = busOn(t, 'throws');
    await bus.start();
    try {
      const nc = t.connection!;
      const subject = `test.direct.throw.${randomUUID().slice(0, 8)}`;
      // A user's own nats.js subscription (t.connection is public) whose callback throws: nats.js calls it unguarded.
      nc.subscribe(`${subject}.bad`, { callback: () => { throw new Error('callback bug'); } });
      const got: string[] = [];
      await bus.subscribe(`${subject}.good`, (m) => { got.push(m.id); });
      await nc.flush();
      const socket = socketOf(nc);
      await send(bus, `${subject}.bad`, 0, te.encode('x'));
      await waitFor(() => socket.destroyed, { timeoutMs: 5000, what: 'the socket dropped' });
      expect(errors.map((e) => (e as Error).message)).to.deep.equal(['callback bug']);
      await waitFor(() => readsDirectly(nc) && !nc.isClosed(), { timeoutMs: 15_000, what: 'reconnected, read directly' });
      await send(bus, `${subject}.good`, 1, te.encode('y'));
      await waitFor(() => got.length === 1, { timeoutMs: 10_000, what: 'the good subscription still delivers' });
      expect(got).to.deep.equal(['e-1']);
    } finally { await bus.stop(); }
  });

  describe('nats direct reads - a connection that is not the layout they were written against', () => {
    let nc: NatsConnection;
    beforeEach(async () => { nc = await connect({ servers: NATS }); });
    afterEach(async () => { await nc.close(); });
    const protocolOf = () => (nc as unknown as { protocol: { transport: Record<string, unknown>; parser: Record<string, unknown> } }).protocol;

    it('nats direct reads - is left to nats.js when its parser, socket or queue is missing, or it debugs', async () => {
      const p = protocolOf();
      for (const [where, key, value] of [[p.parser, 'parse', undefined], [p.transport, 'socket', {}], [p.transport, 'yields', undefined]] as const) {
        const own = where[key];
        where[key] = value;
        try { expect(readDirectly(nc, () => {}), key).to.equal(false); } finally { where[key] = own; }
      }
      const options = p.transport.options as { debug?: boolean };
      options.debug = true;
      try { expect(readDirectly(nc, () => {})).to.equal(false); } finally { options.debug = false; }
      // Still nats.js' own reader, and it still reads.
      expect(readsDirectly(nc)).to.equal(false);
      await nc.flush();
    });

    it('nats direct reads - is left to nats.js when the socket has other data listeners', async () => {
      const socket = socketOf(nc);
      const extra = () => {};
      socket.on('data', extra);
      try { expect(readDirectly(nc, () => {})).to.equal(false); } finally { socket.removeListener('data', extra); }
      expect(readDirectly(nc, () => {}), 'once only nats.js reads').to.equal(true);
      expect(readDirectly(nc, () => {}), 'installed once').to.equal(true);
      expect(socketOf(nc).listeners('data')).to.have.length(1);
      await nc.flush();
    });

    it('nats direct reads - a chunk that comes while nats.js still holds unread chunks goes after them, to nats.js', async () => {
      expect(readDirectly(nc, () => {})).to.equal(true);
      const t = protocolOf().transport as { yields: Uint8Array[] };
      const parsed: string[] = [];
      const parser = protocolOf().parser as { parse(b: Uint8Array): void };
      const own = parser.parse;
      parser.parse = (b) => { parsed.push(Buffer.from(b).toString()); };
      const socket = socketOf(nc);
      try {
        t.yields.push(te.encode('held'));
        socket.emit('data', Buffer.from('next'));
        expect(parsed, 'not parsed ahead of the held chunk').to.deep.equal([]);
        expect(t.yields.map((b) => Buffer.from(b).toString())).to.deep.equal(['held', 'next']);
        t.yields.length = 0;
        socket.emit('data', Buffer.from('direct'));
        expect(parsed).to.deep.equal(['direct']);
      } finally { parser.parse = own; }
    });
  });
});
