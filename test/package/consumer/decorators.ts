// One decorated service, compiled twice: as a TypeScript 5+ project writes decorators by default
// (tsconfig.json: standard decorators) and with experimentalDecorators (tsconfig.legacy.json).
import { Bus, createLogger, Nanoservice, Request, startNanoservice, Subscribe, type Envelope, type HandlerContext } from 'signalbus';
import { MemoryBroker, MemoryTransport } from 'signalbus/transports/memory';

// No node:assert: this project has no @types/node of its own, so every node type it sees comes
// through signalbus' declarations.
function check(ok: boolean, what: string): void { if (!ok) throw new Error(`consumer check failed: ${what}`); }

@Nanoservice({ name: 'greeter', version: '1.0.0' })
class Greeter {
  readonly seen: string[] = [];
  @Subscribe('greet.event')
  async onEvent(m: Envelope<string>, _ctx: HandlerContext): Promise<void> { this.seen.push(m.data ?? ''); }
  @Request('greet.ask')
  async answer(m: Envelope<string>): Promise<string> { return `hello ${m.data}`; }
}

const bus = new Bus({ service: 'consumer@decorators', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: createLogger({ level: 'silent' }) });
const greeter = new Greeter();
await startNanoservice(bus, greeter);
await bus.publish('greet.event', 'one');
check((await bus.request('greet.ask', 'you', { timeoutMs: 2000 })).data === 'hello you', 'the request is answered');
check(greeter.seen.join() === 'one', `the event is handled once, seen ${greeter.seen.join()}`);
await bus.stop();
console.log('decorators ok');
