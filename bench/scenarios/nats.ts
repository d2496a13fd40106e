import { randomUUID } from 'node:crypto';
import { AckPolicy, connect, DeliverPolicy, headers, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import { randomBytes } from 'node:crypto';
import { Bus } from '../../core/index.js';
import { nowIso } from '../../core/clock.js';
import { newEventId, randomTraceparent } from '../../core/random.js';
import { NatsTransport, type NatsTransportOptions } from '../../transports/nats/index.js';
import { latencies, percentile, sensorReading, until, windowed, type Measurement, type Scenario } from '../harness.js';
import { freshBlock, prebuilt, readEventBare } from '../peers/nats-least-work.js';

const SERVER = 'nats://127.0.0.1:4222';
const N = 200_000;
const JS_N = 30_000;
const WINDOW = 64;
const RR_N = 20_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const payloads = Array.from({ length: 1000 }, (_, i) => sensorReading(i));
const te = new TextEncoder();
const td = new TextDecoder();

function makeBus(service: string, options: NatsTransportOptions = {}): Bus {
  return new Bus({ service: `${service}@bench`, transport: new NatsTransport({ servers: SERVER, ...options }), metrics: false, logger: quiet });
}

const rawConnect = (): Promise<NatsConnection> => connect({ servers: SERVER, noAsyncTraces: true });

/** Publishes `n` readings through `send` (WINDOW in flight) and waits until `received()` reaches n. */
async function timed(n: number, send: (i: number) => Promise<unknown>, received: () => number): Promise<Measurement> {
  const t0 = performance.now();
  await windowed(n, WINDOW, send);
  await until(() => received() >= n);
  return { msgs: n, seconds: (performance.now() - t0) / 1000 };
}

/** Raw nats.js pub/sub on a fresh subject: `send` publishes reading i, `read` takes each delivery. */
async function rawPubSub(tag: string, send: (pub: NatsConnection, subject: string, i: number) => void, read: (m: Msg) => void): Promise<Measurement> {
  const subject = `bench.nats.${tag}.${randomUUID().slice(0, 8)}`;
  const pub = await rawConnect(); const sub = await rawConnect();
  let got = 0;
  sub.subscribe(subject, { callback: (_e, m) => { read(m); got++; } });
  await sub.flush();
  const publish = async (i: number) => { send(pub, subject, i); };
  await timed(20_000, publish, () => got); got = 0; // warm-up
  const m = await timed(N, publish, () => got);
  await Promise.all([pub.drain(), sub.drain()]);
  return m;
}

const readJson = (m: Msg) => { JSON.parse(td.decode(m.data)); };

/** `n` round trips with `window` in flight after `warm` untimed ones, then `close()`: the rate and p50/p99. */
async function timedRoundTrips(n: number, window: number, warm: number, rt: (i: number) => Promise<unknown>, close: () => Promise<unknown>): Promise<Measurement> {
  await latencies(warm, window, rt);
  const t0 = performance.now();
  const samples = await latencies(n, window, rt);
  const seconds = (performance.now() - t0) / 1000;
  await close();
  return { msgs: n, seconds, p50_us: percentile(samples, 50), p99_us: percentile(samples, 99) };
}

/**
 * Request/reply carrying binary-mode CloudEvents on raw nats.js: `n` round trips, `window` in
 * flight, after `warm`. Replies come back, as signalbus's do, through one wildcard inbox
 * subscription with a token per request (cheaper than request()). The floor (-ce-floor scenarios)
 * builds each leg's header block once and never reads it. `minimal` (-ce-minimal) gives every
 * request and reply a fresh id, time and traceparent (the reply names its request as causation)
 * and reads each block back with a bare line split, as nats-pubsub-ce-minimal does.
 */
async function ceRoundTrips(window: number, n: number, warm: number, minimal = false): Promise<Measurement> {
  const subject = `bench.nats.rr.${minimal ? 'minimal' : 'floor'}.${randomUUID().slice(0, 8)}`;
  const server = await rawConnect(); const client = await rawConnect();
  const id = randomUUID();
  const traceparent = '00-' + randomBytes(16).toString('hex') + '-' + randomBytes(8).toString('hex') + '-01';
  const block = (type: string, extra: string) => te.encode('NATS/1.0\r\nce-specversion: 1.0\r\nce-id: ' + id + '\r\nce-source: client@bench\r\n'
    + 'ce-type: ' + type + '\r\nce-time: ' + new Date().toISOString() + '\r\nce-traceparent: ' + traceparent + '\r\nce-correlationid: ' + id + '\r\n' + extra
    + 'content-type: application/json\r\n\r\n');
  const requestBlock = block('bench.nats.rr64', ''); const replyBlock = block('bench.nats.rr64.reply', 'ce-causationid: ' + id + '\r\n');
  // nats.js calls encode() on the headers it publishes, once, inside publish().
  const requestHeaders = { bytes: requestBlock as Uint8Array, encode() { return this.bytes; } };
  const replyHeaders = { bytes: replyBlock as Uint8Array, encode() { return this.bytes; } };
  const requestOpts = { headers: requestHeaders as unknown as MsgHdrs, reply: '' };
  const replyOpts = { headers: replyHeaders as unknown as MsgHdrs };
  const freshRequest = freshBlock('client@bench', 'bench.nats.rr64');
  const freshReply = freshBlock('server@bench', 'bench.nats.rr64.reply');
  server.subscribe(subject, { callback: (_e, m) => {
    if (minimal) {
      const request = readEventBare(m);
      replyHeaders.bytes = freshReply(newEventId(), 'ce-correlationid: ' + request.correlationid + '\r\nce-causationid: ' + request.id + '\r\n');
    }
    const d = JSON.parse(td.decode(m.data));
    server.publish(m.reply!, te.encode(JSON.stringify(d)), replyOpts);
  } });
  return inboxRoundTrips(server, client, window, n, warm, (i, replyTo) => {
    requestOpts.reply = replyTo;
    if (minimal) { const eventId = newEventId(); requestHeaders.bytes = freshRequest(eventId, 'ce-correlationid: ' + eventId + '\r\n'); }
    client.publish(subject, te.encode(JSON.stringify(payloads[i % 1000])), requestOpts);
  }, (m) => { if (minimal) readEventBare(m); return JSON.parse(td.decode(m.data)); });
}

/**
 * Round trips on raw nats.js through one wildcard inbox subscription with a token per request, as
 * signalbus's replies come back: `send(i, replyTo)` publishes request `i`, `read` takes its reply.
 */
async function inboxRoundTrips(server: NatsConnection, client: NatsConnection, window: number, n: number, warm: number,
  send: (i: number, replyTo: string) => void, read: (m: Msg) => unknown): Promise<Measurement> {
  const inbox = `_INBOX.${randomUUID().replaceAll('-', '')}.`;
  const waiting = new Map<string, (m: Msg) => void>();
  client.subscribe(`${inbox}*`, { callback: (_e, m) => { const w = waiting.get(m.subject); if (w) { waiting.delete(m.subject); w(m); } } });
  await Promise.all([server.flush(), client.flush()]);
  let token = 0;
  const rt = (i: number) => new Promise<Msg>((resolve) => {
    const replyTo = inbox + (++token).toString(36);
    waiting.set(replyTo, resolve);
    send(i, replyTo);
  }).then(read);
  return timedRoundTrips(n, window, warm, rt, () => Promise.all([server.drain(), client.drain()]));
}

/**
 * The round trip of ceRoundTrips(…, minimal) with the same attributes carried in the JSON body
 * (CloudEvents structured mode: `{"specversion":…,"data":{…}}`) instead of a NATS header block:
 * fresh id, time and traceparent per leg, each side parsing the other's event with JSON.parse.
 * Against the minimal header-block round trip it isolates what the header block itself costs.
 */
async function structuredRoundTrips(window: number, n: number, warm: number): Promise<Measurement> {
  const subject = `bench.nats.rr.structured.${randomUUID().slice(0, 8)}`;
  const server = await rawConnect(); const client = await rawConnect();
  const event = (type: string, source: string, id: string, extra: string, data: string) => te.encode('{"specversion":"1.0","id":"' + id + '","source":"' + source
    + '","type":"' + type + '","time":"' + nowIso() + '","traceparent":"' + randomTraceparent() + '"' + extra + ',"datacontenttype":"application/json","data":' + data + '}');
  server.subscribe(subject, { callback: (_e, m) => {
    const request = JSON.parse(td.decode(m.data)) as { id: string; correlationid: string; data: unknown };
    server.publish(m.reply!, event('bench.nats.rr64.reply', 'server@bench', newEventId(), ',"correlationid":"' + request.correlationid + '","causationid":"' + request.id + '"', JSON.stringify(request.data)));
  } });
  return inboxRoundTrips(server, client, window, n, warm, (i, replyTo) => {
    const id = newEventId();
    client.publish(subject, event('bench.nats.rr64', 'client@bench', id, ',"correlationid":"' + id + '"', JSON.stringify(payloads[i % 1000])), { reply: replyTo });
  }, (m) => (JSON.parse(td.decode(m.data)) as { data: unknown }).data);
}

const scenarios: Scenario[] = [
  {
    name: 'nats-pubsub',
    description: `core NATS publish → subscriber handler, ${N} ~200-byte JSON readings, ${WINDOW} publishes in flight; raw = nats.js publish + callback subscription with JSON encode/decode`,
    raw: () => rawPubSub('raw', (pub, subject, i) => pub.publish(subject, te.encode(JSON.stringify(payloads[i % 1000]))), readJson),
    async run() {
      const subject = `bench.nats.sb.${randomUUID().slice(0, 8)}`;
      const pub = makeBus('pub'); const sub = makeBus('sub');
      let got = 0;
      await sub.subscribe(subject, async () => { got++; }, { maxInFlight: 64, maxPending: 10_000 });
      await pub.start();
      const send = (i: number) => pub.publish(subject, payloads[i % 1000], { type: 'sensor.reading' });
      await timed(20_000, send, () => got); got = 0;
      const m = await timed(N, send, () => got);
      await Promise.all([pub.stop(), sub.stop()]);
      return m;
    },
  },
  {
    name: 'nats-pubsub-ce',
    description: `as nats-pubsub, but the raw side carries the same CloudEvents binary-mode headers signalbus sends (ce-specversion, ce-id, ce-source, ce-type, ce-time, ce-traceparent, content-type) with nats.js headers() and reads them back: the framework's own cost, without the cost of the event format`,
    raw: () => rawPubSub('rawce', (pub, subject, i) => {
      const h = headers();
      h.set('ce-specversion', '1.0'); h.set('ce-id', randomUUID()); h.set('ce-source', 'pub@bench'); h.set('ce-type', 'sensor.reading');
      h.set('ce-time', new Date().toISOString()); h.set('ce-traceparent', `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`);
      h.set('content-type', 'application/json');
      pub.publish(subject, te.encode(JSON.stringify(payloads[i % 1000])), { headers: h });
    }, (m) => {
      const h = m.headers!;
      const event = { specversion: h.get('ce-specversion'), id: h.get('ce-id'), source: h.get('ce-source'), type: h.get('ce-type'), time: h.get('ce-time'), traceparent: h.get('ce-traceparent'), datacontenttype: h.get('content-type') };
      if (!event.id) throw new Error('no ce-id');
      readJson(m);
    }),
    run: () => scenarios[0]!.run(),
  },
  {
    name: 'nats-pubsub-ce-floor',
    description: `as nats-pubsub, but the raw side is the floor for carrying binary-mode CloudEvents on nats.js: the same header block signalbus sends (same attributes, same sizes) built once and handed to every publish, and never read by the subscriber, so it pays only the wire bytes. Shows what the event format costs before any per-message work (ratio of nats-pubsub / this ratio = floor / bare)`,
    raw: () => {
      const block = te.encode('NATS/1.0\r\nce-specversion: 1.0\r\nce-id: ' + randomUUID() + '\r\nce-source: pub@bench\r\nce-type: sensor.reading\r\n'
        + 'ce-time: ' + new Date().toISOString() + '\r\nce-traceparent: 00-' + randomBytes(16).toString('hex') + '-' + randomBytes(8).toString('hex') + '-01\r\n'
        + 'content-type: application/json\r\n\r\n');
      // nats.js only calls encode() on the headers it publishes.
      const prebuilt = { headers: { encode: () => block } as unknown as MsgHdrs };
      return rawPubSub('floor', (pub, subject, i) => pub.publish(subject, te.encode(JSON.stringify(payloads[i % 1000])), prebuilt), readJson);
    },
    run: () => scenarios[0]!.run(),
  },
  {
    name: 'nats-pubsub-ce-minimal',
    description: `as nats-pubsub-ce-floor, but the raw side does the least per-message work a CloudEvent needs: each message gets a fresh id, time and traceparent (from signalbus's batch generators, the cheapest in Node) in a header block built by string concatenation, and the subscriber reads the block back into an attribute object with a bare line split (no validation, no percent-decoding) before parsing the JSON body. What any code carrying fresh events pays beyond the floor; ratio = signalbus / this`,
    raw: () => {
      const block = freshBlock('pub@bench', 'sensor.reading');
      const send = (pub: NatsConnection, subject: string, i: number) => pub.publish(subject, te.encode(JSON.stringify(payloads[i % 1000])), { headers: prebuilt(block(newEventId(), '')) });
      return rawPubSub('minimal', send, (m) => { readEventBare(m); readJson(m); });
    },
    run: () => scenarios[0]!.run(),
  },
  {
    name: 'nats-pubsub-ce-work-cost',
    description: `what the least per-message work of a CloudEvent costs against the floor, on raw nats.js alone (no signalbus code runs), ${N} readings, ${WINDOW} publishes in flight: run = nats-pubsub-ce-minimal's raw side (a fresh id, time and traceparent per message in a header block built by concatenation, read back with a bare line split), raw = nats-pubsub-ce-floor's raw side (one block built once and never read). ratio = minimal / floor: what nats-pubsub-ce-floor would show for code that does that least work and nothing else, so nats-pubsub-ce-floor's ratio = this ratio × nats-pubsub-ce-minimal's`,
    raw: () => scenarios.find((s) => s.name === 'nats-pubsub-ce-floor')!.raw!(),
    run: () => scenarios.find((s) => s.name === 'nats-pubsub-ce-minimal')!.raw!(),
  },
  {
    name: 'nats-request-reply',
    description: `core NATS request/reply round trips, 1 in flight (latency), ${RR_N} requests — p50/p99 in µs; raw = nats.js request() with noAsyncTraces`,
    async raw() {
      const subject = `bench.nats.rr.raw.${randomUUID().slice(0, 8)}`;
      const server = await rawConnect(); const client = await rawConnect();
      server.subscribe(subject, { callback: (_e, m) => { const d = JSON.parse(td.decode(m.data)); m.respond(te.encode(JSON.stringify(d))); } });
      await server.flush();
      const rt = async (i: number) => JSON.parse(td.decode((await client.request(subject, te.encode(JSON.stringify(payloads[i % 1000])), { timeout: 5000 })).data));
      return timedRoundTrips(RR_N, 1, 2000, rt, () => Promise.all([server.drain(), client.drain()]));
    },
    async run() {
      const subject = `bench.nats.rr.sb.${randomUUID().slice(0, 8)}`;
      const server = makeBus('server'); const client = makeBus('client');
      await server.subscribe(subject, async (m) => m.data);
      await client.start();
      const rt = (i: number) => client.request(subject, payloads[i % 1000], { timeoutMs: 5000 });
      return timedRoundTrips(RR_N, 1, 2000, rt, () => Promise.all([server.stop(), client.stop()]));
    },
  },
  {
    name: 'nats-request-reply-64',
    description: `core NATS request/reply throughput, ${WINDOW} requests in flight, ${RR_N * 2} requests — p50/p99 in µs; raw = nats.js request() with noAsyncTraces`,
    async raw() {
      const subject = `bench.nats.rr64.raw.${randomUUID().slice(0, 8)}`;
      const server = await rawConnect(); const client = await rawConnect();
      server.subscribe(subject, { callback: (_e, m) => { const d = JSON.parse(td.decode(m.data)); m.respond(te.encode(JSON.stringify(d))); } });
      await server.flush();
      const rt = async (i: number) => JSON.parse(td.decode((await client.request(subject, te.encode(JSON.stringify(payloads[i % 1000])), { timeout: 5000 })).data));
      return timedRoundTrips(RR_N * 2, WINDOW, 5000, rt, () => Promise.all([server.drain(), client.drain()]));
    },
    async run() {
      const subject = `bench.nats.rr64.sb.${randomUUID().slice(0, 8)}`;
      const server = makeBus('server'); const client = makeBus('client');
      await server.subscribe(subject, async (m) => m.data, { maxInFlight: WINDOW });
      await client.start();
      const rt = (i: number) => client.request(subject, payloads[i % 1000], { timeoutMs: 5000 });
      return timedRoundTrips(RR_N * 2, WINDOW, 5000, rt, () => Promise.all([server.stop(), client.stop()]));
    },
  },
  {
    name: 'nats-request-reply-64-ce-floor',
    description: `as nats-request-reply-64, but the raw side is the floor for request/reply carrying binary-mode CloudEvents on nats.js: both legs carry the header block signalbus sends (request: specversion, id, source, type, time, traceparent, correlationid, content-type; reply: the same plus causationid, type <type>.reply), built once and never read, and replies come back, as signalbus's do, through one wildcard inbox subscription with a token per request (cheaper than request()). Only the JSON body is encoded and parsed. ratio = signalbus / floor`,
    raw: () => ceRoundTrips(WINDOW, RR_N * 2, 5000),
    run: () => scenarios.find((s) => s.name === 'nats-request-reply-64')!.run(),
  },
  {
    name: 'nats-request-reply-64-ce-minimal',
    description: `as nats-request-reply-64-ce-floor, but the raw side does the least per-message work a CloudEvent needs on both legs: each request and reply gets a fresh id, time and traceparent (signalbus's batch generators; the reply names its request's id as causation) in a block built by concatenation, and each side reads the other's block back with a bare line split (no validation, no percent-decoding). ratio = signalbus / this`,
    raw: () => ceRoundTrips(WINDOW, RR_N * 2, 5000, true),
    run: () => scenarios.find((s) => s.name === 'nats-request-reply-64')!.run(),
  },
  {
    name: 'nats-request-reply-ce-floor',
    description: `as nats-request-reply-64-ce-floor, one round trip at a time (latency), ${RR_N} requests — p50/p99 in µs: the latency floor of request/reply carrying signalbus's header blocks on nats.js. ratio = signalbus / floor`,
    raw: () => ceRoundTrips(1, RR_N, 2000),
    run: () => scenarios.find((s) => s.name === 'nats-request-reply')!.run(),
  },
  {
    name: 'nats-request-reply-ce-minimal',
    description: `as nats-request-reply-64-ce-minimal, one round trip at a time (latency), ${RR_N} requests — p50/p99 in µs. ratio = signalbus / this`,
    raw: () => ceRoundTrips(1, RR_N, 2000, true),
    run: () => scenarios.find((s) => s.name === 'nats-request-reply')!.run(),
  },
  {
    name: 'nats-request-reply-header-cost',
    description: `what a NATS header block costs a round trip made one at a time, on raw nats.js, ${RR_N} requests — p50/p99 in µs: run = nats-request-reply-ce-minimal's raw side (binary mode: the attributes in a header block), raw = the same round trip with the same attributes, fresh per leg, in the JSON body instead (structured mode, no headers). Moleculer and NestJS send no NATS headers. ratio = header block / JSON body`,
    raw: () => structuredRoundTrips(1, RR_N, 2000),
    run: () => ceRoundTrips(1, RR_N, 2000, true),
  },
  {
    name: 'nats-jetstream-pubsub',
    description: `JetStream publish (awaiting the stream's ack) → durable pull consumer with explicit ack, ${JS_N} readings, ${WINDOW} publishes in flight, memory storage; raw = nats.js js.publish() + consume() with ack`,
    async raw() {
      const id = randomUUID().slice(0, 8);
      const stream = `SB_BENCH_RAW_${id}`; const subject = `bench.js.raw.${id}`;
      const nc = await rawConnect(); const subNc = await rawConnect();
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: stream, subjects: [subject], storage: 'memory' as never });
      try {
        await jsm.consumers.add(stream, { durable_name: 'bench', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, max_ack_pending: WINDOW });
        const js = nc.jetstream();
        let got = 0;
        const consumer = await subNc.jetstream().consumers.get(stream, 'bench');
        const messages = await consumer.consume({ max_messages: WINDOW, callback: (m) => { JSON.parse(td.decode(m.data)); m.ack(); got++; } });
        const m = await timed(JS_N, (i) => js.publish(subject, te.encode(JSON.stringify(payloads[i % 1000])), { msgID: `${id}-${i}` }), () => got);
        await messages.close();
        return m;
      } finally {
        await jsm.streams.delete(stream);
        await Promise.all([nc.drain(), subNc.drain()]);
      }
    },
    async run() {
      const id = randomUUID().slice(0, 8);
      const stream = `SB_BENCH_${id}`; const subject = `bench.js.sb.${id}`;
      const jetstream = { stream, subjects: [subject], storage: 'memory' as const };
      const pub = makeBus('pub', { jetstream }); const sub = makeBus('sub', { jetstream });
      try {
        let got = 0;
        await sub.subscribe(subject, async () => { got++; }, { group: 'bench', maxInFlight: WINDOW });
        await pub.start();
        const m = await timed(JS_N, (i) => pub.publish(subject, payloads[i % 1000], { type: 'sensor.reading' }), () => got);
        return m;
      } finally {
        await Promise.all([pub.stop(), sub.stop()]);
        const nc = await rawConnect();
        await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
        await nc.close();
      }
    },
  },
];

export default scenarios;
