/// <reference types="node" preserve="true" />
import { registerTransport } from '../../core/index.js';
import { AmqpTransport } from './amqp-transport.js';
import { amqpOptionsFromUrl } from './options.js';

export * from './amqp-transport.js';
export * from './binding.js';
export * from './options.js';
export * from './topology.js';
export { ChannelPublisher } from './publisher.js';

export { amqpConnectError, openAmqpConnection } from './connect.js';
export { describeTlsFailure } from './tls.js';

// `amqp://guest:guest@127.0.0.1:5672/?durable=1&exchange=signalbus`; `amqps://` for TLS.
const fromUrl = (url: URL) => new AmqpTransport(amqpOptionsFromUrl(url));
registerTransport('amqp', fromUrl);
registerTransport('amqps', fromUrl);
