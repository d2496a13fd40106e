/**
 * HTTP gateway throughput: 64 concurrent keep-alive clients POST binary-mode CloudEvents.
 * - `http-gateway`: the same node:http client against HttpGateway (bus on an in-process broker,
 *   one subscriber counting) vs a raw node:http server doing the minimal equivalent (read the
 *   body, check it is JSON, read the ce-* headers into an event, hand it to a counter, answer 202).
 * - `http-transport-publish`: a Bus publishing through HttpTransport to the gateway vs the raw
 *   client against the raw server: the whole signalbus path on both sides.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Bus, type Logger } from '../../core/index.js';
import { HttpGateway } from '../../gateway/index.js';
import { HttpTransport } from '../../transports/http/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { sensorReading, until, windowed, type Measurement, type Scenario } from '../harness.js';

const N = 20_000;
const WINDOW = 64;
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };

/** The raw baseline server: the least an ingress must do with a binary-mode event. */
async function rawServer(onEvent: (e: Record<string, unknown>) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const event: Record<string, unknown> = { data: JSON.parse(body.toString('utf8')) };
      for (const k in req.headers) if (k.startsWith('ce-')) event[k.slice(3)] = req.headers[k];
      onEvent(event);
      res.writeHead(202, { 'content-length': '0' });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function gatewayServer(onEvent: () => void): Promise<{ url: string; close(): Promise<void> }> {
  const bus = new Bus({ service: 'bench-gateway', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: quiet });
  await bus.subscribe('bench.http.>', () => { onEvent(); }, { maxInFlight: 64 });
  const gateway = new HttpGateway({ bus });
  const { url } = await gateway.start();
  return { url, close: async () => { await gateway.close(); await bus.stop(); } };
}

/** 64 keep-alive workers POSTing binary-mode events with plain node:http. */
async function postAll(url: string, received: () => number): Promise<Measurement> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: WINDOW });
  const target = new URL(url);
  const post = (i: number) => new Promise<void>((resolve, reject) => {
    const body = Buffer.from(JSON.stringify(sensorReading(i)));
    const req = http.request({
      agent, hostname: target.hostname, port: target.port, method: 'POST', path: '/v1/events/bench.http.readings',
      headers: {
        'content-type': 'application/json', 'content-length': body.byteLength, 'ce-specversion': '1.0', 'ce-id': `bench-${i}`,
        'ce-source': 'bench', 'ce-type': 'sensor.reading',
      },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
  await windowed(200, WINDOW, post); // warm the sockets
  const base = received();
  const t0 = performance.now();
  await windowed(N, WINDOW, (i) => post(i));
  await until(() => received() - base >= N);
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { msgs: N, seconds };
}

const scenarios: Scenario[] = [
  {
    name: 'http-gateway',
    description: `${N} binary-mode POSTs, 64 keep-alive clients: HttpGateway (bus + subscriber) vs raw node:http server`,
    async run() {
      let count = 0;
      const server = await gatewayServer(() => { count++; });
      try { return await postAll(server.url, () => count); } finally { await server.close(); }
    },
    async raw() {
      let count = 0;
      const server = await rawServer(() => { count++; });
      try { return await postAll(server.url, () => count); } finally { await server.close(); }
    },
  },
  {
    name: 'http-transport-publish',
    description: `${N} publishes, 64 in flight: Bus -> HttpTransport -> HttpGateway -> bus subscriber vs raw client -> raw server`,
    async run() {
      let count = 0;
      const server = await gatewayServer(() => { count++; });
      const bus = new Bus({ service: 'bench-client', transport: new HttpTransport({ url: server.url, maxConcurrency: WINDOW }), metrics: false, logger: quiet });
      try {
        await windowed(200, WINDOW, (i) => bus.publish('bench.http.warm', sensorReading(i), { type: 'sensor.reading' }));
        const base = count;
        const t0 = performance.now();
        await windowed(N, WINDOW, (i) => bus.publish('bench.http.readings', sensorReading(i), { type: 'sensor.reading' }));
        await until(() => count - base >= N);
        return { msgs: N, seconds: (performance.now() - t0) / 1000 };
      } finally { await bus.stop(); await server.close(); }
    },
    async raw() {
      let count = 0;
      const server = await rawServer(() => { count++; });
      try { return await postAll(server.url, () => count); } finally { await server.close(); }
    },
  },
];

export default scenarios;
