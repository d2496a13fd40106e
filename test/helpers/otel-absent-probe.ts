/**
 * Run without `@opentelemetry/api` (`node --import tsx --import ./test/helpers/without-otel-api.mjs`):
 * a Bus starts, publishes and handles as usual; prints `ok <traceparent>` or the error.
 */
import { Bus, type Envelope } from '../../core/index.js';
import { MemoryTransport } from '../../transports/memory/index.js';
import { silentLogger } from './silent-logger.js';

const missing = await import('@opentelemetry/api').then(() => false, () => true);
const bus = new Bus({ service: 'probe', transport: new MemoryTransport(), metrics: false, logger: silentLogger });
const got: Envelope[] = [];
await bus.subscribe('probe.>', (m) => { got.push(m); });
await bus.publish('probe.one', { n: 1 });
for (let i = 0; i < 200 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
await bus.stop();
console.log(missing && got.length === 1 ? `ok ${String(got[0]!.traceparent)}` : `not ok: api missing ${missing}, delivered ${got.length}`);
