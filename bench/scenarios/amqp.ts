/**
 * AMQP 0-9-1 (RabbitMQ on 127.0.0.1:5672): publish → consumer throughput through signalbus and
 * through raw amqplib, same broker, same run, same ~200-byte JSON payload, same window of
 * publishes in flight, same consumer settings (manual ack, prefetch 64). The raw baseline
 * serialises and parses JSON too, as signalbus does.
 *
 * - `amqp-confirms`: durable mode — persistent messages on a durable queue, publisher confirms
 *   with 1000 unconfirmed in flight (DESIGN.md section 10: waiting for each confirm caps at ~1.6k msg/s).
 * - `amqp-fast`: no confirms, transient messages on an exclusive queue.
 */
import { randomUUID } from 'node:crypto';
import amqp, { type Channel, type ConfirmChannel } from 'amqplib';
import { Bus } from '../../core/index.js';
import { AmqpTransport } from '../../transports/amqp/index.js';
import { sensorReading, until, windowed, type Measurement, type Scenario } from '../harness.js';

const URL = process.env.SIGNALBUS_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const WINDOW = 1000;
const PREFETCH = 64;
const WARMUP = 5000;
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const payloads = Array.from({ length: 1000 }, (_, i) => sensorReading(i));

async function signalbus(durable: boolean, n: number): Promise<Measurement> {
  const exchange = `sbbench-${randomUUID().slice(0, 8)}`;
  const subject = 'bench.amqp';
  const subT = new AmqpTransport({ url: URL, exchange, durable, maxUnconfirmed: WINDOW });
  const pubT = new AmqpTransport({ url: URL, exchange, durable, maxUnconfirmed: WINDOW });
  const sub = new Bus({ service: 'sub@bench', transport: subT, metrics: false, logger: quiet });
  const pub = new Bus({ service: 'pub@bench', transport: pubT, metrics: false, logger: quiet });
  let got = 0;
  await sub.subscribe(subject, async () => { got++; }, { maxInFlight: PREFETCH, ...(durable ? { group: exchange } : {}) });
  await pub.start();
  await windowed(WARMUP, WINDOW, (i) => pub.publish(subject, payloads[i % 1000], { type: 'sensor.reading' }));
  await until(() => got === WARMUP);
  got = 0;
  const t0 = performance.now();
  await windowed(n, WINDOW, (i) => pub.publish(subject, payloads[i % 1000], { type: 'sensor.reading' }));
  await until(() => got >= n);
  const seconds = (performance.now() - t0) / 1000;
  await subT.deleteTopology();
  await Promise.all([pub.stop(), sub.stop()]);
  return { msgs: n, seconds };
}

/**
 * The AMQP properties signalbus's binding sends for the same event (transports/amqp/binding.ts):
 * every attribute as a `cloudEvents:<attr>` header, repeated in the basic properties plain AMQP
 * clients read. Built per message, as a raw client carrying CloudEvents has to.
 */
function cloudEventProperties(id: string): Record<string, unknown> {
  const time = new Date().toISOString();
  const traceparent = `00-${randomUUID().replaceAll('-', '')}-${randomUUID().slice(0, 18).replaceAll('-', '')}-01`;
  return {
    persistent: true, contentType: 'application/json', type: 'sensor.reading', messageId: id, appId: 'pub@bench', correlationId: id,
    timestamp: Math.floor(Date.parse(time) / 1000),
    headers: {
      'cloudEvents:specversion': '1.0', 'cloudEvents:id': id, 'cloudEvents:source': 'pub@bench', 'cloudEvents:type': 'sensor.reading', 'cloudEvents:time': time,
      'cloudEvents:traceparent': traceparent, 'cloudEvents:correlationid': id, 'cloudEvents:datacontenttype': 'application/json',
    },
  };
}

async function raw(durable: boolean, n: number, asCloudEvent = false): Promise<Measurement> {
  const exchange = `sbbench-raw-${randomUUID().slice(0, 8)}`;
  const routingKey = 'bench.amqp';
  const subConn = await amqp.connect(URL);
  const pubConn = await amqp.connect(URL);
  const subCh = await subConn.createChannel();
  await subCh.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = durable
    ? await subCh.assertQueue(`${exchange}.q`, { durable: true })
    : await subCh.assertQueue('', { exclusive: true, autoDelete: true });
  await subCh.bindQueue(queue, exchange, routingKey);
  await subCh.prefetch(PREFETCH);
  let got = 0;
  await subCh.consume(queue, (m) => {
    if (!m) return;
    JSON.parse(m.content.toString('utf8'));
    got++;
    subCh.ack(m);
  });
  const options = { persistent: durable, contentType: 'application/json', type: 'sensor.reading', messageId: '' };
  let send: (i: number) => Promise<void>;
  if (durable) {
    const ch: ConfirmChannel = await pubConn.createConfirmChannel();
    send = (i) => new Promise<void>((resolve, reject) => {
      const id = randomUUID();
      ch.publish(exchange, routingKey, Buffer.from(JSON.stringify(payloads[i % 1000])), asCloudEvent ? cloudEventProperties(id) : { ...options, messageId: id },
        (err) => (err ? reject(err) : resolve()));
    });
  } else {
    const ch: Channel = await pubConn.createChannel();
    let drained: Promise<void> | undefined;
    ch.on('drain', () => { drained = undefined; });
    send = (i) => {
      if (ch.publish(exchange, routingKey, Buffer.from(JSON.stringify(payloads[i % 1000])), { ...options, messageId: randomUUID() })) return Promise.resolve();
      return (drained ??= new Promise<void>((r) => ch.once('drain', () => r())));
    };
  }
  await windowed(WARMUP, WINDOW, send);
  await until(() => got === WARMUP);
  got = 0;
  const t0 = performance.now();
  await windowed(n, WINDOW, send);
  await until(() => got >= n);
  const seconds = (performance.now() - t0) / 1000;
  if (durable) await subCh.deleteQueue(queue);
  await subCh.deleteExchange(exchange);
  await Promise.all([subConn.close(), pubConn.close()]);
  return { msgs: n, seconds };
}

const scenarios: Scenario[] = [
  {
    name: 'amqp-confirms',
    description: `AMQP durable mode on RabbitMQ: persistent publish with publisher confirms (${WINDOW} unconfirmed in flight) → durable queue, manual ack, prefetch ${PREFETCH}, 50,000 messages, vs raw amqplib ConfirmChannel`,
    run: () => signalbus(true, 50_000),
    raw: () => raw(true, 50_000),
  },
  {
    name: 'amqp-confirms-ce',
    description: `as amqp-confirms, but raw amqplib carries the same CloudEvent signalbus's binding sends (8 cloudEvents:* headers, message_id, type, app_id, content_type, timestamp, correlation_id): the framework's own cost, without the cost of the event format (amqplib encoding the header table, RabbitMQ decoding and storing it)`,
    run: () => signalbus(true, 50_000),
    raw: () => raw(true, 50_000, true),
  },
  {
    name: 'amqp-fast',
    description: `AMQP fast mode on RabbitMQ: transient publish without confirms (${WINDOW} in flight, socket backpressure) → exclusive queue, manual ack, prefetch ${PREFETCH}, 100,000 messages, vs raw amqplib Channel`,
    run: () => signalbus(false, 100_000),
    raw: () => raw(false, 100_000),
  },
];

export default scenarios;
