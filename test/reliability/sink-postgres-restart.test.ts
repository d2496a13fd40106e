import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import type pg from 'pg';
import { Bus, type Envelope } from '../../core/index.js';
import { createSinkService, runNanoservice, type RunningNanoservice } from '../../nanoservices/index.js';
import { NatsTransport, type NatsTransportOptions } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { dropSchema, PG_TEST_URL, requirePostgres, testSchema } from '../helpers/postgres.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

const NATS = 'nats://127.0.0.1:4222';
const N = 3000;

describe('sink - PostgreSQL, restarted and cut off mid-stream', function () {
  this.timeout(60_000);
  const id = randomBytes(4).toString('hex');
  const stream = `SB_SINK_${id}`;
  const prefix = `sinkrel.${id}`;
  const schema = testSchema();
  let admin: pg.Pool | undefined;

  before(async function () {
    await requireBroker(this, 'nats');
    admin = await requirePostgres(this);
  });
  after(async () => {
    await dropSchema(admin, schema);
    await admin?.end();
    const nc = await connect({ servers: NATS }).catch(() => undefined);
    if (nc) { await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false); await nc.close(); }
  });

  it('sink - a stream of 3,000 events over JetStream, with the sink restarted and its connections terminated (pg_terminate_backend) mid-stream: 0 lost, 0 duplicated rows', async () => {
    const options: NatsTransportOptions = { servers: NATS, jetstream: { stream, subjects: [`${prefix}.>`, `dlq.${prefix}.>`], storage: 'memory', ackWaitMs: 5000 } };
    const app = `sink-${id}`;
    const stored = async () => Number((await admin!.query(`SELECT count(*) AS n FROM "${schema}".reading`)).rows[0].n);
    const tableExists = async () => (await admin!.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'reading'`, [schema])).rows.length > 0;
    const startSink = async (container: string) => {
      const bus = new Bus({ service: `${app}@${container}`, transport: new NatsTransport(options), metrics: false, logger: silentLogger });
      const sink = await runNanoservice(bus, createSinkService({
        input: `${prefix}.>`, group: 'sink', url: PG_TEST_URL, schema, maxBatchRows: 100, maxBatchDelayMs: 10, reconnect: { initialDelayMs: 20, maxDelayMs: 500 },
      }));
      return { bus, sink };
    };
    const stopSink = async (s: { bus: Bus; sink: RunningNanoservice }) => { await s.bus.stop(); };

    const pub = new Bus({ service: 'readings@t', transport: new NatsTransport(options), metrics: false, logger: silentLogger });
    const watcher = new Bus({ service: 'dlq-watch@t', transport: new NatsTransport(options), metrics: false, logger: silentLogger });
    const deadLetters: Envelope[] = [];
    let sink = await startSink('a');
    try {
      await watcher.subscribe(`dlq.${prefix}.>`, (m) => { deadLetters.push(m); }, { group: 'dlq-watch' });
      await pub.start();
      let next = 0;
      const publishing = Promise.all(Array.from({ length: 32 }, async () => {
        while (next < N) {
          const i = next++;
          await pub.publish(`${prefix}.readings`, { i, temperature: 20 + (i % 10) }, { id: `r-${i}`, type: 'reading' });
        }
      }));

      // Restart: the first sink stops (draining, its batches committed) while events keep coming.
      await waitFor(async () => (await tableExists()) && (await stored()) >= 800, { timeoutMs: 20_000, what: '800 rows', intervalMs: 20 });
      await stopSink(sink);
      sink = await startSink('b');

      // Cut its connections three times while it writes.
      let terminated = 0;
      for (const at of [1500, 2000, 2500]) {
        await waitFor(async () => (await stored()) >= at, { timeoutMs: 20_000, what: `${at} rows`, intervalMs: 10 });
        const r = await admin!.query(`SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE application_name LIKE $1`, [`signalbus ${app}@%`]);
        terminated += r.rows.filter((row) => row.t === true).length;
      }
      await publishing;
      await waitFor(async () => (await stored()) >= N, { timeoutMs: 30_000, what: () => `${N} rows`, intervalMs: 50 });
      expect(terminated, 'connections terminated').to.be.greaterThan(0);

      const { rows } = await admin!.query(`SELECT count(*) AS n, count(DISTINCT id) AS ids, min((data->>'i')::int) AS lo, max((data->>'i')::int) AS hi FROM "${schema}".reading`);
      expect({ rows: Number(rows[0].n), ids: Number(rows[0].ids), lo: rows[0].lo, hi: rows[0].hi }).to.deep.equal({ rows: N, ids: N, lo: 0, hi: N - 1 });
      expect(deadLetters, 'dead letters').to.deep.equal([]);
    } finally {
      await stopSink(sink);
      await Promise.all([pub.stop(), watcher.stop()]);
    }
  });
});
