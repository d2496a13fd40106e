/**
 * MQTT QoS 0 with a slow handler (issue 20, item 1). The transport reads the next PUBLISH only
 * when the Bus has room for the last one (packet-stream.ts pauses the socket), so the queue stays
 * within maxInFlight + maxPending whatever the publisher does; what the subscriber cannot take
 * waits in Mosquitto, which drops QoS 0 for a client that does not read (its own slow-consumer
 * policy), never in this process. Nothing is dropped here, so nothing is counted as `intake dropped`.
 * While held, the broker's PINGRESP waits behind the flood in TCP: the transport pings by hand and
 * keeps mqtt.js from calling the live connection dead (the soak saw a reconnect every 45 s).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { Bus } from '../../core/index.js';
import { MqttTransport } from '../../transports/mqtt/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { intakeDropped, LoadWatch, slowSubscriber, warningLog } from '../helpers/intake-watch.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('intake bound: mqtt QoS 0', function () {
  this.timeout(20_000);
  const watch = new LoadWatch();
  const cleanups: Array<() => Promise<unknown>> = [];
  before(async function () { await requireBroker(this, 'mosquitto'); });
  afterEach(async () => { watch.stop(); for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); });

  for (const protocolVersion of [5, 4] as const) {
    it(`mqtt v${protocolVersion === 5 ? 5 : '3.1.1'} - a slow QoS 0 subscriber under a flood keeps its queue within maxInFlight + maxPending and goes on handling`, async () => {
      const prefix = `intake-${randomUUID().slice(0, 8)}`;
      const { logger, warnings } = warningLog();
      // A short keepalive: the broker's PINGRESP waits behind the flood in TCP while the socket is paused.
      const bus = new Bus({ service: 'slow@test', transport: new MqttTransport({ url: 'mqtt://127.0.0.1:1883', protocolVersion, qos: 0, keepaliveSeconds: 1, logger }), metrics: false, logger });
      cleanups.push(() => bus.stop());
      const n = 20_000;
      const { bound, handled, speedUp } = await slowSubscriber(bus, prefix, watch);
      const plain = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { protocolVersion });
      cleanups.push(() => plain.endAsync());
      const body = Buffer.from(JSON.stringify({ temperature: 21.5, pad: 'x'.repeat(100) }));
      const started = Date.now();
      for (let i = 0; i < n; i++) {
        plain.publish(`${prefix}/dev${i % 10}`, body, { qos: 0 });
        if (i % 500 === 499) await sleep(0);
      }
      // Let the flood meet the slow handler for a while, checking the bound meanwhile.
      await waitFor(() => Date.now() - started > 4000 || watch.most > bound + 1, { timeoutMs: 10_000, what: 'four seconds of flood (past keepalive x 1.5)' });
      expect(watch.most, 'most held at once').to.be.at.most(bound + 1);
      expect(watch.mostWaiting, 'handed over while full').to.be.at.most(1);
      expect(handled(), 'handled meanwhile').to.be.greaterThan(50);
      // The process goes on: once the handler is fast again, what Mosquitto kept arrives, then a new message.
      speedUp();
      const after = Buffer.from('{"after":true}');
      let sawAfter = false;
      await bus.subscribe(`${prefix}.after`, async () => { sawAfter = true; }, { raw: true });
      await plain.publishAsync(`${prefix}/after`, after, { qos: 0 });
      await waitFor(() => sawAfter, { timeoutMs: 10_000, what: 'a message after the flood' });
      expect(intakeDropped(bus), 'the transport pushes back: it drops nothing itself').to.equal(0);
      expect(warnings.map((w) => w.msg), 'the connection stayed up while held').to.not.include('mqtt connection lost; reconnecting');
    });
  }
});
