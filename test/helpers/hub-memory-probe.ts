/**
 * Issue 20 item 3 as its own process, so its RSS is the hub's alone: one connection opens
 * `subscriptions` inflight:1 subscriptions to `x.>` and never acks, another publishes `events`
 * events. Prints one JSON line: publish acks, the close code the hog got, and how much the
 * process' RSS grew (MiB) while the events went through, sampled until every publish was acked
 * and the hog closed, or `timeoutMs` passed.
 * `node --import tsx test/helpers/hub-memory-probe.ts <subscriptions> <events> <timeoutMs>`
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { WebSocketHub } from '../../hub/index.js';
import { SUBPROTOCOL } from '../../transports/websocket/index.js';
import { silentLogger } from './silent-logger.js';

const [subscriptions, events, timeoutMs] = process.argv.slice(2).map(Number) as [number, number, number];

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, SUBPROTOCOL);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Counts the ids in the `ack` frames a socket receives. */
function countAcks(ws: WebSocket): { n: number } {
  const acks = { n: 0 };
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as { op: string; ids?: unknown[] };
    if (f.op === 'ack') acks.n += f.ids!.length;
  });
  return acks;
}

const until = async (check: () => boolean, deadline: number, each?: () => void) => {
  while (!check() && Date.now() < deadline) { each?.(); await new Promise((r) => setTimeout(r, 10)); }
};

const hub = new WebSocketHub({ logger: silentLogger, maxSubscriptionsPerConnection: subscriptions });
await hub.listen();
const deadline = Date.now() + timeoutMs;
const hog = await open(hub.url);
let closeCode: number | undefined;
hog.on('close', (code) => { closeCode = code; });
const subscribed = countAcks(hog);
for (let i = 0; i < subscriptions; i++) hog.send(JSON.stringify({ op: 'sub', id: i, sid: `s${i}`, pattern: 'x.>', inflight: 1 }));
await until(() => subscribed.n === subscriptions, deadline);

const publisher = await open(hub.url);
const published = countAcks(publisher);
const before = process.memoryUsage().rss;
let peak = before;
for (let i = 0; i < events; i++) {
  publisher.send(JSON.stringify({ op: 'pub', id: i, subject: 'x.y', event: { specversion: '1.0', id: randomUUID(), source: 'probe', type: 'probe', data: { i, pad: 'x'.repeat(100) } } }));
}
await until(() => published.n === events && closeCode !== undefined, deadline, () => { peak = Math.max(peak, process.memoryUsage().rss); });
peak = Math.max(peak, process.memoryUsage().rss);
process.stdout.write(`${JSON.stringify({ subscribed: subscribed.n, acks: published.n, closeCode, rssGrowthMiB: (peak - before) / 1048576 })}\n`);
process.exit(0);
