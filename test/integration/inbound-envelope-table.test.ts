import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { connect, type MsgHdrs, type NatsConnection } from 'nats';
import { Bus, parseTraceparent, percentEncodeHeaderValue, type Envelope } from '../../core/index.js';
import WebSocket from 'ws';
import { HttpGateway } from '../../gateway/index.js';
import { WebSocketHub } from '../../hub/index.js';
import { SUBPROTOCOL } from '../../transports/websocket/index.js';
import { AmqpTransport } from '../../transports/amqp/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { MqttTransport } from '../../transports/mqtt/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

// Issue 20 item 6: one table of hostile envelopes, the same outcome on every transport a hostile
// publisher can reach. Each row is published raw (nats.js with a header block of our own bytes,
// amqplib, mqtt.js, a direct memory publish, a raw HTTP request to the gateway) and must be
// dead-lettered with the row's code (the gateway: a 4xx problem with it), or, for a bad
// traceparent, delivered with a new trace; no handler sees a refused row.

const NATS = 'nats://127.0.0.1:4222';
const AMQP = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MQTT = 'mqtt://127.0.0.1:1883';

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
/** Bytes that are not UTF-8, wherever a transport can carry them. */
const NOT_UTF8 = Buffer.from([0x61, 0xff, 0xfe, 0x62]);
type Value = string | Buffer;

interface Row {
  /** Also the last subject token. */
  name: string;
  /** Attributes besides specversion, id, source and type, as a publisher means them (a repeat is listed twice). */
  attrs: Array<[string, Value]>;
  /** The dead letter's `dlqreason`, or how it is delivered. */
  outcome: string | 'delivered' | 'new trace';
  /** Sent on percent-encoding transports as it is, not percent-encoded. */
  verbatim?: boolean;
}

const isValidTraceparent = (value: string) => { try { parseTraceparent(value); return true; } catch { return false; } };
const many = (n: number, value = 'v'): Array<[string, Value]> => Array.from({ length: n }, (_, i) => [`x${i}`, value] as [string, Value]);

