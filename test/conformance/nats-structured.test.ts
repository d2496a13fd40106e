import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { runConformance } from './suite.js';

describe('nats-core-structured', function () {
  before(async function () { await requireBroker(this, 'nats'); });
  runConformance({ name: 'nats-core-structured', create: () => new NatsTransport({ servers: 'nats://127.0.0.1:4222', contentMode: 'structured' }) });
});
