import { expect } from 'chai';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatStatus, readAmqpStatus, type PipelineStatus } from '../../cli/commands/status.js';
import { rendezvousOwner } from '../../scale/coordinator.js';
import { deleteScaledPipeline, type ScaledInput } from '../helpers/amqp-scale.js';
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
 * 100 devices x 300 readings; one instance SIGKILLed at ~30%. Afterwards every reading is in
 * exactly one closed window and each expected alert was raised once and resolved once. RabbitMQ
 * keeps no duplicate window, so a replay after the kill may publish an output again: it must
 * carry the same id and the same content (what `dedupe()` downstream absorbs).
 */
describe('scale-out on RabbitMQ quorum queues: an instance killed mid-stream', function () {
  this.timeout(300_000);
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const pipelineName = `iot-amqp-${run}`;
  const exchange = `iot-${run}`;
  const instances: ChildProcess[] = [];
  const logs: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'signalbus-scale-amqp-'));
  const pipelineFile = join(dir, 'pipeline.json');
  const logFiles: string[] = [];
  let conn: ChannelModel | undefined;

  before(async () => {
    const p = JSON.parse(readFileSync('examples/iot-amqp/pipeline.json', 'utf8')) as { name: string };
    p.name = pipelineName;
    writeFileSync(pipelineFile, JSON.stringify(p));
    conn = await amqp.connect(AMQP_URL);
  });
  after(async () => {
    for (const child of instances) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.all(instances.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    if (conn) {
      await deleteScaledPipeline(conn, { pipeline: pipelineName, exchange, inputs: INPUTS, partitions: PARTITIONS });
      await conn.close().catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(function () {
    for (const file of logFiles) {
      const id = file.slice(file.lastIndexOf('/') + 1, -4);
      for (const line of readFileSync(file, 'utf8').split('\n')) if (line) logs.push(`${id}: ${line.slice(0, 400)}`);
    }
    if (process.env.SCALE_LOG_FILE) writeFileSync(process.env.SCALE_LOG_FILE, logs.join('\n'));
    if (this.currentTest?.state === 'failed') process.stderr.write(`instance logs:\n${logs.filter((l) => !l.includes('SB_ERR_AGGREGATE_LATE')).slice(-80).join('\n')}\n`);
  });

  const note = (what: string) => logs.push(`test: ${new Date().toISOString()} ${what}`);
  const startInstance = (id: string): ChildProcess => {
    // Logs go to a file, not a pipe: a child blocks on a full stderr pipe its parent is slow to read.
    const file = join(dir, `${id}.log`);
    const fd = openSync(file, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', pipelineFile, '--instance', id, '--log-level', process.env.SCALE_LOG_LEVEL ?? 'warn'], {
      env: { ...process.env, AMQP_URL, AMQP_EXCHANGE: exchange }, stdio: ['ignore', 'ignore', fd],
    });
    closeSync(fd);
    logFiles.push(file);
    instances.push(child);
    return child;
  };

  it('loses nothing, and a replayed output repeats its id and content', async () => {
    const ids = ['i0', 'i1', 'i2'];
    for (const id of ids) startInstance(id);
    // All three active on their rendezvous share of every service before the devices start.
    const settled = (st: PipelineStatus | undefined, members: string[]) => st !== undefined && st.services.length === 4 && st.services.every((s) =>
      s.members.join() === members.join() && s.partitions.length === (s.service.endsWith('.ingest') ? 1 : PARTITIONS)
      && s.partitions.every((p) => p.owner === rendezvousOwner(p.partition, members)));
    let last: PipelineStatus | undefined;
    await waitFor(async () => settled(last = (await readAmqpStatus(AMQP_URL, pipelineName, 1500))[0], ids), {
      timeoutMs: 60_000, intervalMs: 250, what: () => `three instances on their share (${formatStatus(last ? [last] : [])})`,
    });

    // What the pipeline publishes: every aggregate and alert, in queues bound before the devices start.
    const stored = new Map<string, { subject: string; type: string; body: string; data: Record<string, unknown> }>();
    const repeated: Array<{ id: string; same: boolean }> = [];
    const reader: Channel = await conn!.createChannel();
    for (const key of ['aggregates.#', 'alerts.#']) {
      const { queue } = await reader.assertQueue('', { exclusive: true });
      await reader.bindQueue(queue, exchange, key);
      await reader.consume(queue, (m) => {
        if (!m) return;
        const id = String(m.properties.messageId);
        const body = m.content.toString();
        const before = stored.get(id);
        if (before) repeated.push({ id, same: before.body === body });
        else stored.set(id, { subject: m.fields.routingKey, type: String(m.properties.type), body, data: JSON.parse(body) as Record<string, unknown> });
      }, { noAck: true });
    }

    note('devices start');
    const devices: ConfirmChannel = await conn!.createConfirmChannel();
    // Devices report every 100 ms (1,000 readings/s in all), so the kill lands while the pipeline is busy.
    for (let i = 0, next = Date.now(); i < READINGS; i++, next += 100) {
      await sleep(Math.max(0, next - Date.now()));
      if (i === Math.floor(READINGS * 0.3)) { note('SIGKILL instance i0'); instances[0]!.kill('SIGKILL'); }
      for (let d = 0; d < DEVICES; d++) {
        devices.publish(exchange, `devices.dev-${d}.telemetry`, Buffer.from(JSON.stringify({ ts: BASE + i * 1000, temperature: temperature(d, i), humidity: 40 })), { persistent: true });
      }
      await devices.waitForConfirms();
    }
    // One more reading per device, far ahead in event time: its watermark closes every window of
    // the 300 counted readings now, instead of the idle timeout (30 s) later.
    for (let d = 0; d < DEVICES; d++) {
      devices.publish(exchange, `devices.dev-${d}.telemetry`, Buffer.from(JSON.stringify({ ts: BASE + (READINGS + 60) * 1000, temperature: 20, humidity: 40 })), { persistent: true });
    }
    await devices.waitForConfirms();
    note('every reading published');

    const windows = () => [...stored.values()].filter((o) => o.type === 'sensor.aggregate' && o.data.metric === 'temperature');
    const counted = () => windows().reduce((n, w) => n + Number(w.data.count), 0);
    const expectedAlerts = Array.from({ length: DEVICES }, (_, d) => d).filter((d) => d % 4 !== 3).length * 2;
    const alerts = () => [...stored.values()].filter((o) => o.type.startsWith('alert.'));
    await waitFor(() => counted() === DEVICES * READINGS && alerts().length === expectedAlerts, {
      timeoutMs: 120_000, intervalMs: 500,
      what: () => `${DEVICES * READINGS} readings in windows (got ${counted()}) and ${expectedAlerts} alerts (got ${alerts().length})`,
    });
    // Outputs still on their way would show up as over-counts: give them a moment.
    await sleep(2000);
    note(`${repeated.length} outputs published again after the kill (same id)`);

    expect(repeated.filter((r) => !r.same), 'a replayed output with the same id but other content').to.deep.equal([]);
    expect(counted(), 'readings in windows').to.equal(DEVICES * READINGS);
    for (let d = 0; d < DEVICES; d++) {
      const mine = windows().filter((w) => w.subject === `aggregates.dev-${d}`);
      const starts = mine.map((w) => (w.data.window as { start: number }).start);
      expect(new Set(starts).size, `dev-${d}: one window per start`).to.equal(starts.length);
      expect(mine.reduce((n, w) => n + Number(w.data.count), 0), `dev-${d}: readings in windows`).to.equal(READINGS);
      const episode = alerts().filter((a) => a.subject === `alerts.dev-${d}`).map((a) => a.type).sort();
      expect(episode, `dev-${d}: alerts`).to.deep.equal(d % 4 === 3 ? [] : ['alert.raised', 'alert.resolved']);
    }
    // The survivors took every partition of the killed instance, and settled on their share again.
    await waitFor(async () => settled(last = (await readAmqpStatus(AMQP_URL, pipelineName, 1500))[0], ['i1', 'i2']), {
      timeoutMs: 30_000, intervalMs: 250, what: () => `i1 and i2 on their share (${formatStatus(last ? [last] : [])})`,
    });
  });
});
