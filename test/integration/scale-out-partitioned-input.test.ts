import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import type { RunningPipeline } from '../../cli/pipeline/run-pipeline.js';
import { NatsServerProcess } from '../helpers/nats-server-process.js';
import { runScaleScenario } from '../helpers/scale-scenario.js';

/**
 * Device input partitioned by the server: a nats-server subject mapping sends
 * `devices.<id>.telemetry` to `part.{{partition(4,1)}}.devices.<id>.telemetry` (the same FNV-1a
 * the Bus uses), and `scale.partitionedInputs` makes the ingest share that input by partition
 * like the stages behind it, instead of one instance ingesting everything.
 */
describe('scale-out: device input partitioned by a NATS subject mapping', function () {
  this.timeout(90_000);
  const suffix = randomUUID().slice(0, 8);
  let server: NatsServerProcess | undefined;
  let nc: NatsConnection | undefined;
  const running: RunningPipeline[] = [];

  before(async () => {
    server = await NatsServerProcess.start({ jetstream: true, mappings: { 'devices.*.telemetry': 'part.{{partition(4,1)}}.devices.{{wildcard(1)}}.telemetry' } });
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    for (const r of running) await r.stop().catch(() => {});
    await nc?.close();
    await server?.stop();
  });

  it('the ingest shares the device partitions; every reading once when one instance leaves', async () => {
    await runScaleScenario({
      natsUrl: server!.url, nc: nc!, pipelineName: `scale-mapped-${suffix}`, stream: `SB_MAPPED_${suffix}`, ns: `sm${suffix}`, running,
      ingestInput: 'devices.*.telemetry', deviceToken: 1, deviceSubject: (d) => `devices.${d}.telemetry`,
      scale: { partitionedInputs: ['devices.*.telemetry'] },
      // Both instances hold some of the ingest's 4 partitions, as of every other service.
      shared: (st) => st.services.every((x) => x.partitions.length === 4 && new Set(x.partitions.map((p) => p.owner)).size === 2),
    });
  });
});
