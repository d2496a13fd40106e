import { expect } from 'chai';
import { connect, type JsMsg, type NatsConnection } from 'nats';
import type pg from 'pg';
import { readStatus } from '../../cli/commands/status.js';
import { NatsCluster } from '../helpers/nats-cluster.js';
import { PipelineInstances } from '../helpers/pipeline-instances.js';
import { dropSchema, PG_TEST_URL, requirePostgres, testSchema } from '../helpers/postgres.js';
import { expectStored, SINGLE_LEASE } from '../helpers/scale-stored.js';
import { sleep, waitFor } from '../helpers/wait.js';

const DEVICES = 100;
const READINGS = 300;
const BASE = Date.UTC(2026, 0, 1);

/** The reading a device sends: `hot` readings start an overheat episode (raised after 3, resolved after 3 cool ones). */
function temperature(device: number, i: number): number {
  // Episodes placed before, across the instance kill (30%) and across the node kill (60%); a quarter of the devices never overheat.
  const start = [100, 88, 178][device % 4];
  return start !== undefined && i >= start && i < start + 6 ? 90 : 20;
}

/**
 * The promise of issue 16 under crashes: examples/iot-nats run as 3 `signalbus run` processes on
 * a 3-node NATS cluster (R3 stream and KV), 100 devices x 300 readings; one instance SIGKILLed at
 * ~30%, one NATS node SIGKILLed at ~60% and restarted later. Afterwards every reading is in
 * exactly one closed window, each expected alert was raised once and resolved once, and no
 * output id is stored twice; PostgreSQL (the example's three sinks) holds every reading once,
 * every alert once and exactly the windows the stream got.
 */
