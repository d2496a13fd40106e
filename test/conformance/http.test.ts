import { Bus, type Logger } from '../../core/index.js';
import { HttpGateway } from '../../gateway/index.js';
import { HttpTransport } from '../../transports/http/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { runConformance } from './suite.js';
import { silentLogger } from '../helpers/silent-logger.js';

// HTTP as a point-to-point transport between buses: every bus under test talks to one gateway,
// whose own bus runs on an in-process broker.
let gatewayBus: Bus | undefined;
let gateway: HttpGateway | undefined;
let url = '';

runConformance({
  name: 'http',
  async before() {
    gatewayBus = new Bus({ service: 'gateway@conf', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    // The buses behind HttpTransport are trusted services: they relay tenants their own ingress stamped.
    gateway = new HttpGateway({ bus: gatewayBus, trustClientTenant: true });
    url = (await gateway.start()).url;
  },
  async after() {
    await gateway?.close();
    await gatewayBus?.stop();
  },
  create: () => new HttpTransport({ url }),
});
