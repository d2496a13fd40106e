import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Bus, type Envelope } from '../../core/index.js';
import { validatePipeline } from '../../cli/pipeline/load.js';
import { startPipeline, type RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { MemoryTransport, namedBroker } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/iot-mqtt/pipeline.json', import.meta.url));

describe('pipeline runner contracts', function () {
  this.timeout(10_000);
  let running: RunningPipeline;
  let device: Bus;
  let broker: string;

  beforeEach(async () => {
    broker = `validation-${randomUUID().slice(0, 8)}`;
    // The IoT example's services, on a private memory broker only; its PostgreSQL sinks are left out.
    const file = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as { services: Array<{ kind: string }> };
    running = await startPipeline(validatePipeline({
      ...file, services: file.services.filter((s) => s.kind !== 'sink'), transports: { local: `memory://${broker}` }, routes: [], metrics: { intervalMs: 60_000 },
    }, nanoserviceConfigSchemas, EXAMPLE), { logger: silentLogger });
    device = new Bus({ service: 'device', transport: new MemoryTransport({ broker: namedBroker(broker) }), metrics: false, logger: silentLogger });
  });
  afterEach(async () => {
    await device.stop();
    await running.stop();
  });

  const reading = (i: number, humidity = 40) => new TextEncoder().encode(JSON.stringify({ ts: 1_700_000_000_000 + i * 1000, temperature: 70 + i, humidity }));
  const totalOf = (service: string, field: string) => running.buses.get(`${service}@edge-1`)!.metrics.totals().get(`${service}@edge-1:${field}`)?.count ?? 0;

  it('pipeline runner - checks each reading where a service publishes it (ingest, the filter\'s forward), never again on delivery', async () => {
    const cv = running.registry.compiled('sensor.reading', '2.0.0');
    const check = cv.check.bind(cv);
    let checks = 0;
    cv.check = (data: unknown) => { checks++; return check(data); };
    for (let i = 0; i < 10; i++) await device.publish(`devices.v-${i % 3}.telemetry`, reading(i), { contentType: 'application/octet-stream' });
    await waitFor(() => totalOf('alert', 'sensor.reading?deviceId=v-0 received evaluated') === 4, { timeoutMs: 2000, what: 'the readings at alert' });
    await waitFor(() => ['v-0', 'v-1', 'v-2'].reduce((n, d) => n + totalOf('aggregate', `sensor.reading?deviceId=${d} received accepted`), 0) === 10, { timeoutMs: 2000, what: 'the readings at aggregate' });
    expect(checks).to.equal(20);
  });

  it('pipeline runner - a reading the contract refuses is dead-lettered by ingest with the contract\'s reason and counted invalid', async () => {
    const dead: Envelope[] = [];
    await device.subscribe('dlq.>', (m) => { dead.push(m); });
    await device.publish('devices.v-9.telemetry', reading(1, 150), { contentType: 'application/octet-stream' });
    await waitFor(() => dead.length === 1, { timeoutMs: 2000, what: 'the dead letter' });
    expect(dead[0]).to.include({ dlqreason: 'SB_ERR_CONTRACT_INVALID', dlqservice: 'ingest@edge-1', dlqsubject: 'devices.v-9.telemetry', dlqattempts: '1' });
    expect(totalOf('ingest', 'sensor.reading?deviceId=v-9 invalid deadlettered')).to.equal(1);
    expect(totalOf('filter', 'sensor.reading?deviceId=v-9 passed forwarded')).to.equal(0);
  });
});
