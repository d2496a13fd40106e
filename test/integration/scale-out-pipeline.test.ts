import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, type JsMsg, type NatsConnection } from 'nats';
import { formatStatus, readStatus } from '../../cli/commands/status.js';
import { validatePipeline, type Pipeline } from '../../cli/pipeline/load.js';
import { startPipeline, type RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { silentLogger as quiet } from '../helpers/silent-logger.js';
import { createLogger } from '../../core/index.js';
const silentLogger = process.env.SCALE_DEBUG ? createLogger({ level: 'info' }) : quiet;
import { waitFor } from '../helpers/wait.js';

/**
 * Two instances of one pipeline file on the machine's NATS (in one process, each with its own
 * instance id, as two `signalbus run --instance` processes would be): every reading is handled
 * once, windows and alerts come out once, and when one instance leaves mid-stream the other takes
 * its partitions over from their checkpoints.
 */
describe('scale-out: a pipeline shared by two instances (NATS JetStream, KV leases)', function () {
  this.timeout(90_000);
  const suffix = randomUUID().slice(0, 8);
  const ns = `sc${suffix}`;
  const stream = `SB_SCALE_${suffix}`;
  const pipelineName = `scale-it-${suffix}`;
  let nc: NatsConnection | undefined;
  const running: RunningPipeline[] = [];

  before(async function () { await requireBroker(this, 'nats'); nc = await connect({ servers: 'nats://127.0.0.1:4222' }); });
  after(async () => {
    for (const r of running) await r.stop().catch(() => {});
    if (nc) {
      const jsm = await nc.jetstreamManager();
      for (const name of [stream, `KV_sb-${pipelineName}-leases`, `KV_sb-${pipelineName}-checkpoints`]) await jsm.streams.delete(name).catch(() => {});
      await nc.close();
    }
  });

  const pipeline = (): Pipeline => validatePipeline({
    name: pipelineName,
    transports: {
      nats: `nats://127.0.0.1:4222?jetstream=1&stream=${stream}&subjects=${ns}.>,dlq.${ns}.>&ackWaitMs=10000`,
      core: 'nats://127.0.0.1:4222',
    },
    routes: [{ pattern: 'signalbus.metrics.>', transport: 'core' }],
    scale: { partitions: 4, coordination: 'nats', leaseTtlMs: 2000, checkpointIntervalMs: 300 },
    metrics: { intervalMs: 60_000 },
    services: [
      { kind: 'ingest', config: { input: `${ns}.devices.*.telemetry`, subjectTokens: { deviceId: 2 }, output: `${ns}.sensor.reading.{deviceId}` } },
      { kind: 'filter', config: { input: `${ns}.sensor.reading.>`, output: `${ns}.sensor.valid.{data.deviceId}`, keyField: 'data.deviceId', keyAs: 'deviceId',
        where: { path: 'data.temperature', gte: -50, lte: 150 } } },
      { kind: 'aggregate', config: { input: `${ns}.sensor.valid.>`, output: `${ns}.aggregates.{deviceId}`, keyField: 'deviceId', keyAs: 'deviceId',
        fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 }, idleTimeoutMs: 1500, tickIntervalMs: 200 } },
      { kind: 'alert', config: { input: `${ns}.sensor.valid.>`, output: `${ns}.alerts.{deviceId}`, keyField: 'deviceId', keyAs: 'deviceId',
        rules: [{ name: 'overheat', kind: 'threshold', field: 'temperature', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } }] } },
    ],
  }, nanoserviceConfigSchemas);

  it('processes every reading once across instances and hands partitions over when one leaves', async () => {
    const a = await startPipeline(pipeline(), { logger: silentLogger, instance: 'a' });
    running.push(a);
    const b = await startPipeline(pipeline(), { logger: silentLogger, instance: 'b' });
    running.push(b);
    // `signalbus status` sees both instances in every service, and every partition owned.
    await waitFor(async () => {
      const [st] = await readStatus(['nats://127.0.0.1:4222'], pipelineName);
      return st !== undefined && st.services.length === 4 && st.services.every((x) => x.members.join() === 'a,b' && x.partitions.every((p) => p.owner !== undefined));
    }, { timeoutMs: 15_000, intervalMs: 200, what: 'status listing a and b in every service' });
    const text = formatStatus(await readStatus(['nats://127.0.0.1:4222'], pipelineName));
    expect(text).to.match(new RegExp(`${pipelineName}\\.aggregate: 2 live instances \\(a, b\\)`));
    const js = nc!.jetstream();
    const devices = Array.from({ length: 12 }, (_, i) => `dev-${i}`);
    const hot = new Set(devices.filter((_, i) => i % 2 === 0));
    const readings = 40;
    const base = Date.UTC(2026, 0, 1);
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await Promise.all(devices.map((d) => js.publish(`${ns}.devices.${d}.telemetry`,
          JSON.stringify({ ts: base + i * 1000, temperature: hot.has(d) && i >= 10 && i < 16 ? 90 : 20, humidity: 40 }))));
      }
    };
    await send(0, 20);
    if (process.env.SCALE_DEBUG) console.error('sent first half');
    // Instance a leaves mid-stream: its partitions move to b, which resumes from their checkpoints.
    await a.stop();
    if (process.env.SCALE_DEBUG) console.error('a stopped');
    await send(20, readings);
    if (process.env.SCALE_DEBUG) console.error('sent second half');

    const outputs = new Map<string, { subject: string; type: string; data: Record<string, unknown> }>();
    const duplicates: string[] = [];
    // One filter subject: nats-server 2.9 has no consumers with several.
    const consumer = await js.consumers.get(stream, { filterSubjects: `${ns}.>` });
    const messages = await consumer.consume();
    void (async () => {
      for await (const m of messages as AsyncIterable<JsMsg>) {
        if (!m.subject.startsWith(`${ns}.aggregates.`) && !m.subject.startsWith(`${ns}.alerts.`)) continue;
        const id = m.headers?.get('ce-id') ?? '';
        if (outputs.has(id)) duplicates.push(id);
        outputs.set(id, { subject: m.subject, type: m.headers?.get('ce-type') ?? '', data: m.json() });
      }
    })();
    const windowCount = () => [...outputs.values()].filter((o) => o.type === 'sensor.aggregate').reduce((n, o) => n + Number(o.data.count), 0);
    await waitFor(() => windowCount() === devices.length * readings, { timeoutMs: 40_000, what: () => `window counts summing to ${devices.length * readings} (got ${windowCount()})` });
    await waitFor(() => [...outputs.values()].filter((o) => o.type.startsWith('alert.')).length === hot.size * 2,
      { timeoutMs: 10_000, what: 'one raise and one resolve per hot device' });
    await messages.close();

    expect(duplicates).to.deep.equal([]);
    for (const d of devices) {
      const alerts = [...outputs.values()].filter((o) => o.subject === `${ns}.alerts.${d}`).map((o) => o.type).sort();
      expect(alerts, d).to.deep.equal(hot.has(d) ? ['alert.raised', 'alert.resolved'] : []);
      const windows = [...outputs.values()].filter((o) => o.subject === `${ns}.aggregates.${d}`);
      const starts = windows.map((w) => (w.data.window as { start: number }).start);
      expect(new Set(starts).size, `${d}: one window per start`).to.equal(starts.length);
      expect(windows.reduce((n, w) => n + Number(w.data.count), 0), d).to.equal(readings);
    }
  });
});
