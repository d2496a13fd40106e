/**
 * The memory transport: in-process, the reference every other transport is measured against.
 * Registers `memory:` with `transportFromUrl`: `memory://` is the process-wide `default`
 * broker, `memory://<name>` the broker of that name.
 *
 * @example
 * const t = await transportFromUrl('memory://tests');   // a MemoryTransport on broker `tests`
 */
import { registerTransport } from '../../core/index.js';
import { MemoryTransport } from './memory-transport.js';
import { memoryOptionsFromUrl } from './options.js';

export * from './binding.js';
export * from './broker.js';
export * from './options.js';
export * from './memory-transport.js';
export { MemorySubscription } from './subscription.js';

registerTransport('memory', (url) => new MemoryTransport(memoryOptionsFromUrl(url)));
