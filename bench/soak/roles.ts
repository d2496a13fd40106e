/**
 * The processes of the soak (bench/soak/soak.ts), one role each, started with
 * `node --import tsx bench/soak/roles.ts <role> <transport> <json config>`. Every role reports
 * `{ rss, counters }` to the parent over IPC every second and stops on `{ stop: true }`.
 *
 * - `server`: what the transport needs as its far end when signalbus itself is the server (the
 *   WebSocket hub as a standalone broker, the HTTP gateway over a memory bus).
 * - `slow-sub`: a Bus whose handler takes 5 ms, one at a time, on `soak.<t>.>`.
 * - `pub`: a Bus publishing `rate` readings a second to `soak.<t>.reading`, awaiting each publish.
 * - `hostile`: the raw client of the transport sending what a careless or hostile peer sends
 *   (bodies that are not CloudEvents, 200-deep JSON, broken headers, a 100 KB body; on the hub a
 *   subscriber that never acks; on the gateway an SSE reader that never reads).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { connect as natsConnect, headers as natsHeaders } from 'nats';
import amqplib from 'amqplib';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { Bus, type Transport } from '../../core/index.js';
import { transportFromUrl } from '../../transports/index.js';
import { WebSocketHub } from '../../hub/index.js';
import { HttpGateway } from '../../gateway/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { SUBPROTOCOL } from '../../transports/websocket/index.js';
import { sensorReading } from '../harness.js';

export type SoakTransport = 'nats' | 'jetstream' | 'amqp' | 'mqtt' | 'ws' | 'http';
export type SoakRole = 'server' | 'slow-sub' | 'pub' | 'hostile';
export interface RoleConfig {
  /** The signalbus transport URL (for ws/http: the server's URL, known once it listens). */
  url: string;
  /** Readings a second (pub) or hostile messages a second (hostile). */
  rate: number;
  /** Where the far end listens, for server roles. */
  port?: number;
}
export interface Report { rss: number; heapUsed: number; counters: Record<string, number> }

const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const counters: Record<string, number> = {};
const count = (k: string, n = 1) => { counters[k] = (counters[k] ?? 0) + n; };
const stoppers: Array<() => Promise<unknown>> = [];

let sampleMetrics = () => {};
function report(): void {
  sampleMetrics();
  const m = process.memoryUsage();
  if (process.connected) process.send?.({ rss: m.rss, heapUsed: m.heapUsed, counters: { ...counters } } satisfies Report, () => {});
}

/** Set on stop: tickers stop first, so what is counted is what happened before the run ended. */
let stopping = false;
/** Publishes not yet settled (pub), waited for before the last report. */
let inFlight = 0;

/** Runs `tick()` `rate` times a second in 10 ms slices until stopped. */
function every(rate: number, tick: (i: number) => void): void {
  let i = 0; const t0 = performance.now();
  const timer = setInterval(() => {
    if (stopping) { clearInterval(timer); return; }
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (i < due) tick(i++);
  }, 10);
  stoppers.push(async () => clearInterval(timer));
}

const deepJson = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const cloudEvent = (data: string) => `{"specversion":"1.0","id":"${randomUUID()}","source":"hostile","type":"soak.bad","datacontenttype":"application/json","data":${data}}`;
/** What a hostile peer sends, in turn: not a CloudEvent, deep JSON, a 100 KB blob, broken JSON. */
const hostileBodies = [() => '{"temperature": 21.5, "not": "a cloudevent"}', () => cloudEvent(deepJson(200)), () => 'x'.repeat(100_000), () => '{"specversion":'];

async function server(t: SoakTransport, c: RoleConfig): Promise<string> {
  if (t === 'ws') {
    const hub = new WebSocketHub({ port: c.port ?? 0, logger: quiet });
    await hub.listen();
    stoppers.push(() => hub.close());
    return hub.url;
  }
  const bus = new Bus({ service: 'soak-gateway', transport: new MemoryTransport({ broker: new MemoryBroker() }), logger: quiet });
  const gateway = new HttpGateway({ bus, port: c.port ?? 0 });
  const { url } = await gateway.start();
  sampleMetrics = () => {
    counters.streamsClosed = 0;
    for (const [text, { count: n }] of bus.metrics.totals()) if (text.includes(' stream closed-')) counters.streamsClosed += n;
  };
  stoppers.push(async () => { await gateway.close(); await bus.stop(); });
  return url;
}

async function slowSub(t: SoakTransport, c: RoleConfig): Promise<void> {
  const bus = new Bus({ service: `soak-sub-${t}`, transport: await transportFromUrl(c.url) as Transport, logger: quiet });
  const durable = t === 'jetstream' || t === 'amqp';
  await bus.subscribe(`soak.${t}.>`, async () => { count('handled'); await new Promise((r) => setTimeout(r, 5)); },
    { maxInFlight: 1, ...(durable ? { group: 'soak' } : {}) });
  // Drops an at-most-once intake reports as metric fields (`… dropped`), and dead letters.
  sampleMetrics = () => {
    let dropped = 0; let deadLettered = 0;
    for (const [text, { count: n }] of bus.metrics.totals()) {
      if (text.endsWith(' dropped')) dropped += n;
      if (text.includes('dead')) deadLettered += n;
    }
    counters.dropped = dropped; counters.deadLettered = deadLettered;
  };
  stoppers.push(() => bus.stop());
}

