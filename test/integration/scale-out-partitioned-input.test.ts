import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, type JsMsg, type NatsConnection } from 'nats';
import { readStatus } from '../../cli/commands/status.js';
import { validatePipeline, type Pipeline } from '../../cli/pipeline/load.js';
import { startPipeline, type RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { NatsServerProcess } from '../helpers/nats-server-process.js';
import { silentLogger as quiet } from '../helpers/silent-logger.js';
import { createLogger } from '../../core/index.js';
const silentLogger = process.env.SCALE_DEBUG ? createLogger({ level: 'info' }) : quiet;
import { waitFor } from '../helpers/wait.js';

/**
 * Device input partitioned by the server: a nats-server subject mapping sends
 * `devices.<id>.telemetry` to `part.{{partition(4,1)}}.devices.<id>.telemetry` (the same FNV-1a
 * the Bus uses), and `scale.partitionedInputs` makes the ingest share that input by partition
 * like the stages behind it, instead of one instance ingesting everything.
 */
describe('scale-out: device input partitioned by a NATS subject mapping', function () {
  this.timeout(90_000);
  const suffix = randomUUID().slice(0, 8);
  const ns = `sc${suffix}`;
  const stream = `SB_SCALE_${suffix}`;
  const pipelineName = `scale-it-${suffix}`;
  let nc: NatsConnection | undefined;
  const running: RunningPipeline[] = [];

  let server: NatsServerProcess | undefined;
  before(async () => {
    server = await NatsServerProcess.start({ jetstream: true, mappings: { 'devices.*.telemetry': 'part.{{partition(4,1)}}.devices.{{wildcard(1)}}.telemetry' } });
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    for (const r of running) await r.stop().catch(() => {});
    await nc?.close();
    await server?.stop();
  });

  const pipeline = (): Pipeline => validatePipeline({
    name: pipelineName,
    transports: {
      nats: `${server!.url}?jetstream=1&stream=${stream}&subjects=${ns}.>,dlq.>&ackWaitMs=10000`,
      core: server!.url,
    },
    routes: [{ pattern: 'signalbus.metrics.>', transport: 'core' }],
    scale: { partitions: 4, coordination: 'nats', leaseTtlMs: 2000, checkpointIntervalMs: 300, partitionedInputs: ['devices.*.telemetry'] },
    metrics: { intervalMs: 60_000 },
    services: [
      { kind: 'ingest', config: { input: 'devices.*.telemetry', subjectTokens: { deviceId: 1 }, output: `${ns}.sensor.reading.{deviceId}` } },
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
      const [st] = await readStatus([server!.url], pipelineName);
      return st !== undefined && st.services.length === 4 && st.services.every((x) => x.members.join() === 'a,b'
        && x.partitions.length === 4 && x.partitions.every((p) => p.owner !== undefined) && new Set(x.partitions.map((p) => p.owner)).size === 2);
    }, { timeoutMs: 15_000, intervalMs: 200, what: 'a and b sharing every service, the ingest too' });
    // The ingest shares the device input too: both instances hold some of its 4 partitions.
    const [st] = await readStatus([server!.url], pipelineName);
    const ingest = st!.services.find((x) => x.service.endsWith('.ingest'))!;
    expect(ingest.partitions.length).to.equal(4);
    expect(new Set(ingest.partitions.map((p) => p.owner))).to.deep.equal(new Set(['a', 'b']));
    const js = nc!.jetstream();
    const devices = Array.from({ length: 12 }, (_, i) => `dev-${i}`);
    const hot = new Set(devices.filter((_, i) => i % 2 === 0));
    const readings = 40;
    const base = Date.UTC(2026, 0, 1);
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await Promise.all(devices.map((d) => js.publish(`devices.${d}.telemetry`,
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
