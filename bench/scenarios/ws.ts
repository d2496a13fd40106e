/**
 * WebSocket hub relay: one publisher client → server → one subscriber client, all in this process
 * on loopback. Raw = a `ws` server that forwards each text frame to the subscriber socket, with
 * the publisher sending `JSON.stringify(reading)` and the subscriber parsing it. signalbus = a
 * WebSocketHub (standalone broker) with two Buses on WebSocketTransport clients: structured
 * CloudEvents, validation at the hub, acked publishes (at least once) and windowed, acked deliveries.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { Bus } from '../../core/index.js';
import { WebSocketHub } from '../../hub/index.js';
import { WebSocketTransport } from '../../transports/websocket/index.js';
import { sensorReading, until, windowed, type Measurement, type Scenario } from '../harness.js';

const N = 100_000;
const WARMUP = 10_000;
const WINDOW = 256;
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const payloads = Array.from({ length: 1000 }, (_, i) => sensorReading(i));

async function timed(n: number, send: (i: number) => Promise<unknown>, received: () => number): Promise<Measurement> {
  const t0 = performance.now();
  await windowed(n, WINDOW, send);
  await until(() => received() >= n);
  return { msgs: n, seconds: (performance.now() - t0) / 1000 };
}

function open(url: string, protocol?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** A raw `ws` relay: the server forwards each text frame to the subscriber, which parses it. */
async function rawRelay(message: (i: number) => string): Promise<Measurement> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((r) => server.once('listening', r));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const subscribers: WebSocket[] = [];
  server.on('connection', (ws, req) => {
    if (req.url === '/sub') { subscribers.push(ws); return; }
    ws.on('message', (data, isBinary) => { for (const s of subscribers) s.send(data, { binary: isBinary }); });
  });
  const sub = await open(`${url}sub`);
  const pub = await open(url);
  let got = 0;
  sub.on('message', (data) => { JSON.parse(data.toString()); got++; });
  await new Promise((r) => setTimeout(r, 50));
  const send = (i: number) => new Promise<void>((resolve, reject) => pub.send(message(i), (err) => (err ? reject(err) : resolve())));
  await timed(WARMUP, send, () => got); got = 0;
  const m = await timed(N, send, () => got);
  pub.terminate(); sub.terminate();
  await new Promise((r) => server.close(r));
  return m;
}

/** WebSocketHub + two WebSocketTransport buses: publish resolves on the hub's ack, deliveries are acked. */
async function hubRelay(): Promise<Measurement> {
  const hub = new WebSocketHub({ logger: quiet });
  await hub.listen();
  const subject = `bench.ws.${randomUUID().slice(0, 8)}`;
  const pub = new Bus({ service: 'pub@bench', transport: new WebSocketTransport({ url: hub.url, logger: quiet }), metrics: false, logger: quiet });
  const sub = new Bus({ service: 'sub@bench', transport: new WebSocketTransport({ url: hub.url, logger: quiet }), metrics: false, logger: quiet });
  let got = 0;
  await sub.subscribe(subject, async () => { got++; }, { maxInFlight: 64, maxPending: 10_000 });
  await pub.start();
  const send = (i: number) => pub.publish(subject, payloads[i % 1000], { type: 'sensor.reading' });
  await timed(WARMUP, send, () => got); got = 0;
  const m = await timed(N, send, () => got);
  await Promise.all([pub.stop(), sub.stop()]);
  await hub.close();
  return m;
}

/** The structured CloudEvent signalbus relays for one reading, made as a plain client would make it. */
function cloudEventText(i: number): string {
  const id = randomUUID();
  return JSON.stringify({
    specversion: '1.0', id, source: '/signalbus/pub/bench', type: 'sensor.reading', time: new Date().toISOString(),
    traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`, correlationid: id,
    data: payloads[i % 1000], datacontenttype: 'application/json',
  });
}

const scenarios: Scenario[] = [
  {
    name: 'ws-relay',
    description: `WebSocket relay publisher → server → subscriber, ${N} ~200-byte JSON readings, ${WINDOW} publishes in flight; `
      + 'raw = ws server forwarding text frames (publish resolves when written); signalbus = WebSocketHub + two WebSocketTransport buses (publish resolves on the hub ack)',
    raw: () => rawRelay((i) => JSON.stringify(payloads[i % 1000])),
    run: hubRelay,
  },
  {
    name: 'ws-relay-ce',
    description: 'as ws-relay, but the raw relay carries the same structured CloudEvents (~550 bytes: specversion, id, source, type, time, traceparent, correlationid, datacontenttype, data) '
      + 'that the hub relays: the framework\'s own cost (hub validation, acks both ways), without the cost of the event format',
    raw: () => rawRelay(cloudEventText),
    run: hubRelay,
  },
];

export default scenarios;
