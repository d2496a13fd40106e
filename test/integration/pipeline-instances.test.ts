import { expect } from 'chai';
import { Bus, type Envelope } from '../../core/index.js';
import { MemoryTransport, namedBroker } from '../../transports/memory/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { validatePipeline } from '../../cli/pipeline/load.js';
import { startPipeline } from '../../cli/pipeline/run-pipeline.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

describe('pipeline runner: "instances" in one process', function () {
  this.timeout(20_000);

  it('copies share the work by partition: each reading is handled once, not once per copy', async () => {
    const broker = `instances${Date.now()}`;
    const pipeline = validatePipeline({
      name: 'instances-test', instance: 'edge-1',
      transports: { local: `memory://${broker}` },
      metrics: { intervalMs: 60_000 },
      services: [
        { kind: 'ingest', instances: 2, config: { input: 'devices.*.telemetry', subjectTokens: { deviceId: 1 } } },
        { kind: 'filter', instances: 3, config: { input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', where: { path: 'data.temperature', gte: -50, lte: 150 } } },
        { kind: 'aggregate', instances: 2, config: { input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 }, idleTimeoutMs: 300, tickIntervalMs: 50 } },
        { kind: 'alert', instances: 2, config: { input: 'sensor.valid.>', keyField: 'deviceId', output: 'alerts.{deviceId}', rules: [
          { name: 'overheat', kind: 'threshold', field: 'temperature', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } }] } },
      ],
    }, nanoserviceConfigSchemas);
    const running = await startPipeline(pipeline, { logger: silentLogger });
    expect([...running.buses.keys()]).to.include.members(['ingest@edge-1-0', 'ingest@edge-1-1', 'filter@edge-1-2', 'aggregate@edge-1-1']);
    const watcher = new Bus({ service: 'watcher', transport: new MemoryTransport({ broker: namedBroker(broker) }), metrics: false, logger: silentLogger });
    const alerts: Envelope[] = []; const aggregates: Envelope[] = [];
    await watcher.subscribe('alerts.>', async (m) => { alerts.push(m); });
    await watcher.subscribe('sensor.aggregate.>', async (m) => { aggregates.push(m); });
    const devices = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'];
    const device = (t: number, i: number) => new TextEncoder().encode(JSON.stringify({ ts: 1_700_000_000_000 + i * 1000, temperature: t, humidity: 40 }));
    const temps = [70, 82, 85, 90, 88, 70, 71, 72, 73, 60];
    for (const [i, t] of temps.entries()) {
      for (const d of devices) await watcher.publish(`devices.${d}.telemetry`, device(t, i), { contentType: 'application/octet-stream' });
    }
    await waitFor(() => aggregates.reduce((n, a) => n + (a.data as { count: number }).count, 0) === devices.length * temps.length,
      { timeoutMs: 5000, what: 'every reading in a window' });
    await waitFor(() => alerts.length === devices.length * 2, { timeoutMs: 5000, what: 'one episode per device' });
    // The first copy up takes every partition and hands half over at its next lease round.
    const held = (m: string) => running.owned().get(m)!.length;
    await waitFor(() => held('aggregate@edge-1-0') > 0 && held('aggregate@edge-1-1') > 0, { timeoutMs: 5000, what: 'both aggregate copies holding partitions' });
    expect(held('aggregate@edge-1-0') + held('aggregate@edge-1-1')).to.equal(16);
    await sleep(300); // a real wait: copies doing the work twice would add more outputs now
    expect(aggregates.reduce((n, a) => n + (a.data as { count: number }).count, 0)).to.equal(devices.length * temps.length);
    for (const d of devices) expect(alerts.filter((a) => (a.data as { deviceId: string }).deviceId === d).map((a) => a.type)).to.deep.equal(['alert.raised', 'alert.resolved']);
    await running.stop();
    await watcher.stop();
  });
});
