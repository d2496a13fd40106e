/**
 * Registers the `redis:` (and `rediss:` for TLS) URL scheme with core, so
 * `transportFromUrl('redis://127.0.0.1:6379?keyPrefix=app1:')` builds a Redis Streams transport.
 * Import this module once; it is an example and deliberately not among the built-in transports.
 *
 * @example
 * import './examples/custom-transport/index.js';
 * const transport = await transportFromUrl('redis://127.0.0.1:6379');
 */
import { registerTransport } from '../../core/index.js';
import { redisStreamsOptionsFromUrl } from './options.js';
import { RedisStreamsTransport } from './redis-streams-transport.js';

export * from './binding.js';
export * from './options.js';
export * from './redis-streams-transport.js';

const factory = (url: URL) => new RedisStreamsTransport(redisStreamsOptionsFromUrl(url));
registerTransport('redis', factory);
registerTransport('rediss', factory);
