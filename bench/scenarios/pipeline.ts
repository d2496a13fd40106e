/**
 * The IoT pipeline of examples/iot-mqtt/pipeline.json end to end: ingest → filter → aggregate and
 * alert, each service on its own Bus with contracts enforced, the services talking over the
 * memory transport, started by the pipeline runner exactly as `signalbus run` starts it.
 *
 * Devices `d-0 … d-199` report `{ ts, temperature, humidity }` every 200 ms of event time (the
 * replay runs event time faster than the wall clock). Every device's temperature follows a
 * 12-reading cycle that stays above 80 for 5 readings and then at or below 75: the third hot
 * reading raises `overheat`, the third cool one resolves it, so a sixth of the readings decide
 * an alert. An alert names its deciding reading by event time (`raisedAt` / `resolvedAt` = the
 * reading's `ts`) and key, which gives the reading's publish time; the memory scenario also
 * checks that the alert's `correlationid` is that reading's id.
 *
 * There is no raw baseline: no raw client does what a pipeline does.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validatePipeline, type Pipeline } from '../../cli/pipeline/load.js';
import { startPipeline, type RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import type { Envelope } from '../../core/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { MemoryTransport, namedBroker } from '../../transports/memory/index.js';
import { percentile, windowed, type Measurement, type Scenario } from '../harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const MQTT_URL = process.env.SIGNALBUS_BENCH_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const DEVICES = 200;
const WINDOW = 64;
const PERIOD_MS = 200;
const CYCLE = [70, 71, 72, 85, 86, 87, 88, 85, 70, 71, 72, 70];
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };

/** The readings of one run: reading `i` is device `i % DEVICES`, its `k = i / DEVICES`-th report. */
class Readings {
  readonly base = Date.now() - 3_600_000;
  readonly prefix = `b${randomUUID().slice(0, 6)}`;
  readonly sentAt: Float64Array;
  readonly samples: number[] = [];
  alerts = 0;

  constructor(readonly total: number, readonly measuredFrom: number) {
    this.sentAt = new Float64Array(total);
  }

  device(i: number): string { return `${this.prefix}-${i % DEVICES}`; }

  payload(i: number): string {
    const k = Math.floor(i / DEVICES);
    return JSON.stringify({ ts: this.base + k * PERIOD_MS, temperature: CYCLE[k % CYCLE.length]! + (i % 7) / 10, humidity: 40 + (i % 13) });
  }

  /** The reading an alert names, from its key and deciding event time; -1 when it is not ours. */
  indexOf(key: unknown, at: unknown): number {
    if (typeof key !== 'string' || typeof at !== 'number' || !key.startsWith(`${this.prefix}-`)) return -1;
    const d = Number(key.slice(this.prefix.length + 1));
    return ((at - this.base) / PERIOD_MS) * DEVICES + d;
  }

  /** Counts an alert and samples its latency (µs) when its reading was in the measured part. */
  received(data: { key?: unknown; raisedAt?: unknown; resolvedAt?: unknown } | undefined, raised: boolean): number {
    const i = this.indexOf(data?.key, raised ? data?.raisedAt : data?.resolvedAt);
    if (i < 0 || i >= this.total) return -1;
    this.alerts++;
    if (i >= this.measuredFrom) this.samples.push((performance.now() - this.sentAt[i]!) * 1000);
    return i;
  }

  /** Alerts the readings [0, n) must produce: per device, a raise at cycle reading 5 and a resolve at 10. */
  expectedAlerts(n: number): number {
    let count = 0;
    for (let i = 0; i < n; i++) {
      const phase = Math.floor(i / DEVICES) % CYCLE.length;
      if (phase === 5 || phase === 10) count++;
    }
    return count;
  }
}

/** The example's pipeline file (without its sinks) with its services on a private memory broker; `mqtt` keeps devices and alerts on MQTT. */
function pipelineFile(memoryName: string, viaMqtt: boolean): Pipeline {
  const file = JSON.parse(readFileSync(join(here, '../../examples/iot-mqtt/pipeline.json'), 'utf8')) as Record<string, unknown> & { services: Array<{ kind: string }> };
  // The example's PostgreSQL sinks are measured on their own (sink-postgres), not in this scenario.
  file.services = file.services.filter((s) => s.kind !== 'sink');
  file.transports = viaMqtt ? { local: `memory://${memoryName}`, mqtt: `${MQTT_URL}?protocolVersion=4&qos=1` } : { local: `memory://${memoryName}` };
  file.routes = viaMqtt ? [{ pattern: 'devices.>', transport: 'mqtt' }, { pattern: 'alerts.>', transport: 'mqtt' }, { pattern: 'dlq.>', transport: 'mqtt' }] : [];
  return validatePipeline(file, nanoserviceConfigSchemas, 'examples/iot-mqtt/pipeline.json');
}

