/**
 * MQTT (Mosquitto on 127.0.0.1:1883): publish → subscriber throughput through signalbus and through
 * raw mqtt.js, same broker, same run, same ~200-byte JSON payload, same publish window. The raw
 * baseline serialises and parses JSON too, as signalbus does.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { randomUUID } from 'node:crypto';
import { Bus } from '../../core/index.js';
import { MqttTransport } from '../../transports/mqtt/index.js';
import { sensorReading, until, windowed, type Measurement, type Scenario } from '../harness.js';

const URL = process.env.SIGNALBUS_BENCH_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const WINDOW = 256;
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const payloads = Array.from({ length: 1000 }, (_, i) => sensorReading(i));

/**
 * Waits until `n` arrived or nothing arrived for a second (QoS 0: Mosquitto drops what a
 * subscriber cannot take); returns how many arrived and when the last one did.
 */
async function delivered(count: () => number, n: number, t0: number): Promise<Measurement> {
  let last = count(); let lastAt = performance.now();
  while (count() < n) {
    await new Promise((r) => setTimeout(r, 5));
    if (count() !== last) { last = count(); lastAt = performance.now(); } else if (performance.now() - lastAt > 1000) break;
  }
  return { msgs: count(), seconds: (lastAt - t0) / 1000 };
}

async function signalbus(qos: 0 | 1, n: number): Promise<Measurement> {
  const subject = `bench.mqtt.${randomUUID().slice(0, 8)}`;
  const sub = new Bus({ service: 'sub@bench', transport: new MqttTransport({ url: URL, qos, logger: quiet }), metrics: false, logger: quiet });
  const pub = new Bus({ service: 'pub@bench', transport: new MqttTransport({ url: URL, qos, logger: quiet }), metrics: false, logger: quiet });
  let got = 0;
  await sub.subscribe(subject, async () => { got++; });
  await pub.start();
  await windowed(5000, WINDOW, (i) => pub.publish(subject, payloads[i % 1000], { type: 'sensor.reading' }));
  await until(() => got === 5000);
  got = 0;
  const t0 = performance.now();
  await windowed(n, WINDOW, (i) => pub.publish(subject, payloads[i % 1000], { type: 'sensor.reading' }));
  const m = await delivered(() => got, n, t0);
  await Promise.all([pub.stop(), sub.stop()]);
  if (m.msgs < n) console.error(`signalbus mqtt qos${qos}: ${n - m.msgs} of ${n} messages dropped by the broker`);
  return m;
}

const connect = (qos: 0 | 1) => new Promise<MqttClient>((resolve, reject) => {
  const c = mqtt.connect(URL, { protocolVersion: 5, clientId: `raw-${randomUUID().slice(0, 8)}`, clean: true });
  c.once('connect', () => resolve(c));
  c.once('error', reject);
  void qos;
});

async function raw(qos: 0 | 1, n: number): Promise<Measurement> {
  const topic = `bench/mqtt/raw-${randomUUID().slice(0, 8)}`;
  const sub = await connect(qos);
  const pub = await connect(qos);
  let got = 0;
  sub.on('message', (_t, payload) => { JSON.parse(payload.toString('utf8')); got++; });
  await sub.subscribeAsync(topic, { qos });
  const send = (i: number) => new Promise<void>((resolve, reject) => {
    pub.publish(topic, JSON.stringify(payloads[i % 1000]), { qos }, (err) => (err ? reject(err) : resolve()));
  });
  await windowed(5000, WINDOW, send);
  await until(() => got === 5000);
  got = 0;
  const t0 = performance.now();
  await windowed(n, WINDOW, send);
  const m = await delivered(() => got, n, t0);
  await Promise.all([pub.endAsync(), sub.endAsync()]);
  if (m.msgs < n) console.error(`raw mqtt qos${qos}: ${n - m.msgs} of ${n} messages dropped by the broker`);
  return m;
}

const scenarios: Scenario[] = [
  {
    name: 'mqtt-qos0',
    description: `MQTT 5 QoS 0 publish → subscriber on Mosquitto, 100,000 messages, ${WINDOW} publishes in flight, vs raw mqtt.js`,
    run: () => signalbus(0, 100_000),
    raw: () => raw(0, 100_000),
  },
  {
    name: 'mqtt-qos1',
    description: `MQTT 5 QoS 1 publish (PUBACK awaited) → subscriber on Mosquitto, 50,000 messages, ${WINDOW} publishes in flight, vs raw mqtt.js`,
    run: () => signalbus(1, 50_000),
    raw: () => raw(1, 50_000),
  },
];

export default scenarios;
