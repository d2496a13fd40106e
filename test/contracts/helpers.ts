import { Bus, type Envelope } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { ContractRegistry } from '../../contracts/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

/** One registry for the suites: compiling the standard contracts once keeps them fast. */
export const registry = new ContractRegistry();

/** Buses on one fresh in-memory broker; every bus is stopped by `stopAll`. */
export function memoryWorld() {
  const broker = new MemoryBroker();
  const buses: Bus[] = [];
  const bus = (service: string, withContracts = true) => {
    const b = new Bus({ service, transport: new MemoryTransport({ broker }), metrics: false, contracts: withContracts ? registry.hooks() : undefined, retry: { maxAttempts: 1 }, logger: silentLogger });
    buses.push(b);
    return b;
  };
  return { broker, bus, stopAll: () => Promise.all(buses.map((b) => b.stop())) };
}

/** Collects envelopes and resolves `next(n)` once n have arrived (or rejects after a timeout). */
export function collector() {
  const got: Envelope[] = [];
  const handler = async (m: Envelope) => { got.push(m); };
  const next = async (n = 1, timeoutMs = 2000) => {
    await waitFor(() => got.length >= n, { timeoutMs, what: () => `${n} messages (got ${got.length})` });
    return got;
  };
  return { got, handler, next };
}

export const readingV2 = { deviceId: 'sensor-7', ts: 1763020800000, temperature: 21.5, humidity: 40, site: 'berlin' };
export const readingV1 = { sensor: 'sensor-7', timestamp: '2025-11-13T08:00:00.000Z', temp: 21.5, rh: 40, location: 'berlin' };
