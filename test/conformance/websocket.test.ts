import { Bus } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { WebSocketHub } from '../../hub/index.js';
import { WebSocketTransport } from '../../transports/websocket/index.js';
import { runConformance } from './suite.js';
import { silentLogger } from '../helpers/silent-logger.js';

let hub: WebSocketHub;
let hubBus: Bus;

runConformance({
  name: 'websocket',
  async before() {
    hubBus = new Bus({ service: 'hub@conf', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    hub = new WebSocketHub({ bus: hubBus, port: 0, logger: silentLogger });
    await hub.listen();
  },
  create: () => new WebSocketTransport({ url: hub.url, logger: silentLogger }),
  async after() {
    await hub.close();
    await hubBus.stop();
  },
});
