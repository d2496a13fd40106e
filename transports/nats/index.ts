import { registerTransport } from '../../core/index.js';
import { NatsTransport } from './nats-transport.js';
import { natsOptionsFromUrl } from './options.js';

export * from './nats-transport.js';
export * from './options.js';
export * from './binding.js';
export { NatsJetStreamError } from './errors.js';

/**
 * `nats://host:port` = core NATS; `nats://host:port?jetstream=1&stream=NAME&subjects=a.>,dlq.a.>` = JetStream;
 * `tls://host:port` (NATS' own scheme for it) or `tls=1` requires TLS, `caFile=…` names a private CA.
 */
registerTransport('nats', (url) => new NatsTransport(natsOptionsFromUrl(url)));
registerTransport('tls', (url) => new NatsTransport(natsOptionsFromUrl(url)));
