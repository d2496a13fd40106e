import { expect } from 'chai';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { formatStatus, readAmqpStatus, type PipelineStatus } from '../../cli/commands/status.js';
import { rendezvousOwner } from '../../scale/coordinator.js';
import { collectOutputs, deleteScaledPipeline, expectEachReadingOnce, readingsInWindows, type ScaledInput } from '../helpers/amqp-scale.js';
import { PipelineInstances } from '../helpers/pipeline-instances.js';
import { dropSchema, PG_TEST_URL, requirePostgres, testSchema } from '../helpers/postgres.js';
import { expectStored, SINGLE_LEASE } from '../helpers/scale-stored.js';
import { sleep, waitFor } from '../helpers/wait.js';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const DEVICES = 100;
const READINGS = 300;
const PARTITIONS = 16;
const BASE = Date.UTC(2026, 0, 1);
const INPUTS: ScaledInput[] = [
  { service: 'ingest', input: 'devices.*.telemetry', partitioned: false },
  { service: 'filter', input: 'sensor.reading.>', partitioned: true },
  { service: 'aggregate', input: 'sensor.valid.>', partitioned: true },
  { service: 'alert', input: 'sensor.valid.>', partitioned: true },
  // The sinks: beside the filter on the readings' partitions; one queue each on the plain outputs.
  { service: 'store-readings', input: 'sensor.reading.>', partitioned: true },
  { service: 'store-aggregates', input: 'aggregates.>', partitioned: false },
  { service: 'store-alerts', input: 'alerts.>', partitioned: false },
];

/** The reading a device sends: `hot` readings start an overheat episode (raised after 3, resolved after 3 cool ones). */
function temperature(device: number, i: number): number {
  // Episodes before, across and after the instance kill (30%); a quarter of the devices never overheat.
  const start = [60, 88, 178][device % 4];
  return start !== undefined && i >= start && i < start + 6 ? 90 : 20;
}

/**
 * The promise of issue 16 on RabbitMQ: examples/iot-amqp run as 3 `signalbus run` processes on
 * the machine's RabbitMQ (quorum queues, one single-active-consumer queue per service partition),
 * 100 devices x 300 readings; the instance owning the single-lease services SIGKILLed at ~30%.
 * Afterwards every reading is in exactly one closed window and each expected alert was raised
 * once and resolved once. RabbitMQ keeps no duplicate window, so a replay after the kill may
 * publish an output again: it must carry the same id and the same content (what `dedupe()`
 * downstream absorbs). PostgreSQL (the example's three sinks) holds every reading once, every
 * alert once and exactly the windows published: a replayed copy is the same event (source and
 * id), which the sink stores once.
 */
