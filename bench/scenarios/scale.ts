/**
 * examples/iot-nats run as 1, 2 and 3 `signalbus run` processes on a 3-node NATS cluster (R3
 * stream and KV, started here on free ports): 100 devices publish 20,000 readings as fast as
 * JetStream acknowledges them (256 in flight), and the clock stops when every stage has caught
 * up (no consumer of the stream has anything pending or unacknowledged). readings/s =
 * 20,000 / that time. There is no raw baseline: the comparison is between instance counts.
 *
 * On this 2-core machine the three nats-servers, the instances and the devices share two
 * cores, so more instances add coordination and replication work more than they add CPU.
 *
 * The example's PostgreSQL sinks are left out: this measures the stream pipeline (ingest,
 * filter, aggregate, alert) as before they were added, comparable with earlier results;
 * `sink-postgres` measures the sink.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { readStatus } from '../../cli/commands/status.js';
import { NatsCluster } from '../../test/helpers/nats-cluster.js';
import type { Measurement, Scenario } from '../harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const DEVICES = 100;
const READINGS = 20_000;
const IN_FLIGHT = 256;

/** `mapped`: the servers partition the device subjects (a mapping) and the ingest shares them by partition. */
async function scaled(instances: number, mapped: boolean): Promise<Measurement> {
  const cluster = await NatsCluster.start({ nodes: 3, ...(mapped ? { mappings: { 'devices.*.telemetry': 'part.{{partition(16,1)}}.devices.{{wildcard(1)}}.telemetry' } } : {}) });
  const dir = mkdtempSync(join(tmpdir(), 'signalbus-bench-scale-'));
  const children: ChildProcess[] = [];
  const name = `bench-scale-${mapped ? 'mapped-' : ''}${instances}`;
  try {
    const file = JSON.parse(readFileSync(join(root, 'examples/iot-nats/pipeline.json'), 'utf8')) as Record<string, unknown>;
    file.name = name;
    file.services = (file.services as Array<{ kind: string }>).filter((s) => s.kind !== 'sink');
    if (mapped) (file.scale as Record<string, unknown>).partitionedInputs = ['devices.*.telemetry'];
    const pipeline = join(dir, 'pipeline.json');
    writeFileSync(pipeline, JSON.stringify(file));
    for (let i = 0; i < instances; i++) {
      children.push(spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', pipeline, '--instance', `b${i}`, '--log-level', 'error'], {
        cwd: root, env: { ...process.env, NATS_URL: cluster.url, NATS_REPLICAS: '3', NATS_STREAM: 'BENCH' }, stdio: 'ignore',
      }));
    }
    // Every instance holds partitions of every partitioned service before the clock starts.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const [status] = await readStatus(cluster.urls, name).catch(() => []);
      const ready = status !== undefined && status.services.length === 4 && status.services.every((s) => s.members.length === instances
        && s.partitions.filter((p) => p.owner).length === (s.service.endsWith('.ingest') && !mapped ? 1 : 16)
        && ((s.service.endsWith('.ingest') && !mapped) || new Set(s.partitions.map((p) => p.owner)).size === instances));
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`${instances} instances did not share the pipeline within 90 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const nc = await connect({ servers: cluster.urls, noAsyncTraces: true });
    try {
      const js = nc.jetstream();
      const jsm = await nc.jetstreamManager();
      const base = Date.now() - 3_600_000;
      const t0 = performance.now();
      let next = 0;
      const device = async () => {
        while (next < READINGS) {
          const i = next++;
          const d = i % DEVICES;
          const k = Math.floor(i / DEVICES);
          await js.publish(`devices.dev-${d}.telemetry`, JSON.stringify({ ts: base + k * 1000, temperature: k % 40 < 4 ? 90 : 20, humidity: 40 }), { msgID: `dev-${d}:${k}` });
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, device));
      // Caught up: no consumer of the stream has anything left, twice in a row.
      for (let quiet = 0; quiet < 2;) {
        let backlog = 0;
        for await (const c of jsm.consumers.list('BENCH')) backlog += c.num_pending + c.num_ack_pending;
        quiet = backlog === 0 ? quiet + 1 : 0;
        if (quiet < 2) await new Promise((r) => setTimeout(r, 100));
      }
      return { msgs: READINGS, seconds: (performance.now() - t0) / 1000 };
    } finally {
      await nc.close();
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const scenarios: Scenario[] = [false, true].flatMap((mapped) => [1, 2, 3].map((n) => ({
  name: `pipeline-scale-${mapped ? 'mapped-' : ''}${n}`,
  description: `examples/iot-nats as ${n} signalbus run process${n === 1 ? '' : 'es'} on a 3-node NATS cluster (R3 stream and KV), ${READINGS} readings from ${DEVICES} devices published with JetStream acks (${IN_FLIGHT} in flight); readings/s until every stage caught up (the example's PostgreSQL sinks left out). `
    + (mapped ? 'The servers partition the device subjects (mapping to part.{{partition(16,1)}}.…) and the ingest shares them (scale.partitionedInputs). ' : 'One ingest owner for all device input. ')
    + 'No raw baseline: compare the instance counts',
  run: () => scaled(n, mapped),
})));

export default scenarios;
