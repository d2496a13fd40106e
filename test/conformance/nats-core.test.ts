import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { runConformance } from './suite.js';

describe('nats-core', function () {
  before(async function () { await requireBroker(this, 'nats'); });
  runConformance({ name: 'nats-core', create: () => new NatsTransport({ servers: 'nats://127.0.0.1:4222' }) });
});
