import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPipeline } from '../../cli/pipeline/load.js';
import { startPipeline, type RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import type pg from 'pg';
import { requireBroker } from '../../test/helpers/brokers.js';
import { dropSchema, PG_TEST_URL, requirePostgres, testSchema } from '../../test/helpers/postgres.js';
import { waitFor } from '../../test/helpers/wait.js';
import { silentLogger } from '../../test/helpers/silent-logger.js';

const here = dirname(fileURLToPath(import.meta.url));

/** mosquitto_sub printing `topic payload` lines into `lines`. */
/** mosquitto_sub on `topic`, collecting `topic payload` lines; `subscribed` is set once the broker granted the subscription. */
function watch(topic: string, lines: string[]): ChildProcess & { subscribed?: boolean } {
  // -d prints the protocol exchange ("Subscribed (mid: 1): 1" after the SUBACK) among the messages;
  // stdbuf makes it line-buffered, as it is otherwise held until exit when stdout is a pipe.
  const child: ChildProcess & { subscribed?: boolean } = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', '1883', '-t', topic, '-v', '-q', '1', '-d'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const line of parts) {
      if (line.startsWith('Subscribed (mid')) child.subscribed = true;
      else if (line.length > 0 && !line.startsWith('Client ')) lines.push(line);
    }
  });
  return child;
}

function devicePublish(deviceId: string, payload: string): void {
  const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', '1883', '-q', '1', '-t', `devices/${deviceId}/telemetry`, '-m', payload], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mosquitto_pub failed: ${r.stderr}`);
}

describe('example: IoT over MQTT', function () {
  this.timeout(60_000);
  let running: RunningPipeline | undefined;
  const watchers: Array<ChildProcess & { subscribed?: boolean }> = [];
  let admin: pg.Pool | undefined;
  const schema = testSchema();

  before(async function () {
    await requireBroker(this, 'mosquitto');
    if (spawnSync('mosquitto_pub', ['--help']).error) {
      if (process.env.CI === 'true') throw new Error('mosquitto_pub is not installed (apt-get install mosquitto-clients)');
      this.skip(); // reason: mosquitto-clients is not installed on this machine
    }
    admin = await requirePostgres(this);
  });
  after(async () => {
    for (const w of watchers) w.kill();
    await running?.stop();
    await dropSchema(admin, schema);
    await admin?.end();
  });

  it('iot - raw device JSON in; alerts, dead letters and metric fields out on MQTT as structured CloudEvents; readings, aggregates and alerts stored in PostgreSQL', async () => {
    const pipeline = loadPipeline(join(here, 'pipeline.json'), nanoserviceConfigSchemas, { ...process.env, MQTT_URL: 'mqtt://127.0.0.1:1883', PG_URL: PG_TEST_URL, PG_SCHEMA: schema });
    expect(pipeline.transports.mqtt).to.equal('mqtt://127.0.0.1:1883?protocolVersion=4&qos=1');
    running = await startPipeline(pipeline, { logger: silentLogger });
    const device = `dev-${randomUUID().slice(0, 8)}`;
    const alerts: string[] = []; const dead: string[] = []; const metrics: string[] = [];
    watchers.push(watch(`alerts/${device}`, alerts), watch(`dlq/devices/${device}/telemetry`, dead), watch('signalbus/metrics/+', metrics));
    await waitFor(() => watchers.every((w) => w.subscribed === true), { timeoutMs: 5000, what: 'mosquitto_sub to subscribe' });

    const t0 = Date.now();
    // Above 80 for 3 readings raises; at or below 75 for 3 readings resolves; 200 °C is impossible and filtered.
    [70, 81, 200, 82, 83, 84, 76, 75, 74, 73].forEach((temperature, i) => {
      devicePublish(device, JSON.stringify({ ts: t0 + i * 1000, temperature, humidity: 40 }));
    });
    devicePublish(device, '{"ts": 1, "temperature": ');
    await waitFor(() => alerts.length >= 2 && dead.length >= 1, { timeoutMs: 20_000, what: () => `2 alerts and a dead letter (got ${alerts.length}, ${dead.length})` });

    const events = alerts.map((line) => {
      const [topic, ...rest] = line.split(' ');
      expect(topic).to.equal(`alerts/${device}`);
      return JSON.parse(rest.join(' ')) as { specversion: string; type: string; data: { deviceId: string; value: number; rule: string } };
    });
    expect(events.map((e) => e.type)).to.deep.equal(['alert.raised', 'alert.resolved']);
    expect(events[0]!.specversion).to.equal('1.0');
    expect(events[0]!.data).to.include({ deviceId: device, rule: 'overheat', value: 83 });
    expect(events[1]!.data.deviceId).to.equal(device);

    const letter = JSON.parse(dead[0]!.slice(dead[0]!.indexOf(' ') + 1)) as Record<string, string>;
    expect(letter.dlqreason).to.equal('SB_ERR_CODEC_DECODE');
    expect(Buffer.from(letter.data_base64!, 'base64').toString()).to.equal('{"ts": 1, "temperature": ');

    await running.stop();
    running = undefined;
    // Stored: every reading ingest forwarded (the impossible 200 °C too: filtering comes later), both
    // alerts, and the windows the aggregate closed (by event time, or flushed on stop).
    const rows = async (table: string, where: string) => Number((await admin!.query(`SELECT count(*) AS n FROM "${schema}"."${table}" WHERE ${where}`, [device])).rows[0].n);
    expect(await rows('sensor_reading_v2', `data->>'deviceId' = $1`)).to.equal(10);
    expect(await rows('alert_raised_v1', `data->>'key' = $1`)).to.equal(1);
    expect(await rows('alert_resolved_v1', `data->>'key' = $1`)).to.equal(1);
    expect(await rows('sensor_aggregate_v1', `data->>'key' = $1 AND data->>'metric' = 'temperature'`)).to.be.greaterThan(0);
    // Batches go out every 5 s and on stop; wait for the one that counts this device's dropped reading.
    const dropped = `filter@edge-1:sensor.reading?deviceId=${device} rejected dropped`;
    const filterFields = () => metrics.filter((l) => l.startsWith('signalbus/metrics/filter '))
      .flatMap((l) => (JSON.parse(l.slice(l.indexOf(' ') + 1)) as { data: { fields: Array<{ field: string; count: number }> } }).data.fields);
    await waitFor(() => filterFields().some((f) => f.field === dropped), { timeoutMs: 15_000, what: 'the filter\'s metric batch on MQTT' });
    expect(filterFields().filter((f) => f.field === dropped).reduce((n, f) => n + f.count, 0)).to.equal(1);
  });
});
