import { expect } from 'chai';
import type { ChannelModel } from 'amqplib';
import { validatePipeline, type Pipeline } from '../../cli/pipeline/load.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { groupQueueName } from '../../transports/amqp/topology.js';

/** A service of a scaled pipeline on RabbitMQ: its name, its input and whether the input travels partitioned. */
export interface ScaledInput { service: string; input: string; partitioned: boolean }

/** The single-active-consumer queues of a scaled pipeline: one per partition of each partitioned input. */
export function partitionQueues(pipeline: string, inputs: readonly ScaledInput[], partitions: number): string[] {
  return inputs.flatMap(({ service, input, partitioned }) => (partitioned
    ? Array.from({ length: partitions }, (_, p) => groupQueueName(`${pipeline}.${service}`, `part.${p}.${input}`))
    : [groupQueueName(`${pipeline}.${service}`, input)]));
}

/**
 * Deletes what a scaled pipeline declared on RabbitMQ (durable quorum queues outlive the run):
 * its partition queues, checkpoint queues, membership exchange, and the transport's exchanges.
 */
export async function deleteScaledPipeline(conn: ChannelModel, o: { pipeline: string; exchange: string; inputs: readonly ScaledInput[]; partitions: number }): Promise<void> {
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  const queues = [...partitionQueues(o.pipeline, o.inputs, o.partitions), `${o.exchange}.dlq`];
  for (const { service, partitioned } of o.inputs) {
    for (let p = 0; p < (partitioned ? o.partitions : 1); p++) queues.push(`sb-${o.pipeline}.ckpt.${o.pipeline}.${service}.p${p}`);
  }
  for (const q of queues) await ch.deleteQueue(q).catch(() => {});
  for (const x of [o.exchange, `${o.exchange}.retry`, `${o.exchange}.dlx`, `sb-${o.pipeline}.members`]) await ch.deleteExchange(x).catch(() => {});
  await ch.close().catch(() => {});
}

/**
 * A scaled IoT pipeline (ingest → filter → aggregate + alert) on RabbitMQ with coordination
 * "amqp", small partitions and short intervals for tests; `transports`/`routes` add, for example,
 * an MQTT device input.
 */
export function amqpScalePipeline(o: {
  name: string; url: string; exchange: string; partitions: number; ingestInput: string; deviceToken: number;
  transports?: Record<string, string>; routes?: Array<{ pattern: string; transport: string }>;
}): Pipeline {
  return validatePipeline({
    name: o.name,
    transports: { broker: `${o.url}?durable=1&queueType=quorum&singleActiveConsumer=1&exchange=${o.exchange}`, ...o.transports },
    ...(o.routes ? { routes: o.routes } : {}),
    scale: { partitions: o.partitions, coordination: 'amqp', leaseTtlMs: 2000, checkpointIntervalMs: 300 },
    metrics: { intervalMs: 60_000 },
    services: [
      { kind: 'ingest', config: { input: o.ingestInput, subjectTokens: { deviceId: o.deviceToken }, output: 'sensor.reading.{deviceId}' } },
      { kind: 'filter', config: { input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', keyField: 'data.deviceId', keyAs: 'deviceId',
        where: { path: 'data.temperature', gte: -50, lte: 150 } } },
      { kind: 'aggregate', config: { input: 'sensor.valid.>', output: 'aggregates.{deviceId}', keyField: 'deviceId', keyAs: 'deviceId',
        fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 }, idleTimeoutMs: 1500, tickIntervalMs: 200 } },
      { kind: 'alert', config: { input: 'sensor.valid.>', output: 'alerts.{deviceId}', keyField: 'deviceId', keyAs: 'deviceId',
        rules: [{ name: 'overheat', kind: 'threshold', field: 'temperature', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } }] } },
    ],
  }, nanoserviceConfigSchemas);
}

/** An output of the pipeline as a consumer bound to its exchange sees it. */
export interface PipelineOutput { subject: string; type: string; body: string; data: Record<string, unknown> }

/**
 * Collects what the pipeline publishes to `aggregates.#` and `alerts.#`, by id. A second copy of
 * an id (a replay after a takeover) is not stored again; one with other content is listed in `changed`.
 */
export async function collectOutputs(conn: ChannelModel, exchange: string): Promise<{ outputs: Map<string, PipelineOutput>; changed: string[]; repeated: () => number }> {
  const outputs = new Map<string, PipelineOutput>();
  const changed: string[] = [];
  let repeated = 0;
  const reader = await conn.createChannel();
  const { queue } = await reader.assertQueue('', { exclusive: true });
  for (const key of ['aggregates.#', 'alerts.#']) await reader.bindQueue(queue, exchange, key);
  await reader.consume(queue, (m) => {
    if (!m) return;
    const id = String(m.properties.messageId);
    const body = m.content.toString();
    const before = outputs.get(id);
    if (before) { repeated++; if (before.body !== body) changed.push(id); return; }
    outputs.set(id, { subject: m.fields.routingKey, type: String(m.properties.type), body, data: JSON.parse(body) as Record<string, unknown> });
  }, { noAck: true });
  return { outputs, changed, repeated: () => repeated };
}

/** Sum of the temperature windows' counts. */
export function readingsInWindows(outputs: Map<string, PipelineOutput>): number {
  return [...outputs.values()].filter((x) => x.type === 'sensor.aggregate' && x.data.metric === 'temperature').reduce((n, x) => n + Number(x.data.count), 0);
}

/** Every device's readings in exactly one window each, and one raise and one resolve per hot device. */
export function expectEachReadingOnce(outputs: Map<string, PipelineOutput>, devices: readonly string[], hot: ReadonlySet<string>, readings: number): void {
  for (const d of devices) {
    const alerts = [...outputs.values()].filter((x) => x.subject === `alerts.${d}`).map((x) => x.type).sort();
    expect(alerts, `${d}: alerts`).to.deep.equal(hot.has(d) ? ['alert.raised', 'alert.resolved'] : []);
    const windows = [...outputs.values()].filter((x) => x.subject === `aggregates.${d}` && x.data.metric === 'temperature');
    const starts = windows.map((w) => (w.data.window as { start: number }).start);
    expect(new Set(starts).size, `${d}: one window per start`).to.equal(starts.length);
    expect(windows.reduce((n, w) => n + Number(w.data.count), 0), `${d}: readings in windows`).to.equal(readings);
  }
}
