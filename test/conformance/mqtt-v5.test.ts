import { MqttTransport } from '../../transports/mqtt/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { runConformance } from './suite.js';
import { silentLogger } from '../helpers/silent-logger.js';

const url = 'mqtt://127.0.0.1:1883';

describe('mqtt v5 (mosquitto)', function () {
  before(async function () { await requireBroker(this, 'mosquitto'); });

  runConformance({ name: 'mqtt-v5', create: () => new MqttTransport({ url, logger: silentLogger }) });

  // Durable mode: QoS 1 persistent sessions. Each transport leases a stable client id (as a
  // service instance keeps its id across restarts); a released id is reused by the next
  // transport, which finds the sessions, and the messages kept for them, again.
  const run = Math.random().toString(36).slice(2, 8);
  const free: number[] = [];
  let next = 0;
  runConformance({
    name: 'mqtt-v5-durable',
    create: () => {
      const n = free.length > 0 ? free.sort((a, b) => a - b).shift()! : next++;
      const t = new MqttTransport({ url, qos: 1, clean: false, clientId: `conf-${run}-${n}`, sessionExpirySeconds: 120, logger: silentLogger });
      const close = t.close.bind(t);
      let released = false;
      t.close = async () => { await close(); if (!released) { released = true; free.push(n); } };
      return t;
    },
  });
});
