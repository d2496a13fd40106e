import { Bus } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { latencies, percentile, sensorReading, until, windowed, type Measurement, type Scenario } from '../harness.js';

const N = 300_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const payloads = Array.from({ length: 1000 }, (_, i) => sensorReading(i));

function makeBus(broker: MemoryBroker, service: string): Bus {
  return new Bus({ service: `${service}@bench`, transport: new MemoryTransport({ broker }), metrics: false, logger: quiet });
}

/**
 * publish → handler on the memory transport, 64 publishes in flight, after a warm-up of 20k
 * publishes: made the same way (`windowed`), or all at once (`burst`), which fills the
 * subscription's queue (1000 pending, the rest of the publishers waiting for room).
 */
async function publishHandler(warmUp: 'windowed' | 'burst'): Promise<{ msgs: number; seconds: number }> {
  const broker = new MemoryBroker();
  const bus = makeBus(broker, 'mem');
  let got = 0;
  await bus.subscribe('bench.mem', async () => { got++; }, { maxInFlight: 64 });
  await bus.start();
  // warm up the JIT before timing
  if (warmUp === 'windowed') await windowed(20_000, 64, (i) => bus.publish('bench.mem', payloads[i % 1000]));
  else for (let i = 0; i < 20_000; i++) void bus.publish('bench.mem', payloads[i % 1000]);
  await until(() => got === 20_000);
  got = 0;
  const t0 = performance.now();
  await windowed(N, 64, (i) => bus.publish('bench.mem', payloads[i % 1000]));
  await until(() => got === N);
  const seconds = (performance.now() - t0) / 1000;
  await bus.stop();
  return { msgs: N, seconds };
}

const scenarios: Scenario[] = [
  {
    name: 'memory-publish-handler',
    description: `publish → handler throughput on the memory transport, no validation, ${N} messages, 64 publishes in flight, after a warm-up made the same way (no raw baseline: memory is in-process)`,
    run: () => publishHandler('windowed'),
  },
  {
    name: 'memory-publish-after-burst',
    description: `memory-publish-handler after a warm-up of 20k publishes made at once, which fills the subscription's queue: until stop 30, V8 pretenured per-message object literals after it and about one process in two then ran at ~750k msg/s (RESULTS.md, stop 30)`,
    run: () => publishHandler('burst'),
  },
  {
    name: 'memory-request-reply',
    description: 'request/reply round trips on the memory transport, 1 in flight (latency), 20000 after 2000 untimed — p50/p99 in µs',
    run: () => requestReply(2000),
  },
  {
    name: 'memory-request-reply-warm',
    description: 'as memory-request-reply after 40000 untimed round trips instead of 2000: the steady state. memory-request-reply runs in a fresh process, and its p99 (25-53 µs on the AMD EPYC) falls as the process warms up: run five times in one process it measured 28, 27, 8, 6, 6 µs. Scavenges (every ~10 ms, 0.2-0.4 ms each) touch too few round trips to reach the p99; what remains is warm-up, most likely V8 still optimizing the request path (RESULTS.md, stop 34)',
    run: () => requestReply(40_000),
  },
];

export default scenarios;

/** 20,000 request/reply round trips one at a time after `warm` untimed ones: the rate and p50/p99. */
async function requestReply(warm: number): Promise<Measurement> {
  const broker = new MemoryBroker();
  const server = makeBus(broker, 'server');
  const client = makeBus(broker, 'client');
  await server.subscribe('bench.rr', async (m) => m.data);
  await client.start();
  const n = 20_000;
  await latencies(warm, 1, (i) => client.request('bench.rr', payloads[i % 1000]));
  const t0 = performance.now();
  const samples = await latencies(n, 1, (i) => client.request('bench.rr', payloads[i % 1000]));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all([server.stop(), client.stop()]);
  return { msgs: n, seconds, p50_us: percentile(samples, 50), p99_us: percentile(samples, 99) };
}
