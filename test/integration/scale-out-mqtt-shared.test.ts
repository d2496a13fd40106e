import { expect } from 'chai';
import amqp, { type ChannelModel } from 'amqplib';
import mqtt from 'mqtt';
import { randomUUID } from 'node:crypto';
import { startPipeline, type RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { createLogger } from '../../core/index.js';
import { amqpScalePipeline, collectOutputs, deleteScaledPipeline, expectEachReadingOnce, readingsInWindows, type ScaledInput } from '../helpers/amqp-scale.js';
import { requireBroker } from '../helpers/brokers.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { sleep, waitFor } from '../helpers/wait.js';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const PARTITIONS = 4;
const logger = process.env.SCALE_DEBUG ? createLogger({ level: 'info' }) : silentLogger;

/**
 * MQTT devices feeding a pipeline scaled on RabbitMQ: the ingest of each instance is a member of
 * the shared subscription `$share/<pipeline>.ingest/…` on the machine's Mosquitto, so the broker
 * hands each reading to one of them, and they forward into the partitioned stream. Every reading
 * ends up in exactly one window, and each instance ingested a share.
 */
describe('scale-out: MQTT device input shared by the ingest instances ($share)', function () {
  this.timeout(90_000);
  const suffix = randomUUID().slice(0, 8);
  const pipelineName = `scale-mqtt-${suffix}`;
  const exchange = `sb-scale-${suffix}`;
  const ns = `sm${suffix}`;
  const inputs: ScaledInput[] = [
    // The refusal case routes the device input to RabbitMQ: its ingest queue is deleted too.
    { service: 'ingest', input: `${ns}.devices.*.telemetry`, partitioned: false },
    { service: 'filter', input: 'sensor.reading.>', partitioned: true },
    { service: 'aggregate', input: 'sensor.valid.>', partitioned: true },
    { service: 'alert', input: 'sensor.valid.>', partitioned: true },
  ];
  let conn: ChannelModel | undefined;
  const running: RunningPipeline[] = [];

  before(async function () {
    await requireBroker(this, 'rabbitmq');
    await requireBroker(this, 'mosquitto');
    conn = await amqp.connect(AMQP_URL);
  });
  after(async () => {
    for (const r of running) await r.stop().catch(() => {});
    if (conn) {
      await deleteScaledPipeline(conn, { pipeline: pipelineName, exchange, inputs, partitions: PARTITIONS });
      await conn.close();
    }
  });

  it('each reading is ingested by one instance and lands in exactly one window', async () => {
    const pipeline = () => amqpScalePipeline({
      name: pipelineName, url: AMQP_URL, exchange, partitions: PARTITIONS, ingestInput: `${ns}.devices.*.telemetry`, deviceToken: 2,
      transports: { devices: `${MQTT_URL}?qos=1` }, routes: [{ pattern: `${ns}.devices.>`, transport: 'devices' }],
    });
    const a = await startPipeline(pipeline(), { logger, instance: 'a' });
    running.push(a);
    const b = await startPipeline(pipeline(), { logger, instance: 'b' });
    running.push(b);
    const { outputs, changed } = await collectOutputs(conn!, exchange);

    const client = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5 });
    const devices = Array.from({ length: 12 }, (_, i) => `dev-${i}`);
    const hot = new Set(devices.filter((_, i) => i % 2 === 0));
    const readings = 30;
    const base = Date.UTC(2026, 0, 1);
    try {
      for (let i = 0; i < readings; i++) {
        await Promise.all(devices.map((d) => client.publishAsync(`${ns}/devices/${d}/telemetry`,
          JSON.stringify({ ts: base + i * 1000, temperature: hot.has(d) && i >= 10 && i < 16 ? 90 : 20, humidity: 40 }), { qos: 1 })));
        // Consecutive readings of a device may go to different instances: a pause keeps them in order.
        await sleep(40);
      }
    } finally {
      await client.endAsync();
    }
    await waitFor(() => readingsInWindows(outputs) === devices.length * readings, { timeoutMs: 40_000, what: () => `window counts summing to ${devices.length * readings} (got ${readingsInWindows(outputs)})` });
    await waitFor(() => [...outputs.values()].filter((x) => x.type.startsWith('alert.')).length === hot.size * 2,
      { timeoutMs: 10_000, what: 'one raise and one resolve per hot device' });

    expect(changed).to.deep.equal([]);
    expectEachReadingOnce(outputs, devices, hot, readings);
    // Both ingests took a share: the shared subscription split the devices' readings.
    // The Bus counts under the subscription pattern (`<ns>.devices.*.telemetry`), one counter for every device.
    const ingested = (r: RunningPipeline) => [...r.buses].filter(([key]) => key.startsWith('ingest@'))
      .reduce((n, [, bus]) => n + ((c) => c.totalCount + c.count)(bus.countersFor(`${ns}.devices.${devices[0]}.telemetry`).delivered), 0);
    expect(ingested(a) + ingested(b), 'readings ingested').to.equal(devices.length * readings);
    expect(ingested(a), 'ingested by a').to.be.greaterThan(0);
    expect(ingested(b), 'ingested by b').to.be.greaterThan(0);
  });

  it('refuses, at start, a stateful service reading MQTT directly (a crash would lose its state)', async () => {
    const p = amqpScalePipeline({
      name: pipelineName, url: AMQP_URL, exchange, partitions: PARTITIONS, ingestInput: `${ns}.devices.*.telemetry`, deviceToken: 2,
      transports: { devices: `${MQTT_URL}?qos=1` }, routes: [{ pattern: `${ns}.raw.>`, transport: 'devices' }],
    });
    p.services.push({ kind: 'alert', name: 'raw-alert', config: { input: `${ns}.raw.>`, keyField: 'deviceId', rules: [{ name: 'hot', kind: 'threshold', field: 'temperature', raise: { value: 80 } }] } });
    try {
      running.push(await startPipeline(p, { logger, instance: 'c' }));
      expect.fail('a stateful service on MQTT input started');
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('SB_ERR_OPTIONS_INVALID');
      expect((err as Error).message).to.match(/raw-alert keeps state and reads .*raw\.> from transport mqtt/);
    }
  });
});
