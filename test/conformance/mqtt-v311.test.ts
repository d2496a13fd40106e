import { MqttTransport } from '../../transports/mqtt/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { runConformance } from './suite.js';
import { silentLogger } from '../helpers/silent-logger.js';

describe('mqtt v3.1.1 (mosquitto)', function () {
  before(async function () { await requireBroker(this, 'mosquitto'); });
  runConformance({ name: 'mqtt-v311', create: () => new MqttTransport({ url: 'mqtt://127.0.0.1:1883', protocolVersion: 4, logger: silentLogger }) });
});
