import { expect } from 'chai';
import { Bus, type Envelope } from '../../core/index.js';
import { MemoryTransport, namedBroker } from '../../transports/memory/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { validatePipeline } from '../../cli/pipeline/load.js';
import { startPipeline } from '../../cli/pipeline/run-pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

describe('pipeline runner', function () {
  this.timeout(20_000);

  it('pipeline runner - runs ingest → filter → aggregate → alert from a pipeline file, with contracts enforced', async () => {
    const broker = `runner${Date.now()}`;
    const pipeline = validatePipeline({
      name: 'runner-test', instance: 'edge-1',
      transports: { local: `memory://${broker}` },
      metrics: { intervalMs: 200 },
      services: [
        { kind: 'ingest', config: { input: 'devices.*.telemetry', subjectTokens: { deviceId: 1 } } },
        { kind: 'filter', config: { input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', where: { path: 'data.temperature', gte: -50, lte: 150 } } },
        { kind: 'aggregate', config: { input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 } } },
        { kind: 'alert', config: { input: 'sensor.valid.>', keyField: 'deviceId', output: 'alerts.{deviceId}', rules: [
          { name: 'overheat', kind: 'threshold', field: 'temperature', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } }] } },
      ],
    }, nanoserviceConfigSchemas);
    const running = await startPipeline(pipeline, { logger: silentLogger });
    const watcher = new Bus({ service: 'watcher', transport: new MemoryTransport({ broker: namedBroker(broker) }), metrics: false, logger: silentLogger });
    const alerts: Envelope[] = []; const dead: Envelope[] = []; const aggregates: Envelope[] = []; const metricBatches: Envelope[] = [];
    await watcher.subscribe('alerts.>', async (m) => { alerts.push(m); });
    await watcher.subscribe('dlq.>', async (m) => { dead.push(m); });
    await watcher.subscribe('sensor.aggregate.>', async (m) => { aggregates.push(m); });
    await watcher.subscribe('signalbus.metrics.>', async (m) => { metricBatches.push(m); });
    const device = (t: number, i: number) => new TextEncoder().encode(JSON.stringify({ ts: 1_700_000_000_000 + i * 1000, temperature: t, humidity: 40 }));
    const temps = [70, 82, 85, 90, 88, 70, 71, 72, 73, 500];
    for (const [i, t] of temps.entries()) await watcher.publish('devices.sensor-7.telemetry', device(t, i), { contentType: 'application/octet-stream' });
    await watcher.publish('devices.sensor-8.telemetry', new TextEncoder().encode('{"temperature": "hot"'), { contentType: 'application/octet-stream' });
    await waitFor(() => alerts.length === 2 && dead.length === 1, { timeoutMs: 5000, what: 'one alert episode and a dead letter' });
    expect(alerts.map((a) => a.type)).to.deep.equal(['alert.raised', 'alert.resolved']);
    expect((alerts[0]!.data as { deviceId: string }).deviceId).to.equal('sensor-7');
    expect(alerts[0]!.dataschema).to.equal('urn:signalbus:contract:alert.raised:1.1.0');
    expect(dead[0]!.dlqreason).to.equal('SB_ERR_CODEC_DECODE');
    expect(dead[0]!.dlqservice).to.equal('ingest@edge-1');
    await running.stop();
    // Stopping flushes the open windows and the last metric batches.
    await waitFor(() => aggregates.length > 0, { timeoutMs: 2000, what: 'aggregates flushed on stop' });
    const services = new Set(metricBatches.map((m) => (m.data as { service: string }).service));
    for (const s of ['ingest', 'filter', 'aggregate', 'alert']) expect(services, s).to.include(s);
    await watcher.stop();
  });

  it('pipeline runner - tenantSubjects in the file: a reading whose tenant disagrees with its subject is dead-lettered (SB_ERR_TENANT_MISMATCH), its own tenant\'s passes', async () => {
    const broker = `tenants${Date.now()}`;
    const pipeline = validatePipeline({
      name: 'tenant-test', transports: { local: `memory://${broker}` }, metrics: { intervalMs: 60_000 }, tenantSubjects: { prefix: '{tenant}.' },
      services: [{ kind: 'filter', config: { input: '*.readings.>', output: 'acme.valid.{data.n}', where: { path: 'data.n', gte: 0 } } }],
    }, nanoserviceConfigSchemas);
    const running = await startPipeline(pipeline, { logger: silentLogger });
    const watcher = new Bus({ service: 'watcher', transport: new MemoryTransport({ broker: namedBroker(broker) }), metrics: false, logger: silentLogger });
    try {
      const passed: Envelope[] = []; const dead: Envelope[] = [];
      await watcher.subscribe('acme.valid.>', (m) => { passed.push(m); });
      await watcher.subscribe('dlq.>', (m) => { dead.push(m); });
      await watcher.publish('acme.readings.x', { n: 1 }, { headers: { tenant: 'acme' } });
      await watcher.publish('acme.readings.x', { n: 2 }, { headers: { tenant: 'globex' } });
      await waitFor(() => passed.length === 1 && dead.length === 1, { what: 'one reading passed, one dead-lettered' });
      expect(dead[0]!.dlqreason).to.equal('SB_ERR_TENANT_MISMATCH');
      expect(dead[0]!.dlqtenant).to.equal('globex');
    } finally {
      await running.stop();
      await watcher.stop();
    }
  });

  it('pipeline runner - a bad tenantSubjects prefix is refused when the file is read, naming its path', () => {
    expect(() => validatePipeline({ name: 'x', transports: { local: 'memory://x' }, tenantSubjects: { prefix: 'tenants' },
      services: [{ kind: 'filter', config: { input: 'a.>', output: 'b', where: { path: 'data.n', gte: 0 } } }] }, nanoserviceConfigSchemas))
      .to.throw(/\/tenantSubjects\/prefix: tenantSubjects.prefix must be whole subject tokens/);
  });
});