const ROWS: Row[] = [
  { name: 'control', attrs: [['tenant', 'acme'], ['traceparent', TRACE], ['tracestate', 'k=v'], ['time', '2025-11-13T10:00:00Z']], outcome: 'delivered' },
  { name: 'badtime', attrs: [['time', 'not a time']], outcome: 'SB_ERR_ENVELOPE_INVALID' },
  { name: 'tpgarbage', attrs: [['traceparent', 'garbage'], ['tracestate', 'k=v']], outcome: 'new trace' },
  { name: 'tpzero', attrs: [['traceparent', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`], ['tracestate', 'k=v']], outcome: 'new trace' },
  { name: 'tpff', attrs: [['traceparent', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'], ['tracestate', 'k=v']], outcome: 'new trace' },
  { name: 'tenantctl', attrs: [['tenant', 'acme\u0007\u001b[2Jevil']], outcome: 'SB_ERR_HEADER_INVALID' },
  { name: 'notutf8', attrs: [['tenant', NOT_UTF8]], outcome: 'SB_ERR_HEADER_INVALID' },
  { name: 'repeated', attrs: [['tenant', 'acme'], ['tenant', 'evil']], outcome: 'SB_ERR_HEADER_INVALID' },
  { name: 'badpercent', attrs: [['tenant', '%E0%A4%A']], outcome: 'SB_ERR_HEADER_INVALID', verbatim: true },
  { name: 'longvalue', attrs: [['big', 'x'.repeat(5000)]], outcome: 'SB_ERR_HEADER_INVALID' },
  { name: 'manyattrs', attrs: many(100), outcome: 'SB_ERR_HEADER_INVALID' },
  { name: 'bigtotal', attrs: many(5, 'y'.repeat(4000)), outcome: 'SB_ERR_HEADER_INVALID' },
  { name: 'tenthousand', attrs: many(10_000), outcome: 'SB_ERR_HEADER_INVALID' },
  { name: 'hugevalue', attrs: [['big', 'z'.repeat(900 * 1024)]], outcome: 'SB_ERR_HEADER_INVALID' },
  // With no body, a data header once became the event's data; with one, the body silently replaced it.
  { name: 'dataheader', attrs: [['data', 'from a header']], outcome: 'SB_ERR_HEADER_INVALID' },
  // Sent last: the subscription still handles a good message after all of the above.
  { name: 'controlafter', attrs: [['tenant', 'acme'], ['traceparent', TRACE], ['tracestate', 'k=v']], outcome: 'delivered' },
];

const has = (row: Row, test: (v: Value, name: string, i: number) => boolean) => row.attrs.some(([n, v], i) => test(v, n, i));
const repeats = (row: Row) => has(row, (_, n, i) => row.attrs.findIndex(([m]) => m === n) !== i);
const bytes = (row: Row) => has(row, (v) => Buffer.isBuffer(v));
const size = (row: Row) => row.attrs.reduce((sum, [n, v]) => sum + n.length + v.length + 6, 0);

/** How one transport carries a row, and what it cannot carry (with the reason). */
interface Carrier {
  name: string;
  /** Why this row cannot be sent on this transport, if it cannot. */
  cannot(row: Row): string | undefined;
  /** The Bus whose handler and dead letters are watched; `prefix` is this transport's subject prefix. */
  bus(prefix: string): Promise<Bus>;
  /** Publishes the row the way a hostile client would. */
  send(subject: string, base: Array<[string, string]>, row: Row): Promise<void>;
  cleanup(): Promise<void>;
}

/** NATS header block bytes as a client writes them, percent-encoding values like any signalbus publisher (but `verbatim` rows). */
function natsHeaderBlock(pairs: Array<[string, Value]>, verbatim: boolean): Buffer {
  const parts: Buffer[] = [Buffer.from('NATS/1.0\r\n')];
  for (const [name, value] of pairs) {
    const header = name === 'datacontenttype' ? 'content-type' : `ce-${name}`;
    parts.push(Buffer.from(`${header}: `), Buffer.isBuffer(value) ? value : Buffer.from(verbatim ? value : percentEncodeHeaderValue(value)), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

function natsCarrier(jetstream: boolean): Carrier {
  let nc: NatsConnection;
  const stream = `SB_INBOUND_${randomUUID().slice(0, 8)}`;
  return {
    name: jetstream ? 'nats jetstream' : 'nats core',
    cannot: (row) => (jetstream && size(row) > 60_000 ? 'JetStream refuses to store a header block over 64 KiB (err_code 10097)' : undefined),
    async bus(prefix) {
      nc = await connect({ servers: NATS });
      const transport = new NatsTransport(jetstream
        ? { servers: NATS, jetstream: { stream, subjects: [`${prefix}.>`, `dlq.${prefix}.>`], storage: 'memory' } }
        : { servers: NATS });
      return new Bus({ service: 'inbound@t', transport, metrics: false, logger: silentLogger });
    },
    async send(subject, base, row) {
      // nats.js sends whatever `encode()` returns: the header block bytes of a hostile client.
      const block = natsHeaderBlock([...base, ...row.attrs], row.verbatim === true);
      nc.publish(subject, new Uint8Array(), { headers: { encode: () => block } as unknown as MsgHdrs });
      await nc.flush();
    },
    async cleanup() {
      if (!nc) return;
      if (jetstream) await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
      await nc.close();
    },
  };
}

function amqpCarrier(): Carrier {
  const exchange = `sbinbound-${randomUUID().slice(0, 8)}`;
  let conn: amqp.ChannelModel;
  let ch: amqp.ConfirmChannel;
  let transport: AmqpTransport;
  return {
    name: 'amqp',
    cannot(row) {
      if (row.verbatim) return 'AMQP header values carry strings as they are: a % means nothing there';
      if (size(row) > 100_000) return "a content header frame must fit RabbitMQ's frame_max (128 KiB)";
      return undefined;
    },
    async bus() {
      conn = await amqp.connect(AMQP);
      ch = await conn.createConfirmChannel();
      transport = new AmqpTransport({ url: AMQP, exchange });
      return new Bus({ service: 'inbound@t', transport, metrics: false, logger: silentLogger });
    },
    async send(subject, base, row) {
      const headers: Record<string, unknown> = {};
      // A table cannot repeat a key; the binding's other prefix names the same attribute.
      for (const [name, value] of [...base, ...row.attrs]) headers[headers[`cloudEvents:${name}`] === undefined ? `cloudEvents:${name}` : `cloudEvents_${name}`] = value;
      ch.publish(exchange, subject, Buffer.alloc(0), { headers });
      await ch.waitForConfirms();
    },
    async cleanup() {
      if (!conn) return;
      await conn.close();
      const admin = new AmqpTransport({ url: AMQP, exchange });
      await admin.connect();
      await admin.deleteTopology(transport?.groupQueues ?? []);
      await admin.close();
    },
  };
}

function mqttCarrier(): Carrier {
  let client: mqtt.MqttClient;
  return {
    name: 'mqtt 5',
    cannot(row) {
      if (row.verbatim) return 'MQTT user properties carry strings as they are: a % means nothing there';
      if (bytes(row)) return 'mqtt.js writes strings as UTF-8 and Mosquitto refuses malformed UTF-8 (MQTT 5 §1.5.4)';
      // eslint-disable-next-line no-control-regex
      if (has(row, (v) => /[\u0000-\u001f]/.test(String(v)))) return 'Mosquitto closes the connection of a client whose UTF-8 strings hold control characters (MQTT 5 §1.5.4)';
      if (row.attrs.some(([, v]) => v.length > 65_535)) return 'an MQTT UTF-8 string holds at most 65,535 bytes';
      return undefined;
    },
    async bus() {
      client = await mqtt.connectAsync(MQTT, { protocolVersion: 5, clientId: `inbound-${randomUUID().slice(0, 8)}` });
      return new Bus({ service: 'inbound@t', transport: new MqttTransport({ url: MQTT, logger: silentLogger }), metrics: false, logger: silentLogger });
    },
    async send(subject, base, row) {
      const userProperties: Record<string, string | string[]> = {};
      for (const [name, value] of [...base, ...row.attrs]) {
        const known = userProperties[name];
        userProperties[name] = known === undefined ? String(value) : [...(Array.isArray(known) ? known : [known]), String(value)];
      }
      await client.publishAsync(subject.replaceAll('.', '/'), Buffer.alloc(0), { qos: 1, properties: { userProperties } });
    },
    async cleanup() { await client?.endAsync(); },
  };
}

function memoryCarrier(): Carrier {
  const broker = new MemoryBroker();
  const hostile = new MemoryTransport({ broker });
  return {
    name: 'memory',
    cannot(row) {
      if (row.verbatim) return 'no wire, no percent-encoding';
      if (bytes(row)) return 'a JavaScript string cannot hold bytes that are not UTF-8';
      if (repeats(row)) return 'an object cannot hold one attribute twice';
      if (has(row, (_, n) => n === 'data')) return "an envelope object's data member is its payload, not an attribute";
      return undefined;
    },
    async bus() {
      await hostile.connect();
      return new Bus({ service: 'inbound@t', transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger });
    },
    // Straight to the transport: a peer in the same process that skips the Bus' publish checks.
    async send(subject, base, row) { await hostile.publish(subject, Object.fromEntries([...base, ...row.attrs]) as unknown as Envelope); },
    async cleanup() { await hostile.close(); },
  };
}

/** Runs every row on one carrier and checks each row's outcome. */
async function runTable(carrier: Carrier): Promise<void> {
  const prefix = `inb${randomUUID().slice(0, 8)}`;
  const bus = await carrier.bus(prefix);
  try {
    const handled = new Map<string, Envelope>();
    const dead = new Map<string, Envelope>();
    await bus.subscribe(`${prefix}.*`, (m, ctx) => { handled.set(ctx.subject.slice(prefix.length + 1), m); });
    await bus.subscribe(`dlq.${prefix}.*`, (m) => { dead.set(String(m.dlqsubject).slice(prefix.length + 1), m); }, { raw: true });
    await bus.start();
    const rows = ROWS.filter((row) => carrier.cannot(row) === undefined);
    for (const row of rows) {
      await carrier.send(`${prefix}.${row.name}`, [['specversion', '1.0'], ['id', `${row.name}-${randomUUID()}`], ['source', 'urn:hostile'], ['type', 'hostile.test']], row);
    }
    await waitFor(() => rows.every((r) => handled.has(r.name) || dead.has(r.name)), {
      timeoutMs: 10_000, what: () => `an outcome for every row; none yet for ${rows.filter((r) => !handled.has(r.name) && !dead.has(r.name)).map((r) => r.name).join(', ')}`,
    });
    for (const row of rows) expectOutcome(carrier.name, row, handled.get(row.name), dead.get(row.name));
  } finally {
    await bus.stop();
  }
}

function expectOutcome(transport: string, row: Row, handled: Envelope | undefined, dead: Envelope | undefined): void {
  const what = `${transport}, row ${row.name}`;
  if (row.outcome === 'delivered' || row.outcome === 'new trace') {
    expect(dead?.dlqreason, `${what}: dead-lettered`).to.equal(undefined);
    expect(handled, `${what}: delivered`).to.not.equal(undefined);
    if (row.outcome === 'delivered') {
      expect(handled, what).to.include({ tenant: 'acme', traceparent: TRACE, tracestate: 'k=v' });
    } else {
      expect(isValidTraceparent(handled!.traceparent!), `${what}: a valid new traceparent`).to.equal(true);
      expect(handled!.traceparent, what).to.not.equal(row.attrs.find(([n]) => n === 'traceparent')![1]);
      expect(handled!.tracestate, `${what}: tracestate dropped with the trace`).to.equal(undefined);
    }
    return;
  }
  expect(handled, `${what}: the handler must not see it`).to.equal(undefined);
  expect(dead, `${what}: dead-lettered`).to.not.equal(undefined);
  expect(dead, what).to.include({ dlqreason: row.outcome, specversion: '1.0' });
}

describe('inbound envelope - one table of hostile envelopes, the same outcome on every transport', function () {
  this.timeout(30_000);

  it('memory - a peer publishing straight to the transport', async () => {
    const c = memoryCarrier();
    try { await runTable(c); } finally { await c.cleanup(); }
  });

  it('nats core - a raw nats.js client writing its own header block', async function () {
    await requireBroker(this, 'nats');
    const c = natsCarrier(false);
    try { await runTable(c); } finally { await c.cleanup(); }
  });

  it('nats jetstream - a raw nats.js client writing its own header block into the stream', async function () {
    await requireBroker(this, 'nats');
    const c = natsCarrier(true);
    try { await runTable(c); } finally { await c.cleanup(); }
  });

  it('amqp - a raw amqplib publisher', async function () {
    await requireBroker(this, 'rabbitmq');
    const c = amqpCarrier();
    try { await runTable(c); } finally { await c.cleanup(); }
  });

  it('mqtt 5 - a raw mqtt.js client with user properties', async function () {
    await requireBroker(this, 'mosquitto');
    const c = mqttCarrier();
    try { await runTable(c); } finally { await c.cleanup(); }
  });

  it('http gateway - a raw HTTP client in binary mode: a 4xx problem with the same code, or 202 with a new trace', async () => {
    const bus = new Bus({ service: 'gw@t', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const gw = new HttpGateway({ bus, trustClientTenant: true });
    try {
      const { url } = await gw.start();
      const prefix = `inb${randomUUID().slice(0, 8)}`;
      const handled = new Map<string, Envelope>();
      await bus.subscribe(`${prefix}.*`, (m, ctx) => { handled.set(ctx.subject.slice(prefix.length + 1), m); });
      // Node's HTTP server answers 431 (no problem body) for a header section over 16 KiB, before the gateway reads it.
      const rows = ROWS.filter((row) => size(row) < 15_000);
      const refused = new Map<string, { status: number; code?: string }>();
      for (const row of rows) {
        const block = natsHeaderBlock([['specversion', '1.0'], ['id', `${row.name}-${randomUUID()}`], ['source', 'urn:hostile'], ['type', 'hostile.test'], ...row.attrs], row.verbatim === true);
        const answer = await postRaw(url, `/v1/events/${prefix}.${row.name}`, block.subarray('NATS/1.0\r\n'.length, block.length - 2));
        if (answer.status !== 202) refused.set(row.name, answer);
      }
      const passing = rows.filter((r) => !refused.has(r.name));
      await waitFor(() => passing.every((r) => handled.has(r.name)), { timeoutMs: 5000, what: 'the accepted rows' });
      for (const row of rows) {
        const what = `http gateway, row ${row.name}`;
        if (row.outcome === 'delivered' || row.outcome === 'new trace') {
          expect(refused.get(row.name), what).to.equal(undefined);
          expectOutcome('http gateway', row, handled.get(row.name), undefined);
        } else {
          expect(refused.get(row.name), what).to.deep.equal({ status: 400, code: row.outcome });
          expect(handled.has(row.name), `${what}: the handler must not see it`).to.equal(false);
        }
      }
    } finally {
      await gw.close();
      await bus.stop();
    }
  });
});

/** The rows a JSON text frame cannot carry, with the reason; undefined when it can. */
function jsonCannot(row: Row): string | undefined {
  if (row.verbatim) return 'a JSON string carries attributes as they are: a % means nothing there';
  if (bytes(row)) return 'a text frame must be UTF-8 (ws closes the connection with 1007 otherwise)';
  if (repeats(row)) return 'the frames are written with JSON.stringify, which cannot repeat a member (a repeated member is refused with SB_ERR_ENVELOPE_INVALID: ws-hub.test.ts)';
  if (row.attrs.some(([n]) => n === 'data')) return "a structured event's data member is its payload, not an attribute";
  return undefined;
}

describe('inbound envelope - the same table through the WebSocket hub', function () {
  this.timeout(30_000);

  it('websocket hub - a raw ws client: an error frame with the same code, or an ack and a new trace', async () => {
    const bus = new Bus({ service: 'hub@t', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const hub = new WebSocketHub({ bus, logger: silentLogger });
    await hub.listen();
    const ws = new WebSocket(hub.url, SUBPROTOCOL);
    try {
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      const frames: Array<{ op?: string; ids?: number[]; ref?: number; code?: string }> = [];
      ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as (typeof frames)[number]));
      const prefix = `inb${randomUUID().slice(0, 8)}`;
      const handled = new Map<string, Envelope>();
      await bus.subscribe(`${prefix}.*`, (m, ctx) => { handled.set(ctx.subject.slice(prefix.length + 1), m); });
      const rows = ROWS.filter((row) => jsonCannot(row) === undefined);
      rows.forEach((row, i) => {
        const event = Object.fromEntries([['specversion', '1.0'], ['id', `${row.name}-${randomUUID()}`], ['source', 'urn:hostile'], ['type', 'hostile.test'], ...row.attrs]);
        ws.send(JSON.stringify({ op: 'pub', id: i + 1, subject: `${prefix}.${row.name}`, event }));
      });
      const answerOf = (id: number) => frames.find((f) => (f.op === 'ack' && f.ids?.includes(id)) || (f.op === 'error' && f.ref === id));
      await waitFor(() => rows.every((_, i) => answerOf(i + 1) !== undefined), { timeoutMs: 5000, what: 'an answer to every pub frame' });
      const passing = rows.filter((_, i) => answerOf(i + 1)!.op === 'ack');
      await waitFor(() => passing.every((r) => handled.has(r.name)), { timeoutMs: 5000, what: 'the accepted rows' });
      rows.forEach((row, i) => {
        const what = `websocket hub, row ${row.name}`;
        const answer = answerOf(i + 1)!;
        if (row.outcome === 'delivered' || row.outcome === 'new trace') {
          expect(answer, what).to.include({ op: 'ack' });
          expectOutcome('websocket hub', row, handled.get(row.name), undefined);
        } else {
          expect(answer, what).to.include({ op: 'error', code: row.outcome });
          expect(handled.has(row.name), `${what}: the handler must not see it`).to.equal(false);
        }
      });
    } finally {
      ws.terminate();
      await hub.close();
      await bus.stop();
    }
  });
});

/** One raw HTTP/1.1 POST with the given header lines (bytes as they are), no body; status and problem code. */
function postRaw(url: string, path: string, headerLines: Buffer): Promise<{ status: number; code?: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nhost: ${hostname}\r\nconnection: close\r\ncontent-length: 0\r\n`), headerLines, Buffer.from('\r\n')]));
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const status = Number(raw.split(' ', 2)[1]);
      let code: string | undefined;
      try { code = (JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { code?: string }).code; } catch { /* no problem body */ }
      resolve(code === undefined ? { status } : { status, code });
    });
  });
}