async function pub(t: SoakTransport, c: RoleConfig): Promise<void> {
  const bus = new Bus({ service: `soak-pub-${t}`, transport: await transportFromUrl(c.url) as Transport, logger: quiet });
  await bus.start();
  every(c.rate, (i) => {
    if (inFlight >= 1000) { count('skipped'); return; } // the publisher is stalled: counted, not queued without bound
    inFlight++;
    const t0 = performance.now();
    bus.publish(`soak.${t}.reading`, sensorReading(i), { type: 'sensor.reading', partitionKey: `sensor-${i % 20}` })
      .then(() => { count('published'); counters.maxLatencyMs = Math.max(counters.maxLatencyMs ?? 0, Math.round(performance.now() - t0)); },
        (err: { code?: string }) => { count('failed'); count(`failed ${err.code ?? 'error'}`); })
      .finally(() => { inFlight--; });
  });
  stoppers.push(() => bus.stop());
}

async function hostile(t: SoakTransport, c: RoleConfig): Promise<void> {
  const subject = `soak.${t}.bad`;
  const body = (i: number) => hostileBodies[i % hostileBodies.length]!();
  if (t === 'nats' || t === 'jetstream') {
    const nc = await natsConnect({ servers: new URL(c.url).host });
    every(c.rate, (i) => {
      const h = natsHeaders();
      if (i % 5 === 4) { h.set('ce-specversion', '1.0'); h.set('ce-time', 'not a time'); h.set('ce-huge', 'v'.repeat(20_000)); }
      nc.publish(subject, body(i), { headers: h }); count('sent');
    });
    stoppers.push(() => nc.drain());
  } else if (t === 'amqp') {
    const conn = await amqplib.connect(c.url.split('?')[0]!);
    const ch = await conn.createChannel();
    every(c.rate, (i) => {
      ch.publish('signalbus', subject, Buffer.from(body(i)), i % 5 === 4 ? { headers: { 'cloudEvents:time': 'not a time', 'cloudEvents:specversion': '1.0' } } : {});
      count('sent');
    });
    stoppers.push(() => conn.close());
  } else if (t === 'mqtt') {
    const client = await mqtt.connectAsync(c.url.split('?')[0]!, { protocolVersion: 5, clientId: `soak-hostile-${randomUUID().slice(0, 8)}` });
    every(c.rate, (i) => { client.publish(subject.replaceAll('.', '/'), body(i), { qos: 0, properties: i % 5 === 4 ? { userProperties: { 'ce-time': 'not a time' } } : {} }); count('sent'); });
    stoppers.push(() => client.endAsync());
  } else if (t === 'ws') {
    await neverAckingSubscriber(c.url);
    const ws = new WebSocket(c.url, SUBPROTOCOL);
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    every(c.rate, (i) => { ws.send(i % 2 ? body(i) : '{"op":"pub","id":1,"subject":"soak.ws.bad","event":' + body(i) + '}'); count('sent'); });
    stoppers.push(async () => ws.terminate());
  } else {
    unreadSseStream(c.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    every(c.rate, (i) => {
      const req = http.request(`${c.url}/v1/events/${subject}`, { method: 'POST', agent, headers: { 'content-type': i % 2 ? 'application/cloudevents+json' : 'application/json' } },
        (res) => { count(`status${res.statusCode}`); res.resume(); });
      req.on('error', () => count('error'));
      req.end(body(i)); count('sent');
    });
    stoppers.push(async () => agent.destroy());
  }
}

/** A hub client subscribed to everything with a window of 1 that never acks; it comes back when closed. */
async function neverAckingSubscriber(url: string): Promise<void> {
  let stopped = false;
  const open = () => {
    const ws = new WebSocket(url, SUBPROTOCOL);
    ws.on('open', () => ws.send(JSON.stringify({ op: 'sub', id: 1, sid: 's1', pattern: '>', inflight: 1 })));
    ws.on('message', () => count('slowReceived'));
    ws.on('close', (code) => { count(`closed${code}`); if (!stopped) setTimeout(open, 1000); });
    ws.on('error', () => {});
    stoppers.push(async () => { stopped = true; ws.terminate(); });
  };
  open();
}

/** An SSE stream on `>` whose reader never reads: the gateway must not buffer for it without bound. */
function unreadSseStream(base: string): void {
  const req = http.get(`${base}/v1/stream/%3E`, (res) => { count(`sse${res.statusCode}`); res.pause(); res.socket.pause(); });
  req.on('error', () => count('sseError'));
  stoppers.push(async () => req.destroy());
}

const [role, transport, json] = process.argv.slice(2) as [SoakRole, SoakTransport, string];
const config = JSON.parse(json) as RoleConfig;
let reporter: NodeJS.Timeout | undefined;
// The soak is gone (it crashed or was killed): nobody reads the reports, so leave too.
process.on('disconnect', () => process.exit(0));
process.on('message', async (m: { stop?: boolean }) => {
  if (!m.stop) return;
  stopping = true;
  clearInterval(reporter);
  const deadline = Date.now() + 5000;
  while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  report();
  for (const s of stoppers.reverse()) await s().catch(() => {});
  process.exit(0);
});
try {
  if (role === 'server') process.send?.({ url: await server(transport, config) });
  else if (role === 'slow-sub') await slowSub(transport, config);
  else if (role === 'pub') await pub(transport, config);
  else await hostile(transport, config);
  reporter = setInterval(report, 1000);
  report();
} catch (err) {
  console.error(`${role} ${transport}: ${(err as Error).stack}`);
  process.exit(1);
}
