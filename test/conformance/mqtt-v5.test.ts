import { MqttTransport } from '../../transports/mqtt/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { MOSQUITTO, ownMosquitto, testPort, type OwnMosquitto } from '../helpers/own-mosquitto.js';
import { runConformance, type BrokerRestartTarget } from './suite.js';
import { silentLogger } from '../helpers/silent-logger.js';

const url = 'mqtt://127.0.0.1:1883';

/**
 * For the restart case: a Mosquitto of our own with persistence (saved on SIGTERM) and a queue
 * limit above the stream (the default 1000 drops QoS 1 messages silently). Not grouped: Mosquitto
 * 2.0.11 does not route to $share subscriptions restored after a restart (README, "Limits").
 */
function ownBroker(): BrokerRestartTarget {
  let broker: OwnMosquitto | undefined;
  let n = 0;
  const run = Math.random().toString(36).slice(2, 8);
  return {
    executable: MOSQUITTO,
    group: false,
    start: async () => {
      broker = ownMosquitto({ port: testPort(31_000), config: ['persistence true', 'max_queued_messages 100000'] });
      await broker.start();
    },
    create: () => new MqttTransport({
      url: `mqtt://127.0.0.1:${broker!.port}`, qos: 1, clean: false, clientId: `conf-restart-${run}-${n++}`, sessionExpirySeconds: 120, logger: silentLogger,
    }),
    restart: async () => { await broker!.stop(); await broker!.start(); },
    stop: async () => { await broker?.dispose(); },
  };
}

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
    restart: ownBroker(),
  });
});