describe('scale-out on a 3-node NATS cluster: an instance and a node killed mid-stream', function () {
  this.timeout(300_000);
  let cluster: NatsCluster | undefined;
  let instances: PipelineInstances | undefined;
  let nc: NatsConnection | undefined;
  let pool: pg.Pool | undefined;
  const schema = testSchema();

  before(async function () {
    pool = await requirePostgres(this);
    cluster = await NatsCluster.start({ nodes: 3 });
    instances = new PipelineInstances('examples/iot-nats/pipeline.json', {
      NATS_URL: cluster.url, NATS_REPLICAS: '3', NATS_STREAM: 'IOT', PG_URL: PG_TEST_URL, PG_SCHEMA: schema,
    });
  });
  after(async () => {
    await instances?.stop();
    await nc?.close().catch(() => {});
    await cluster?.stop();
    await dropSchema(pool, schema);
    await pool?.end();
  });
  afterEach(function () { instances?.collect(this.currentTest?.state === 'failed'); });

  const note = (what: string) => instances!.note(what);

  it('loses nothing and duplicates nothing', async () => {
    const ids = ['i0', 'i1', 'i2'];
    for (const id of ids) instances!.start(id);
    // All three hold partitions of every service before the devices start (rebalancing done).
    await waitFor(async () => {
      const [status] = await readStatus(cluster!.urls, 'iot-nats').catch(() => []);
      // ingest and the sinks of the plain outputs hold one lease; the rest (store-readings too) 16.
      const single = (service: string) => SINGLE_LEASE.some((name) => service.endsWith(`.${name}`));
      return status !== undefined && status.services.length === 7
        && status.services.every((s) => s.members.length === 3 && s.partitions.filter((p) => p.owner).length === (single(s.service) ? 1 : 16))
        && status.services.filter((s) => !single(s.service)).every((s) => new Set(s.partitions.map((p) => p.owner)).size === 3);
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'three instances sharing every service' });

    note('all three hold partitions; devices start');
    nc = await connect({ servers: cluster!.urls, noAsyncTraces: true });
    const js = nc.jetstream();
    // What a device that must lose nothing does: retry until the stream acknowledges; the same
    // Nats-Msg-Id makes a retry of a publish that did land a duplicate the stream drops.
    const publish = async (subject: string, body: string, msgID: string): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try { await js.publish(subject, body, { msgID, timeout: 5000 }); return; } catch (err) {
          if (attempt >= 80) throw err;
          await sleep(250); // a real delay between retries while the cluster fails over
        }
      }
    };
    // Devices report every 100 ms (1,000 readings/s in all), so the faults land while the pipeline is busy.
    for (let i = 0, next = Date.now(); i < READINGS; i++, next += 100) {
      await sleep(Math.max(0, next - Date.now()));
      if (i === Math.floor(READINGS * 0.3)) { note('SIGKILL instance i0'); instances!.children[0]!.kill('SIGKILL'); }
      if (i === Math.floor(READINGS * 0.6)) { note('SIGKILL node 1'); await cluster!.kill(1); }
      if (i === Math.floor(READINGS * 0.8)) { note('restarting node 1'); await cluster!.restart(1); note('node 1 back'); }
      await Promise.all(Array.from({ length: DEVICES }, (_, d) => publish(`devices.dev-${d}.telemetry`,
        JSON.stringify({ ts: BASE + i * 1000, temperature: temperature(d, i), humidity: 40 }), `dev-${d}:${i}`)));
    }
    // One more reading per device, far ahead in event time: its watermark closes every window of
    // the 300 counted readings now, instead of the idle timeout (30 s) later. Its own window stays open.
    await Promise.all(Array.from({ length: DEVICES }, (_, d) => publish(`devices.dev-${d}.telemetry`,
      JSON.stringify({ ts: BASE + (READINGS + 60) * 1000, temperature: 20, humidity: 40 }), `dev-${d}:flush`)));

    note('every reading published');
    // What the pipeline stored: aggregates and alerts, read back from the stream.
    const stored = new Map<string, { subject: string; type: string; data: Record<string, unknown> }>();
    const duplicateIds: string[] = [];
    const readers = await Promise.all(['aggregates.>', 'alerts.>'].map(async (filter) => {
      const messages = await (await js.consumers.get('IOT', { filterSubjects: filter })).consume();
      void (async () => {
        for await (const m of messages as AsyncIterable<JsMsg>) {
          const id = m.headers?.get('ce-id') ?? '';
          if (stored.has(id)) duplicateIds.push(id);
          stored.set(id, { subject: m.subject, type: m.headers?.get('ce-type') ?? '', data: m.json() });
        }
      })();
      return messages;
    }));
    const windows = () => [...stored.values()].filter((o) => o.type === 'sensor.aggregate' && o.data.metric === 'temperature');
    const counted = () => windows().reduce((n, w) => n + Number(w.data.count), 0);
    const expectedAlerts = Array.from({ length: DEVICES }, (_, d) => d).filter((d) => d % 4 !== 3).length * 2;
    const alerts = () => [...stored.values()].filter((o) => o.type.startsWith('alert.'));
    try {
      await waitFor(() => counted() === DEVICES * READINGS && alerts().length === expectedAlerts, {
        timeoutMs: 120_000, intervalMs: 500,
        what: () => `${DEVICES * READINGS} readings in windows (got ${counted()}) and ${expectedAlerts} alerts (got ${alerts().length})`,
      });
    } catch (err) {
      note(`ownership at the end: ${JSON.stringify(await readStatus(cluster!.urls, 'iot-nats').catch((e: unknown) => String(e)))}`);
      const jsm = await nc.jetstreamManager();
      for await (const c of jsm.consumers.list('IOT')) {
        note(`consumer ${c.name} filter=${c.config.filter_subject} pending=${c.num_pending} ackPending=${c.num_ack_pending} delivered=${c.delivered.stream_seq} ackFloor=${c.ack_floor.stream_seq} waiting=${c.num_waiting} cluster=${JSON.stringify(c.cluster)}`);
      }
      throw err;
    }
    for (const r of readers) await r.close();

    expect(duplicateIds, 'output ids stored twice').to.deep.equal([]);
    for (let d = 0; d < DEVICES; d++) {
      const mine = windows().filter((w) => w.subject === `aggregates.dev-${d}`);
      const starts = mine.map((w) => (w.data.window as { start: number }).start);
      expect(new Set(starts).size, `dev-${d}: one window per start`).to.equal(starts.length);
      expect(mine.reduce((n, w) => n + Number(w.data.count), 0), `dev-${d}: readings in windows`).to.equal(READINGS);
      const episode = alerts().filter((a) => a.subject === `alerts.dev-${d}`).map((a) => a.type).sort();
      expect(episode, `dev-${d}: alerts`).to.deep.equal(d % 4 === 3 ? [] : ['alert.raised', 'alert.resolved']);
    }
    // What the sinks stored: the windows of the counted readings (the flush readings' own windows
    // close by the idle clock later), compared with what the stream got.
    const countedWindows = [...stored].filter(([, o]) => o.type === 'sensor.aggregate' && (o.data.window as { start: number }).start < BASE + READINGS * 1000).map(([id]) => id);
    await expectStored(pool!, schema, {
      readings: DEVICES * (READINGS + 1), alerts: expectedAlerts, windowIds: countedWindows, windowsBefore: BASE + READINGS * 1000, note,
    });
  });
});