describe('scale-out on RabbitMQ quorum queues: an instance killed mid-stream', function () {
  this.timeout(300_000);
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const pipelineName = `iot-amqp-${run}`;
  const exchange = `iot-${run}`;
  const dir = mkdtempSync(join(tmpdir(), 'signalbus-scale-amqp-'));
  const pipelineFile = join(dir, 'pipeline.json');
  const schema = testSchema();
  const instances = new PipelineInstances(pipelineFile, { AMQP_URL, AMQP_EXCHANGE: exchange, PG_URL: PG_TEST_URL, PG_SCHEMA: schema });
  let conn: ChannelModel | undefined;
  let pool: pg.Pool | undefined;

  before(async function () {
    pool = await requirePostgres(this);
    // Its own pipeline name: durable queues of an earlier run must not feed this one.
    const p = JSON.parse(readFileSync('examples/iot-amqp/pipeline.json', 'utf8')) as { name: string };
    p.name = pipelineName;
    writeFileSync(pipelineFile, JSON.stringify(p));
    conn = await amqp.connect(AMQP_URL);
  });
  after(async () => {
    await instances.stop();
    if (conn) {
      await deleteScaledPipeline(conn, { pipeline: pipelineName, exchange, inputs: INPUTS, partitions: PARTITIONS });
      await conn.close().catch(() => {});
    }
    await dropSchema(pool, schema);
    await pool?.end();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(function () { instances.collect(this.currentTest?.state === 'failed'); });

  const note = (what: string) => instances.note(what);

  it('loses nothing, and a replayed output repeats its id and content', async () => {
    const ids = ['i0', 'i1', 'i2'];
    // The first instance alone declares the queues: RabbitMQ 3.10 fails (and has wedged) a consumer
    // subscribing to a quorum queue that another client is still creating, and the queues are new here.
    instances.start('i0');
    const single = (service: string) => SINGLE_LEASE.some((name) => service.endsWith(`.${name}`));
    const settled = (st: PipelineStatus | undefined, members: string[]) => st !== undefined && st.services.length === INPUTS.length && st.services.every((s) =>
      s.members.join() === members.join() && s.partitions.length === (single(s.service) ? 1 : PARTITIONS)
      && s.partitions.every((p) => p.owner === rendezvousOwner(p.partition, members)));
    let last: PipelineStatus | undefined;
    await waitFor(async () => settled(last = (await readAmqpStatus(AMQP_URL, pipelineName, 1500))[0], ['i0']), {
      timeoutMs: 60_000, intervalMs: 250, what: () => `i0 active everywhere (${formatStatus(last ? [last] : [])})`,
    });
    instances.start('i1');
    instances.start('i2');
    // All three active on their rendezvous share of every service before the devices start.
    await waitFor(async () => settled(last = (await readAmqpStatus(AMQP_URL, pipelineName, 1500))[0], ids), {
      timeoutMs: 60_000, intervalMs: 250, what: () => `three instances on their share (${formatStatus(last ? [last] : [])})`,
    });

    // What the pipeline publishes: every aggregate and alert, in a queue bound before the devices start.
    const { outputs, changed, repeated } = await collectOutputs(conn!, exchange);

    // The instance killed is the owner of partition 0, so of every single-lease service (ingest and
    // the sinks of plain outputs) as well as of its share of the partitioned ones: their takeover is
    // exercised too, not only that of partitioned work.
    const victim = rendezvousOwner(0, ids)!;
    const survivors = ids.filter((id) => id !== victim);
    note('devices start');
    const send: ConfirmChannel = await conn!.createConfirmChannel();
    // Devices report every 100 ms (1,000 readings/s in all), so the kill lands while the pipeline is busy.
    for (let i = 0, next = Date.now(); i < READINGS; i++, next += 100) {
      await sleep(Math.max(0, next - Date.now()));
      if (i === Math.floor(READINGS * 0.3)) { note(`SIGKILL instance ${victim}`); instances.children[ids.indexOf(victim)]!.kill('SIGKILL'); }
      for (let d = 0; d < DEVICES; d++) {
        send.publish(exchange, `devices.dev-${d}.telemetry`, Buffer.from(JSON.stringify({ ts: BASE + i * 1000, temperature: temperature(d, i), humidity: 40 })), { persistent: true });
      }
      await send.waitForConfirms();
    }
    // One more reading per device, far ahead in event time: its watermark closes every window of
    // the 300 counted readings now, instead of the idle timeout (30 s) later.
    for (let d = 0; d < DEVICES; d++) {
      send.publish(exchange, `devices.dev-${d}.telemetry`, Buffer.from(JSON.stringify({ ts: BASE + (READINGS + 60) * 1000, temperature: 20, humidity: 40 })), { persistent: true });
    }
    await send.waitForConfirms();
    note('every reading published');

    const expectedAlerts = Array.from({ length: DEVICES }, (_, d) => d).filter((d) => d % 4 !== 3).length * 2;
    const alerts = () => [...outputs.values()].filter((o) => o.type.startsWith('alert.')).length;
    await waitFor(() => readingsInWindows(outputs) === DEVICES * READINGS && alerts() === expectedAlerts, {
      timeoutMs: 120_000, intervalMs: 500,
      what: () => `${DEVICES * READINGS} readings in windows (got ${readingsInWindows(outputs)}) and ${expectedAlerts} alerts (got ${alerts()})`,
    });
    // Outputs still on their way would show up as over-counts: give them a moment.
    await sleep(2000);
    note(`${repeated()} outputs published again after the kill (same id)`);

    expect(changed, 'a replayed output with the same id but other content').to.deep.equal([]);
    expect(readingsInWindows(outputs), 'readings in windows').to.equal(DEVICES * READINGS);
    const devices = Array.from({ length: DEVICES }, (_, d) => `dev-${d}`);
    expectEachReadingOnce(outputs, devices, new Set(devices.filter((_, d) => d % 4 !== 3)), READINGS);
    // What the sinks stored: the windows of the counted readings (the flush readings' own windows
    // close by the idle clock later), compared with what was published.
    const countedWindows = [...outputs].filter(([, o]) => o.type === 'sensor.aggregate' && (o.data.window as { start: number }).start < BASE + READINGS * 1000).map(([id]) => id);
    await expectStored(pool!, schema, {
      readings: DEVICES * (READINGS + 1), alerts: expectedAlerts, windowIds: countedWindows, windowsBefore: BASE + READINGS * 1000, note,
    });
    // The survivors took every partition of the killed instance, and settled on their share again.
    await waitFor(async () => settled(last = (await readAmqpStatus(AMQP_URL, pipelineName, 1500))[0], survivors), {
      timeoutMs: 30_000, intervalMs: 250, what: () => `${survivors.join(' and ')} on their share (${formatStatus(last ? [last] : [])})`,
    });
  });
});
