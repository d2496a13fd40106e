// An ESM consumer: the core, a contract, transports registered by import.
import { Bus, createLogger, registeredSchemes, transportFromUrl, type Envelope } from 'signalbus';
import { ContractRegistry, assertCompatible } from 'signalbus/contracts';
import { MemoryBroker, MemoryTransport } from 'signalbus/transports/memory';

// No node:assert: this project has no @types/node of its own, so every node type it sees comes
// through signalbus' declarations.
function check(ok: boolean, what: string): void { if (!ok) throw new Error(`consumer check failed: ${what}`); }

// Before 'signalbus/transports' is imported only memory (registered by the import above) is
// known, and the error for another scheme says what to import.
const unknown = await transportFromUrl('amqp://127.0.0.1:5672').then(() => undefined, (err: unknown) => err as { code?: string; details?: { hint?: string } });
check(unknown?.code === 'SB_ERR_TRANSPORT_UNKNOWN', `unknown scheme code ${unknown?.code}`);
check(/signalbus\/transports/.test(unknown?.details?.hint ?? ''), 'the unknown-scheme error names signalbus/transports');
await import('signalbus/transports');
check(['amqp', 'http', 'memory', 'mqtt', 'nats', 'ws'].every((s) => registeredSchemes().includes(s)), `registered: ${registeredSchemes().join()}`);

// A contract from the packaged standard schemas: valid data flows, invalid data is refused.
const registry = new ContractRegistry();
const bus = new Bus({
  service: 'consumer@esm', transport: new MemoryTransport({ broker: new MemoryBroker() }),
  metrics: false, contracts: registry.hooks(), logger: createLogger({ level: 'silent' }),
});
const received: Envelope[] = [];
await bus.subscribe('sensor.reading.>', async (m) => { received.push(m); }, { accept: '^2' });
await bus.publish('sensor.reading.berlin', { deviceId: 'd1', ts: 1, temperature: 21.5, humidity: 40 }, { type: 'sensor.reading' });
const refused = await bus.publish('sensor.reading.berlin', { deviceId: 'd1' }, { type: 'sensor.reading' }).then(() => undefined, (err: { code?: string }) => err.code);
check(refused === 'SB_ERR_CONTRACT_INVALID', `invalid data refused, got ${refused}`);
for (let i = 0; i < 200 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
check(received.length === 1, `one valid reading delivered, got ${received.length}`);
check(/sensor\.reading:2\./.test(received[0]?.dataschema ?? ''), 'dataschema stamped with 2.x');
assertCompatible(registry.get('sensor.reading', '1.0.0'), registry.get('sensor.reading', '1.0.0'), 'FULL');
await bus.stop();
console.log('esm ok');
