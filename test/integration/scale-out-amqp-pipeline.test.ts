import { expect } from 'chai';
import amqp, { type ChannelModel } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { formatStatus, readAmqpStatus } from '../../cli/commands/status.js';
import { startPipeline, type RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { createLogger } from '../../core/index.js';
import { rendezvousOwner } from '../../scale/coordinator.js';
import { amqpScalePipeline, collectOutputs, deleteScaledPipeline, expectEachReadingOnce, readingsInWindows, type ScaledInput } from '../helpers/amqp-scale.js';
import { requireBroker } from '../helpers/brokers.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const PARTITIONS = 4;
const logger = process.env.SCALE_DEBUG ? createLogger({ level: 'info' }) : silentLogger;

/**
 * Two instances of one pipeline on the machine's RabbitMQ (in one process, as two `signalbus run
 * --instance` processes would be), coordination "amqp": single-active-consumer quorum queues per
 * partition. The instances settle on the rendezvous share, every reading is handled once, and
 * when one leaves mid-stream the other takes its partitions over from their checkpoints.
 */
describe('scale-out: a pipeline shared by two instances (RabbitMQ, single active consumer)', function () {
  this.timeout(90_000);
  const suffix = randomUUID().slice(0, 8);
  const pipelineName = `scale-amqp-${suffix}`;
  const exchange = `sb-scale-${suffix}`;
  const inputs: ScaledInput[] = [
    { service: 'ingest', input: 'devices.*.telemetry', partitioned: false },
    { service: 'filter', input: 'sensor.reading.>', partitioned: true },
    { service: 'aggregate', input: 'sensor.valid.>', partitioned: true },
    { service: 'alert', input: 'sensor.valid.>', partitioned: true },
  ];
  let conn: ChannelModel | undefined;
  const running: RunningPipeline[] = [];

  before(async function () { await requireBroker(this, 'rabbitmq'); conn = await amqp.connect(AMQP_URL); });
  after(async () => {
    for (const r of running) await r.stop().catch(() => {});
    if (conn) {
      await deleteScaledPipeline(conn, { pipeline: pipelineName, exchange, inputs, partitions: PARTITIONS });
      await conn.close();
    }
  });

  const pipeline = () => amqpScalePipeline({ name: pipelineName, url: AMQP_URL, exchange, partitions: PARTITIONS, ingestInput: 'devices.*.telemetry', deviceToken: 1 });

  /** What each instance holds, by service: `{ aggregate: [0, 2], … }`. */
  const ownedBy = (r: RunningPipeline): Record<string, number[]> =>
    Object.fromEntries([...r.owned()].map(([key, parts]) => [key.slice(0, key.indexOf('@')), parts]));

  it('settles on the rendezvous share, processes every reading once and hands partitions over when one leaves', async () => {
    const a = await startPipeline(pipeline(), { logger, instance: 'a' });
    running.push(a);
    const b = await startPipeline(pipeline(), { logger, instance: 'b' });
    running.push(b);
    // Nothing has been sent yet: the owners learn they are active from their probes.
    const share = (member: string, service: string) => (service === 'ingest' ? [0] : Array.from({ length: PARTITIONS }, (_, p) => p))
      .filter((p) => rendezvousOwner(p, ['a', 'b']) === member);
    await waitFor(() => inputs.every(({ service }) => {
      const got = [ownedBy(a)[service] ?? [], ownedBy(b)[service] ?? []];
      return got[0]!.join() === share('a', service).join() && got[1]!.join() === share('b', service).join();
    }), { timeoutMs: 30_000, intervalMs: 200, what: () => `the rendezvous share (a: ${JSON.stringify(ownedBy(a))}, b: ${JSON.stringify(ownedBy(b))})` });

    const { outputs, changed } = await collectOutputs(conn!, exchange);
    const devices = Array.from({ length: 12 }, (_, i) => `dev-${i}`);
    const hot = new Set(devices.filter((_, i) => i % 2 === 0));
    const readings = 40;
    const base = Date.UTC(2026, 0, 1);
    const ch = await conn!.createConfirmChannel();
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        for (const d of devices) {
          ch.publish(exchange, `devices.${d}.telemetry`, Buffer.from(JSON.stringify({ ts: base + i * 1000, temperature: hot.has(d) && i >= 10 && i < 16 ? 90 : 20, humidity: 40 })), { persistent: true });
        }
        await ch.waitForConfirms();
      }
    };
    await send(0, 20);
    // Instance a leaves mid-stream: its partitions move to b, which resumes from their checkpoints.
    await a.stop();
    await send(20, readings);

    const [st] = await readAmqpStatus(AMQP_URL, pipelineName, 1200);
    expect(formatStatus(st ? [st] : [])).to.match(new RegExp(`${pipelineName}\\.aggregate: 1 live instance \\(b\\)`));
    await waitFor(() => readingsInWindows(outputs) === devices.length * readings, { timeoutMs: 40_000, what: () => `window counts summing to ${devices.length * readings} (got ${readingsInWindows(outputs)})` });
    await waitFor(() => [...outputs.values()].filter((x) => x.type.startsWith('alert.')).length === hot.size * 2,
      { timeoutMs: 10_000, what: 'one raise and one resolve per hot device' });
    await waitFor(() => inputs.every(({ service }) => (ownedBy(b)[service] ?? []).length === (service === 'ingest' ? 1 : PARTITIONS)),
      { timeoutMs: 10_000, what: () => `b holding everything (${JSON.stringify(ownedBy(b))})` });

    expect(changed, 'an output id published again with other content').to.deep.equal([]);
    expectEachReadingOnce(outputs, devices, hot, readings);
  });

  it('refuses, at start, an AMQP input without quorum queues and a single active consumer', async () => {
    const p = pipeline();
    p.transports.broker = `${AMQP_URL}?durable=1&exchange=${exchange}`;
    try {
      running.push(await startPipeline(p, { logger, instance: 'c' }));
      expect.fail('started without a single active consumer');
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('SB_ERR_OPTIONS_INVALID');
      expect((err as Error).message).to.contain('queueType=quorum&singleActiveConsumer=1');
    }
  });
});
