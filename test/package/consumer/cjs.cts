// A CommonJS consumer: compiles to require('signalbus'), which needs require(esm) (Node 20.19+ / 22.12+).
import { Bus, createLogger, defineNanoservice, startNanoservice } from 'signalbus';
import { MemoryBroker, MemoryTransport } from 'signalbus/transports/memory';

async function main(): Promise<void> {
  const bus = new Bus({ service: 'consumer@cjs', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: createLogger({ level: 'silent' }) });
  await startNanoservice(bus, defineNanoservice({
    name: 'doubler', subscriptions: [{ pattern: 'math.double', kind: 'request', handler: async (m) => (m.data as number) * 2 }],
  }));
  const reply = await bus.request('math.double', 21, { timeoutMs: 2000 });
  if (reply.data !== 42) throw new Error(`consumer check failed: the request is answered, got ${String(reply.data)}`);
  await bus.stop();
  console.log('cjs ok');
}
// An unhandled rejection ends the process with a non-zero code.
void main();
