/**
 * The two-instance scale-out scenario the integration suites share: a pipeline (ingest → filter
 * → aggregate + alert) with a `scale` block, run as instances `a` and `b` in this process (as two
 * `signalbus run --instance` processes would be); 12 devices x 40 readings, half of them with an
 * overheat episode; `a` leaves mid-stream. Checks: every reading in exactly one window, each
 * alert raised and resolved once, no output id stored twice.
 */
import { expect } from 'chai';
import type { JsMsg, NatsConnection } from 'nats';
import { readStatus, type PipelineStatus } from '../../cli/commands/status.js';
import { validatePipeline, type Pipeline, type PipelineScale } from '../../cli/pipeline/load.js';
import { startPipeline, type RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { createLogger } from '../../core/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { silentLogger } from './silent-logger.js';
import { waitFor } from './wait.js';

export interface ScaleScenario {
  /** The NATS server (or list) every part uses. */
  natsUrl: string;
  nc: NatsConnection;
  pipelineName: string;
  stream: string;
  /** Namespace of the pipeline's own subjects (`<ns>.sensor.…`, `<ns>.alerts.…`). */
  ns: string;
  /** The ingest's input and the token holding the device id. */
  ingestInput: string;
  deviceToken: number;
  /** The subject a device publishes on. */
  deviceSubject(device: string): string;
  /** More of the `scale` block (partitionedInputs). */
  scale?: Partial<PipelineScale>;
  /** When the instances count as sharing the pipeline (before any reading is sent). */
  shared(status: PipelineStatus): boolean;
  /** Started pipelines go here, for the suite's `after` to stop. */
  running: RunningPipeline[];
}

const logger = process.env.SCALE_DEBUG ? createLogger({ level: 'info' }) : silentLogger;

function pipelineOf(o: ScaleScenario): Pipeline {
  const { ns } = o;
  // Only this run's subjects: streams on a shared server may not overlap.
  const inputRoot = o.ingestInput.split('.')[0]!;
  const subjects = [`${ns}.>`, `dlq.${ns}.>`, ...(inputRoot === ns ? [] : [`dlq.${inputRoot}.>`])].join(',');
  return validatePipeline({
    name: o.pipelineName,
    transports: { nats: `${o.natsUrl}?jetstream=1&stream=${o.stream}&subjects=${subjects}&ackWaitMs=10000`, core: o.natsUrl },
    routes: [{ pattern: 'signalbus.metrics.>', transport: 'core' }],
    scale: { partitions: 4, coordination: 'nats', leaseTtlMs: 2000, checkpointIntervalMs: 300, ...o.scale },
    metrics: { intervalMs: 60_000 },
    services: [
      { kind: 'ingest', config: { input: o.ingestInput, subjectTokens: { deviceId: o.deviceToken }, output: `${ns}.sensor.reading.{deviceId}` } },
      { kind: 'filter', config: { input: `${ns}.sensor.reading.>`, output: `${ns}.sensor.valid.{data.deviceId}`, keyField: 'data.deviceId', keyAs: 'deviceId',
        where: { path: 'data.temperature', gte: -50, lte: 150 } } },
      { kind: 'aggregate', config: { input: `${ns}.sensor.valid.>`, output: `${ns}.aggregates.{deviceId}`, keyField: 'deviceId', keyAs: 'deviceId',
        fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 }, idleTimeoutMs: 1500, tickIntervalMs: 200 } },
      { kind: 'alert', config: { input: `${ns}.sensor.valid.>`, output: `${ns}.alerts.{deviceId}`, keyField: 'deviceId', keyAs: 'deviceId',
        rules: [{ name: 'overheat', kind: 'threshold', field: 'temperature', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } }] } },
    ],
  }, nanoserviceConfigSchemas);
}

/** Runs the scenario; rejects with what went wrong. */
export async function runScaleScenario(o: ScaleScenario): Promise<void> {
  const { ns, nc, stream } = o;
  const a = await startPipeline(pipelineOf(o), { logger, instance: 'a' });
  o.running.push(a);
  const b = await startPipeline(pipelineOf(o), { logger, instance: 'b' });
  o.running.push(b);
  await waitFor(async () => {
    const [st] = await readStatus([o.natsUrl], o.pipelineName);
    return st !== undefined && st.services.length === 4 && st.services.every((x) => x.members.join() === 'a,b' && x.partitions.every((p) => p.owner !== undefined))
      && o.shared(st);
  }, { timeoutMs: 15_000, intervalMs: 200, what: 'a and b sharing every service' });
  const js = nc.jetstream();
  const devices = Array.from({ length: 12 }, (_, i) => `dev-${i}`);
  const hot = new Set(devices.filter((_, i) => i % 2 === 0));
  const readings = 40;
  const base = Date.UTC(2026, 0, 1);
  const send = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      await Promise.all(devices.map((d) => js.publish(o.deviceSubject(d),
        JSON.stringify({ ts: base + i * 1000, temperature: hot.has(d) && i >= 10 && i < 16 ? 90 : 20, humidity: 40 }))));
    }
  };
  await send(0, 20);
  // Instance a leaves mid-stream: its partitions move to b, which resumes from their checkpoints.
  await a.stop();
  await send(20, readings);

  const outputs = new Map<string, { subject: string; type: string; data: Record<string, unknown> }>();
  const duplicates: string[] = [];
  // One filter subject: nats-server 2.9 has no consumers with several.
  const messages = await (await js.consumers.get(stream, { filterSubjects: `${ns}.>` })).consume();
  void (async () => {
    for await (const m of messages as AsyncIterable<JsMsg>) {
      if (!m.subject.startsWith(`${ns}.aggregates.`) && !m.subject.startsWith(`${ns}.alerts.`)) continue;
      const id = m.headers?.get('ce-id') ?? '';
      if (outputs.has(id)) duplicates.push(id);
      outputs.set(id, { subject: m.subject, type: m.headers?.get('ce-type') ?? '', data: m.json() });
    }
  })();
  const windowCount = () => [...outputs.values()].filter((x) => x.type === 'sensor.aggregate').reduce((n, x) => n + Number(x.data.count), 0);
  await waitFor(() => windowCount() === devices.length * readings, { timeoutMs: 40_000, what: () => `window counts summing to ${devices.length * readings} (got ${windowCount()})` });
  await waitFor(() => [...outputs.values()].filter((x) => x.type.startsWith('alert.')).length === hot.size * 2,
    { timeoutMs: 10_000, what: 'one raise and one resolve per hot device' });
  await messages.close();

  expect(duplicates).to.deep.equal([]);
  for (const d of devices) {
    const alerts = [...outputs.values()].filter((x) => x.subject === `${ns}.alerts.${d}`).map((x) => x.type).sort();
    expect(alerts, d).to.deep.equal(hot.has(d) ? ['alert.raised', 'alert.resolved'] : []);
    const windows = [...outputs.values()].filter((x) => x.subject === `${ns}.aggregates.${d}`);
    const starts = windows.map((w) => (w.data.window as { start: number }).start);
    expect(new Set(starts).size, `${d}: one window per start`).to.equal(starts.length);
    expect(windows.reduce((n, w) => n + Number(w.data.count), 0), d).to.equal(readings);
  }
}
