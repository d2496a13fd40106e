import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { runConformance } from './suite.js';

const broker = new MemoryBroker();
runConformance({ name: 'memory', create: () => new MemoryTransport({ broker }) });
