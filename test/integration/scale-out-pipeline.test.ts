import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { formatStatus, readStatus } from '../../cli/commands/status.js';
import type { RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { requireBroker } from '../helpers/brokers.js';
import { runScaleScenario } from '../helpers/scale-scenario.js';

/**
 * Two instances of one pipeline file on the machine's NATS (in one process, each with its own
 * instance id, as two `signalbus run --instance` processes would be): every reading is handled
 * once, windows and alerts come out once, and when one instance leaves mid-stream the other takes
 * its partitions over from their checkpoints. The device input is one partition here.
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

  it('processes every reading once across instances and hands partitions over when one leaves', async () => {
    await runScaleScenario({
      natsUrl: 'nats://127.0.0.1:4222', nc: nc!, pipelineName, stream, ns, running,
      ingestInput: `${ns}.devices.*.telemetry`, deviceToken: 2, deviceSubject: (d) => `${ns}.devices.${d}.telemetry`,
      shared: (st) => {
        // `signalbus status` shows both instances in every service.
        expect(formatStatus([st])).to.match(new RegExp(`${pipelineName}\\.aggregate: 2 live instances \\(a, b\\)`));
        return true;
      },
    });
    const [st] = await readStatus(['nats://127.0.0.1:4222'], pipelineName);
    expect(st!.services.find((x) => x.service.endsWith('.ingest'))!.partitions.length, 'device input is one partition').to.equal(1);
  });
});
