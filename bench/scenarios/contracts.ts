/**
 * What contract enforcement costs per message on the memory transport (no serialisation, so
 * the validation share is as large as it can be). `raw` here is the same Bus publish and
 * subscribe without contracts: ratio = validated / unvalidated throughput, and the target
 * (validation adds at most 25% per message) is a ratio of at least 0.8.
 */
import { Bus, createLogger } from '../../core/index.js';
import { ContractRegistry } from '../../contracts/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { sensorReading, until, windowed, type Measurement, type Scenario } from '../harness.js';

const MESSAGES = 200_000;
const WARMUP = 20_000;
const WINDOW = 64;
const ROUNDS = 5;
const registry = new ContractRegistry();

interface Variant {
  contracts: boolean;
  contentType?: string;
  version?: string;
  accept?: string;
  payload(i: number): unknown;
}

const v1Reading = (i: number) => ({ sensor: `sensor-${i % 20}`, timestamp: new Date(1_763_000_000_000 + i).toISOString(), temp: 21.5 + (i % 10) / 10, rh: 40 + (i % 7), location: 'berlin' });

/** Publishes `n` readings through one Bus to a subscriber on another; resolves when all arrived. */
async function pass(v: Variant, n: number): Promise<number> {
  const broker = new MemoryBroker();
  const logger = createLogger({ level: 'silent' });
  const hooks = v.contracts ? registry.hooks() : undefined;
  const producer = new Bus({ service: 'bench-producer', transport: new MemoryTransport({ broker }), metrics: false, contracts: hooks, logger });
  const consumer = new Bus({ service: 'bench-consumer', transport: new MemoryTransport({ broker }), metrics: false, contracts: hooks, logger });
  let received = 0;
  await consumer.subscribe('sensor.reading.>', async () => { received++; }, { accept: v.accept });
  const payloads = Array.from({ length: 1000 }, (_, i) => v.payload(i));
  const options = { type: 'sensor.reading', contentType: v.contentType, version: v.version };
  const t0 = performance.now();
  await windowed(n, WINDOW, (i) => producer.publish('sensor.reading.berlin', payloads[i % 1000], options));
  await until(() => received >= n);
  const seconds = (performance.now() - t0) / 1000;
  await producer.stop();
  await consumer.stop();
  return seconds;
}

/**
 * Validated and unvalidated rounds alternate (best of each after a warm-up), so drift in the
 * machine's load hits both alike: the memory transport is CPU-bound and GC-noisy, and the two
 * cores are shared. The harness asks for `raw()` then `run()`; both read one measurement.
 */
function paired(validated: Variant, unvalidated: Variant): { run(): Promise<Measurement>; raw(): Promise<Measurement> } {
  let result: Promise<{ validated: Measurement; unvalidated: Measurement }> | undefined;
  const measure = () => (result ??= (async () => {
    await pass(validated, WARMUP);
    await pass(unvalidated, WARMUP);
    let a = Infinity, b = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      b = Math.min(b, await pass(unvalidated, MESSAGES));
      a = Math.min(a, await pass(validated, MESSAGES));
    }
    return { validated: { msgs: MESSAGES, seconds: a }, unvalidated: { msgs: MESSAGES, seconds: b } };
  })());
  return { run: async () => (await measure()).validated, raw: async () => (await measure()).unvalidated };
}

const scenarios: Scenario[] = [
  {
    name: 'contracts-validate-json',
    description: 'memory: publish + consume sensor.reading 2.0.0 (JSON) validated on both sides (ajv) vs the same Bus without contracts; target ratio >= 0.8',
    ...paired({ contracts: true, accept: '^2', payload: sensorReading }, { contracts: false, payload: sensorReading }),
  },
  {
    name: 'contracts-validate-protobuf',
    description: 'memory: sensor.reading 2.0.0 validated and encoded/decoded as application/protobuf vs the same Bus without contracts (JSON objects, no encoding)',
    ...paired({ contracts: true, accept: '^2', contentType: 'application/protobuf', payload: sensorReading }, { contracts: false, payload: sensorReading }),
  },
  {
    name: 'contracts-upcast-v1',
    description: 'memory: sensor.reading 1.0.0 published, validated, upcast to 2.0.0 and revalidated for a consumer accepting ^2 vs the same Bus without contracts',
    ...paired({ contracts: true, accept: '^2', version: '1.0.0', payload: v1Reading }, { contracts: false, payload: v1Reading }),
  },
];

export default scenarios;
