/**
 * signalbus's own cost per message on the NATS path, without the network: a publishing Bus and a
 * subscribing Bus on NatsTransports whose nats.js connection is replaced by a stub (it takes
 * publishes and hands the subscription callback real header blocks and bodies). What remains is
 * the Bus, the binding and the transport code: publish (envelope, JSON, header block) and
 * delivery (header reader, inbound checks, JSON, scheduling, settlement). Quiet enough to see a
 * 0.1 µs change that the broker scenarios' 5-10% run-to-run spread hides; profile it with
 *
 *   node --cpu-prof --cpu-prof-interval 50 --import tsx bench/profile-nats-path.ts
 *
 * `ONLY_PUBLISH=1` or `ONLY_DELIVER=1` profiles one side. Not a scenario: it has no raw
 * baseline and reaches into NatsTransport's private fields (`nc`, `frames`, `connecting`), so it
 * may need a touch when those change. bench/RESULTS.md (stop 27) has its numbers.
 */
import type { NatsConnection } from 'nats';
import { Bus } from '../core/index.js';
import { NatsTransport } from '../transports/nats/index.js';
import { toNatsHeaders } from '../transports/nats/binding.js';
import { FrameWriter } from '../transports/nats/frames.js';
import { sensorReading } from './harness.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const payloads = Array.from({ length: 1000 }, (_, i) => sensorReading(i));
const N = 300_000;
const WINDOW = 64;

type Callback = (err: unknown, msg: unknown) => void;
let deliver: Callback = () => {};
const stubConnection = {
  publish(_subject: string, _data: Uint8Array, opts: { headers: { encode(): Uint8Array } }) { opts.headers.encode(); },
  isClosed: () => false,
  // What transports/nats/frames.ts writes whole frames into: the frames are made and dropped.
  protocol: { connected: true, sendCommand(_frame: Uint8Array) {}, outBytes: 0, outMsgs: 0, noMorePublishing: false, info: { headers: true, max_payload: 1024 * 1024 } },
  subscribe(_pattern: string, o: { callback: Callback }) { deliver = o.callback; return { isClosed: () => false, unsubscribe() {}, drain: async () => {} }; },
  flush: async () => {},
};
const stubbed = (t: NatsTransport) => Object.assign(t, { nc: stubConnection, frames: FrameWriter.for(stubConnection as unknown as NatsConnection), connecting: Promise.resolve() });

const pub = new Bus({ service: 'pub@bench', transport: stubbed(new NatsTransport()), metrics: false, logger: quiet });
const sub = new Bus({ service: 'sub@bench', transport: stubbed(new NatsTransport()), metrics: false, logger: quiet });
let got = 0;
await sub.subscribe('bench.x', async () => { got++; }, { maxInFlight: WINDOW, maxPending: 10_000 });
await pub.start();

// What nats.js holds for a delivery: the header block a signalbus publisher writes (each with its
// own id, time and traceparent, as on the wire), then the body.
const raws: Array<{ raw: Buffer; headerLength: number }> = [];
for (const p of payloads) {
  const sent = await pub.publish('bench.x', p, { type: 'sensor.reading' });
  const block = Buffer.from(toNatsHeaders({ ...sent, data: undefined, datacontenttype: 'application/json' }, false), 'latin1');
  raws.push({ raw: Buffer.concat([block, Buffer.from(JSON.stringify(p))]), headerLength: block.length });
}

for (let round = 0; round < 4; round++) {
  const t0 = performance.now();
  if (!process.env.ONLY_DELIVER) {
    for (let i = 0; i < N; i += WINDOW) {
      const sends = [];
      for (let j = 0; j < WINDOW; j++) sends.push(pub.publish('bench.x', payloads[(i + j) % 1000], { type: 'sensor.reading' }));
      await Promise.all(sends);
    }
  }
  const t1 = performance.now();
  got = 0;
  if (!process.env.ONLY_PUBLISH) {
    for (let i = 0; i < N; i += WINDOW) {
      for (let j = 0; j < WINDOW; j++) {
        const { raw, headerLength } = raws[(i + j) % 1000]!;
        deliver(null, { subject: 'bench.x', reply: '', data: raw.subarray(headerLength), _msg: { hdr: headerLength }, _rdata: raw });
      }
      while (got < i + WINDOW) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const t2 = performance.now();
  console.log(`publish ${((t1 - t0) * 1000 / N).toFixed(2)} µs  delivery ${((t2 - t1) * 1000 / N).toFixed(2)} µs a message`);
}
await Promise.all([pub.stop(), sub.stop()]);
process.exit(0);
