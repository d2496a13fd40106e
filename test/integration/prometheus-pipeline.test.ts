import { expect } from 'chai';
import mqtt from 'mqtt';
import { demoPipeline } from '../../cli/commands/demo.js';
import { validatePipeline } from '../../cli/pipeline/load.js';
import { startPipeline, type RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { freePort } from '../helpers/nats-server-process.js';
import { parseExposition, samplesOf, type Sample } from '../helpers/prometheus-exposition.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

describe('prometheus - /metrics of a running pipeline', function () {
  this.timeout(20_000);
  let running: RunningPipeline | undefined;
  let client: mqtt.MqttClient | undefined;

  afterEach(async () => {
    await client?.endAsync();
    await running?.stop();
    client = undefined; running = undefined;
  });

  it('prometheus - the demo pipeline\'s gateway exposes series of all four services, with bounded contexts and allow-listed query keys', async () => {
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const instance = `prom-${process.pid}-${Date.now()}`;
    // The demo's own pipeline (embedded MQTT, memory transport, gateway), with `rule` allow-listed as a label.
    const pipeline = validatePipeline({ ...demoPipeline(mqttPort, httpPort), instance, metrics: { intervalMs: 1000, labelQueryKeys: ['rule'] } }, nanoserviceConfigSchemas);
    running = await startPipeline(pipeline, { logger: silentLogger });
    client = await mqtt.connectAsync(running.hosted.mqtt!, { protocolVersion: 4, clientId: `prom-test-${process.pid}` });
    const devices = 30;
    const send = async (device: string, temperature: number, i: number) => {
      await client!.publishAsync(`devices/${device}/telemetry`, JSON.stringify({ ts: 1_700_000_000_000 + i * 1000, temperature, humidity: 40 }), { qos: 1 });
    };
    for (let i = 0; i < 4; i++) {
      for (let d = 0; d < devices; d++) await send(`sensor-${d}`, d === 7 ? 90 : 20, i); // sensor-7 overheats: an alert
    }
    await client.publishAsync('devices/sensor-99/telemetry', '{"temperature": ', { qos: 1 }); // dead-lettered by ingest
    expect((await fetch(`${running.hosted.http}/nowhere`)).status).to.equal(404); // the gateway's own field

    const scrape = async (): Promise<Sample[]> => {
      const res = await fetch(`${running!.hosted.http}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      return samplesOf(parseExposition(await res.text()), 'signalbus_metric_fields_total').filter((s) => s.labels.container === instance);
    };
    /** The value of one series (the query keys left out but for `rule`, so one series per field here). */
    const count = (samples: Sample[], service: string, context: string, event: string, action: string) =>
      samples.filter((s) => s.labels.service === service && s.labels.context === context && s.labels.event === event && s.labels.action === action).reduce((n, s) => n + s.value, 0);
    let samples: Sample[] = [];
    await waitFor(async () => {
      samples = await scrape();
      // The nanoservices' own fields count under the contract.
      return count(samples, 'ingest', 'sensor.reading', 'received', 'forwarded') === 4 * devices && count(samples, 'ingest', 'sensor.reading', 'invalid', 'deadlettered') === 1
        && count(samples, 'filter', 'sensor.reading', 'passed', 'forwarded') === 4 * devices
        // Ingest works on devices side by side, so a reading can reach the aggregate after a later one of another device: late.
        && count(samples, 'aggregate', 'sensor.reading', 'received', 'accepted') + count(samples, 'aggregate', 'sensor.reading', 'late', 'deadlettered') === 4 * devices
        && count(samples, 'alert', 'sensor.reading', 'received', 'evaluated') === 4 * devices && count(samples, 'alert', 'sensor.reading', 'threshold', 'raised') === 1;
    }, { timeoutMs: 10_000, intervalMs: 100, what: () => `every reading counted by all four services, got ${JSON.stringify(samples.map((s) => [s.labels.service, s.labels.context, s.labels.event, s.labels.action, s.value]))}` });

    for (const service of ['ingest', 'filter', 'aggregate', 'alert']) expect(samples.some((s) => s.labels.service === service), service).to.equal(true);
    expect(count(samples, 'gateway', 'http-gateway', 'rejected', 'http-404'), 'the gateway\'s own').to.equal(1);
    // The framework's own counters are there too, under the subscription pattern.
    expect(count(samples, 'filter', 'sensor.reading.>', 'received', 'delivered')).to.equal(4 * devices);
    expect(count(samples, 'ingest', 'devices.*.telemetry', 'received', 'delivered')).to.equal(4 * devices + 1);
    expect(count(samples, 'alert', 'sensor.valid.>', 'handled', 'acked')).to.equal(4 * devices);
    expect(count(samples, 'alert', 'alerts.>', 'published', 'sent'), 'by its route').to.equal(1);
    // Bounded: contexts are contracts and patterns, never a device's subject; the device id is no label.
    const contexts = new Set(samples.map((s) => s.labels.context));
    for (const c of contexts) expect(c, 'context').not.to.match(/sensor-\d/);
    expect(samples.every((s) => !('deviceId' in s.labels)), 'deviceId is not allow-listed').to.equal(true);
    expect(samples.length, 'series').to.be.below(80);
    // `rule` is allow-listed in the pipeline file: a label, on every series ("" where a field has none).
    expect(samples.find((s) => s.labels.service === 'alert' && s.labels.event === 'threshold')!.labels).to.deep.include({ context: 'sensor.reading', rule: 'overheat' });
    expect(samples.every((s) => 'rule' in s.labels)).to.equal(true);
  });
});
