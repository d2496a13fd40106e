import { registerTransport } from '../../core/index.js';
import { MemoryTransport, namedBroker } from './memory-transport.js';

export * from './memory-transport.js';

registerTransport('memory', (url) => new MemoryTransport({ broker: namedBroker(url.hostname || 'default') }));
