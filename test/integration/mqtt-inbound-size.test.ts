/**
 * MQTT 3.1.1 cannot tell the broker the subscriber's `maxMessageBytes` (MQTT 5 announces it as
 * Maximum Packet Size and Mosquitto then never sends a longer packet). So against the real
 * Mosquitto a plain 3.1.1 publisher can reach a 3.1.1 subscriber with a message of any size: the
 * subscriber skips it unread, acknowledges it, dead-letters a truncated copy with
 * SB_ERR_MESSAGE_TOO_LARGE, and keeps its connection and the messages after it.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { Bus, type Envelope } from '../../core/index.js';
import { MqttTransport, mqttOptionsFromUrl, toMqttStructured } from '../../transports/mqtt/index.js';
import { oversizeHeadBytes } from '../../transports/mqtt/connection.js';
import { requireBroker } from '../helpers/brokers.js';
import { warningLog } from '../helpers/intake-watch.js';
import { waitFor } from '../helpers/wait.js';

const BROKER = 'mqtt://127.0.0.1:1883';

describe('mqtt 3.1.1 - a message longer than maxMessageBytes (Mosquitto)', function () {
  this.timeout(20_000);
  const cleanups: Array<() => Promise<unknown>> = [];
  before(async function () { await requireBroker(this, 'mosquitto'); });
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); });

  const maxMessageBytes = 4096;
  const event = (id: string) => toMqttStructured({
    specversion: '1.0', id, source: 'urn:test', type: 'reading', datacontenttype: 'application/json', data: new TextEncoder().encode(`{"n":"${id}"}`),
  }).payload;

  for (const qos of [0, 1, 2] as const) {
    it(`mqtt v3.1.1 QoS ${qos} - a 1 MiB message is skipped unread and dead-lettered SB_ERR_MESSAGE_TOO_LARGE; the connection stays up and the next messages are handled`, async () => {
      const prefix = `size${randomUUID().slice(0, 8)}`;
      const { logger, warnings } = warningLog();
      // The subscriber as a pipeline or the CLI names it: a 3.1.1 URL with a small bound.
      const options = mqttOptionsFromUrl(new URL(`${BROKER}?protocolVersion=4&qos=${qos}&maxMessageBytes=${maxMessageBytes}`));
      expect(options).to.include({ protocolVersion: 4, qos, maxMessageBytes });
      const transport = new MqttTransport({ ...options, logger });
      const bus = new Bus({ service: 'size@test', transport, metrics: false, logger });
      cleanups.push(() => bus.stop());
      const handled: string[] = [];
      const deadLetters: Envelope[] = [];
      await bus.subscribe(`${prefix}.in`, (m: Envelope) => { handled.push(m.id); });
      await bus.subscribe(`dlq.${prefix}.in`, (m: Envelope) => { deadLetters.push(m); }, { raw: true });
      await bus.start();

      const publisher = await mqtt.connectAsync(BROKER, { protocolVersion: 4, clientId: `size-pub-${randomUUID().slice(0, 8)}` });
      cleanups.push(() => publisher.endAsync());
      const payload = Buffer.alloc(1024 * 1024, 'z');
      payload.write('{"specversion":"1.0","huge":"', 0);
      await publisher.publishAsync(`${prefix}/in`, payload, { qos });
      for (const id of ['a', 'b', 'c']) await publisher.publishAsync(`${prefix}/in`, event(id), { qos });

      await waitFor(() => handled.length === 3 && deadLetters.length === 1, {
        timeoutMs: 10_000, what: () => `the three messages and one dead letter (handled ${handled}, ${deadLetters.length} dead letters)`,
      });
      expect(handled).to.deep.equal(['a', 'b', 'c']);
      const dl = deadLetters[0]!;
      expect(dl).to.include({
        dlqreason: 'SB_ERR_MESSAGE_TOO_LARGE', dlqsubject: `${prefix}.in`, dlqtruncated: String(payload.length), datacontenttype: 'application/octet-stream',
      });
      expect(dl.dlqmessage).to.include(`${prefix}/in`);
      const head = Buffer.from(dl.data as Uint8Array);
      expect(head.length, 'the head of the payload, bounded').to.equal(oversizeHeadBytes(maxMessageBytes));
      expect(head.equals(payload.subarray(0, head.length))).to.equal(true);

      // Logged with subject, reason and size; never a lost connection.
      const logged = warnings.find((w) => w.msg === 'message dead-lettered');
      expect(logged?.fields).to.include({ subject: `${prefix}.in`, reason: 'SB_ERR_MESSAGE_TOO_LARGE', truncated: payload.length });
      expect(warnings.map((w) => w.msg)).to.not.include('mqtt connection lost; reconnecting');
      expect(transport.capabilities.maxMessageBytes).to.equal(maxMessageBytes);

      // Acknowledged (QoS 1/2): nothing comes again, and later messages still flow on the same connection.
      await publisher.publishAsync(`${prefix}/in`, event('d'), { qos });
      await waitFor(() => handled.length === 4, { timeoutMs: 5000, what: () => `the fourth message (handled ${handled})` });
      expect(deadLetters).to.have.length(1);
      expect(warnings.map((w) => w.msg)).to.not.include('mqtt connection lost; reconnecting');
    });
  }
});
