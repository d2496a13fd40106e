import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/index.js';
import { transportFromUrl } from '../../transports/index.js';
import { runConformance } from './suite.js';

let broker: EmbeddedBroker | undefined;

// aedes speaks MQTT 3.1.1 without shared subscriptions: the transport declares no consumer groups there.
runConformance({
  name: 'mqtt-embedded',
  before: async () => { broker = await startEmbeddedBroker({ port: 0 }); },
  after: async () => { await broker?.stop(); },
  create: () => transportFromUrl(broker!.url),
});
