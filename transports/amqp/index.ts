/// <reference types="node" preserve="true" />
import { registerTransport } from '../../core/index.js';
import { AmqpTransport } from './amqp-transport.js';
import { optionsFromUrl } from './options.js';

export * from './amqp-transport.js';
export * from './binding.js';
export * from './options.js';
export * from './topology.js';
export { ChannelPublisher } from './publisher.js';

// `amqp://guest:guest@127.0.0.1:5672/?durable=1&exchange=signalbus`; `amqps://` for TLS.
registerTransport('amqp', (url) => new AmqpTransport(optionsFromUrl(url)));
registerTransport('amqps', (url) => new AmqpTransport(optionsFromUrl(url)));