/** How many readings a service has handled, from its bus' metric fields (`event action` ending the field text). */
function handled(running: RunningPipeline, service: string, suffix: string): () => number {
  const bus = [...running.buses.entries()].find(([name]) => name.startsWith(`${service}@`))![1];
  return () => {
    let n = 0;
    for (const [text, t] of bus.metrics.totals()) if (text.endsWith(suffix)) n += t.count;
    return n;
  };
}

/** Waits until alert and aggregate have handled `n` readings and `alerts` alerts arrived; the time of that. */
async function drained(running: RunningPipeline, n: number, alertsDone: () => boolean, timeoutMs = 120_000): Promise<number> {
  const alert = handled(running, 'alert', ' received evaluated');
  const aggregate = handled(running, 'aggregate', ' received accepted');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (alert() >= n && aggregate() >= n && alertsDone()) return performance.now();
    if (Date.now() > deadline) throw new Error(`pipeline did not drain: alert ${alert()}, aggregate ${aggregate()} of ${n} readings`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function result(r: Readings, measured: number, t0: number, t1: number): Measurement {
  const samples = r.samples.sort((a, b) => a - b);
  return { msgs: measured, seconds: (t1 - t0) / 1000, p50_us: percentile(samples, 50), p99_us: percentile(samples, 99) };
}

/**
 * Sends readings [from, from + n) at `rate` per second (open loop, as devices do: they do not
 * wait for the pipeline), never more than WINDOW unsettled; a pipeline that cannot keep up
 * slows the sender, which then shows as a lower rate.
 */
async function paced(from: number, n: number, rate: number, send: (i: number) => Promise<void>): Promise<void> {
  const t0 = performance.now();
  let next = 0; let inFlight = 0; let failed: unknown;
  let wake: (() => void) | undefined;
  const settled = () => { inFlight--; wake?.(); };
  while (next < n) {
    if (failed !== undefined) throw failed;
    const due = Math.min(n, Math.floor(((performance.now() - t0) * rate) / 1000));
    while (next < due && inFlight < WINDOW) {
      inFlight++;
      send(from + next++).then(settled, (err: unknown) => { failed = err; settled(); });
    }
    if (inFlight >= WINDOW) await new Promise<void>((r) => { wake = r; });
    else await new Promise((r) => setTimeout(r, 1));
    wake = undefined;
  }
  while (inFlight > 0) await new Promise<void>((r) => { wake = r; });
  if (failed !== undefined) throw failed;
}

async function overMemory(measured: number, warmup: number, rate?: number): Promise<Measurement> {
  const memoryName = `bench-pipeline-${randomUUID().slice(0, 8)}`;
  const running = await startPipeline(pipelineFile(memoryName, false), { logger: quiet });
  const r = new Readings(warmup + measured, warmup);
  const payloads = Array.from({ length: r.total }, (_, i) => Buffer.from(r.payload(i)));
  const devices = new MemoryTransport({ broker: namedBroker(memoryName) });
  const sink = new MemoryTransport({ broker: namedBroker(memoryName) });
  let wrongCorrelation = 0;
  await sink.subscribe('alerts.>', (m) => {
    const env = m.envelope;
    const i = r.received(env.data as Record<string, unknown>, env.type === 'alert.raised');
    if (i >= 0 && env.correlationid !== `r-${i}`) wrongCorrelation++;
  }, { maxInFlight: 1 });
  // A device's payload as a raw (non-CloudEvents) message: the same made-up envelope the MQTT
  // transport hands a `raw: true` subscription.
  const send = (i: number): Promise<void> => {
    const subject = `devices.${r.device(i)}.telemetry`;
    const envelope: Envelope = {
      specversion: '1.0', id: `r-${i}`, source: `memory:/${subject}`, type: 'memory.raw', time: new Date().toISOString(),
      datacontenttype: 'application/json', data: payloads[i],
    };
    r.sentAt[i] = performance.now();
    return devices.publish(subject, envelope);
  };
  try {
    await windowed(warmup, WINDOW, send);
    const expectedWarmup = r.expectedAlerts(warmup);
    await drained(running, warmup, () => r.alerts >= expectedWarmup);
    const t0 = performance.now();
    if (rate === undefined) await windowed(measured, WINDOW, (i) => send(warmup + i));
    else await paced(warmup, measured, rate, send);
    const expected = r.expectedAlerts(r.total);
    const t1 = await drained(running, r.total, () => r.alerts >= expected);
    if (r.alerts !== expected) throw new Error(`expected ${expected} alerts, got ${r.alerts}`);
    if (wrongCorrelation > 0) throw new Error(`${wrongCorrelation} alerts do not carry their deciding reading's id as correlationid`);
    return result(r, measured, t0, t1);
  } finally {
    await Promise.all([devices.close(), sink.close()]);
    await running.stop();
  }
}

const connect = () => new Promise<MqttClient>((resolve, reject) => {
  const c = mqtt.connect(MQTT_URL, { protocolVersion: 4, clientId: `bench-pipeline-${randomUUID().slice(0, 8)}`, clean: true });
  c.once('connect', () => resolve(c));
  c.once('error', reject);
});

async function overMqtt(measured: number, warmup: number): Promise<Measurement> {
  const memoryName = `bench-pipeline-${randomUUID().slice(0, 8)}`;
  const running = await startPipeline(pipelineFile(memoryName, true), { logger: quiet });
  const r = new Readings(warmup + measured, warmup);
  const payloads = Array.from({ length: r.total }, (_, i) => Buffer.from(r.payload(i)));
  const devices = await connect();
  const watcher = await connect();
  watcher.on('message', (_topic, payload) => {
    const env = JSON.parse(payload.toString('utf8')) as Envelope;
    r.received(env.data as Record<string, unknown>, env.type === 'alert.raised');
  });
  await watcher.subscribeAsync('alerts/+', { qos: 1 });
  const send = (i: number) => new Promise<void>((resolve, reject) => {
    r.sentAt[i] = performance.now();
    devices.publish(`devices/${r.device(i)}/telemetry`, payloads[i]!, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
  });
  try {
    await windowed(warmup, WINDOW, send);
    const expectedWarmup = r.expectedAlerts(warmup);
    await drained(running, warmup, () => r.alerts >= expectedWarmup);
    const t0 = performance.now();
    await windowed(measured, WINDOW, (i) => send(warmup + i));
    const expected = r.expectedAlerts(r.total);
    const t1 = await drained(running, r.total, () => r.alerts >= expected);
    if (r.alerts !== expected) throw new Error(`expected ${expected} alerts, got ${r.alerts}`);
    return result(r, measured, t0, t1);
  } finally {
    await Promise.all([devices.endAsync(), watcher.endAsync()]);
    await running.stop();
  }
}

const MEMORY_N = 200_000;
const MQTT_N = 100_000;
/**
 * Offered 5% above the 20,000 readings/s: the measured rate runs from the first reading
 * to the last alert, so it lands a little under the rate offered.
 */
const TARGET_RATE = 21_000;

const scenarios: Scenario[] = [
  {
    name: 'pipeline-memory',
    description: `examples/iot-mqtt pipeline (ingest → filter → aggregate + alert, contracts on, each service its own Bus) over memory: ${MEMORY_N} raw JSON readings from ${DEVICES} devices, ${WINDOW} publishes in flight; p50/p99 = reading publish → the alert it decides (1 in 6 readings decides one). No raw baseline: no raw client does what a pipeline does`,
    run: () => overMemory(MEMORY_N, 20_000),
  },
  {
    name: 'pipeline-memory-20k',
    description: `the pipeline-memory pipeline fed at ${TARGET_RATE} readings/s, 5% above the 20k target (open loop, at most ${WINDOW} unsettled), ${MEMORY_N} readings: p50/p99 reading publish → alert at that rate. No raw baseline`,
    run: () => overMemory(MEMORY_N, 20_000, TARGET_RATE),
  },
  {
    name: 'pipeline-mqtt',
    description: `the same pipeline with devices and alerts on Mosquitto (services over memory): mqtt.js publishes ${MQTT_N} readings to devices/<id>/telemetry at QoS 1 (${WINDOW} unacked), alerts leave as structured CloudEvents on alerts/<id> at QoS 1; p50/p99 = reading publish → alert received by an mqtt.js subscriber. No raw baseline`,
    run: () => overMqtt(MQTT_N, 10_000),
  },
];

export default scenarios;
