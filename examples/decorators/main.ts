/**
 * Runs the decorated filter on the memory transport: publishes four readings, prints which were
 * forwarded and which dropped, and stops.
 *
 *   npx tsx examples/decorators/main.ts                                                      # legacy decorators (this repo's tsconfig)
 *   npx tsx --tsconfig examples/decorators/tsconfig.standard.json examples/decorators/main.ts  # standard decorators
 */
import { Bus, createLogger, startNanoservice } from '../../core/index.js';
import { MemoryTransport } from '../../transports/memory/index.js';
import { PlausibleReadingsFilter } from './plausible-readings-filter.js';

const bus = new Bus({ service: 'filter@example', transport: new MemoryTransport(), metrics: false, logger: createLogger({ level: 'warn' }) });
await startNanoservice(bus, new PlausibleReadingsFilter('sensor.valid'));
await bus.subscribe('sensor.valid.>', async (m, ctx) => { console.log(`forwarded on ${ctx.subject}:`, m.data); });

for (const temperature of [21, 500, -60, 80]) {
  await bus.publish('sensor.reading.d1', { deviceId: 'd1', temperature }, { type: 'sensor.reading', partitionKey: 'd1' });
}
await bus.stop();
for (const [field, total] of bus.metrics.totals()) if (total.count > 0) console.log(`${field}: ${total.count}`);
