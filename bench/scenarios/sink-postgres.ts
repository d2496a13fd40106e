import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { Bus, createEnvelope, type Envelope } from '../../core/index.js';
import { createSinkService, runNanoservice } from '../../nanoservices/index.js';
import { COLUMNS, rowValues, type RowValues } from '../../nanoservices/sink/rows.js';
import { createStatements } from '../../nanoservices/sink/table.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { sensorReading, until, windowed, type Scenario } from '../harness.js';

const N = 40_000;
const BATCH = 500;
const WARMUP = 5000;
const BATCHES_IN_FLIGHT = 2;
const URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const DATASCHEMA = 'urn:signalbus:contract:sensor.reading:2.0.0';

/** A schema of the run's own, dropped when it ends. */
async function withSchema<T>(work: (admin: pg.Pool, schema: string) => Promise<T>): Promise<T> {
  const admin = new pg.Pool({ connectionString: URL, max: BATCHES_IN_FLIGHT });
  const schema = `sb_bench_${randomBytes(4).toString('hex')}`;
  try {
    return await work(admin, schema);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

/** The events both sides store: sensor readings as CloudEvents, the envelope a publisher would make. */
function events(source: string): Envelope[] {
  return Array.from({ length: N }, (_, i) => createEnvelope({
    source, type: 'sensor.reading', id: randomUUID(), data: sensorReading(i), dataschema: DATASCHEMA, partitionkey: `sensor-${i % 20}`,
  }));
}

/** `INSERT … VALUES ($1…$16), (…) … ON CONFLICT DO NOTHING` for `rows` rows: what a user writes by hand with pg. */
function multiRowInsert(schema: string, table: string, rows: number): string {
  const values: string[] = [];
  for (let r = 0; r < rows; r++) values.push(`(${COLUMNS.map(([, type], c) => `$${r * COLUMNS.length + c + 1}::${type}`).join(', ')})`);
  return `INSERT INTO "${schema}"."${table}" (${COLUMNS.map(([n]) => `"${n}"`).join(', ')}) VALUES ${values.join(', ')} ON CONFLICT (source, id) DO NOTHING`;
}

const scenarios: Scenario[] = [
  {
    name: 'sink-postgres',
    description: `rows/s stored in PostgreSQL: events published on the memory transport through the sink nanoservice (batches of ${BATCH}, ${BATCHES_IN_FLIGHT} in flight, acked after commit) vs a raw pg multi-row INSERT of the same rows (${BATCH} a statement, ${BATCHES_IN_FLIGHT} in flight), ${N} ~200-byte readings`,
    async raw() {
      return withSchema(async (admin, schema) => {
        for (const s of createStatements(schema, 'raw_reading')) await admin.query(s);
        const rows: RowValues[] = events('/bench/raw').map(rowValues);
        const text = multiRowInsert(schema, 'raw_reading', BATCH);
        // Warm-up, as the sink gets: the statement planned, the connections open.
        const warm = events('/bench/warm').slice(0, WARMUP).map(rowValues);
        for (let b = 0; b < WARMUP / BATCH; b++) await admin.query(text, warm.slice(b * BATCH, (b + 1) * BATCH).flat());
        const t0 = performance.now();
        await windowed(Math.ceil(N / BATCH), BATCHES_IN_FLIGHT, async (b) => {
          const chunk = rows.slice(b * BATCH, (b + 1) * BATCH);
          const statement = chunk.length === BATCH ? text : multiRowInsert(schema, 'raw_reading', chunk.length);
          await admin.query(statement, chunk.flat());
        });
        const seconds = (performance.now() - t0) / 1000;
        const stored = Number((await admin.query(`SELECT count(*) AS n FROM "${schema}".raw_reading`)).rows[0].n) - WARMUP;
        if (stored !== N) throw new Error(`raw insert stored ${stored} of ${N} rows`);
        return { msgs: N, seconds };
      });
    },
    async run() {
      return withSchema(async (admin, schema) => {
        const broker = new MemoryBroker();
        const sinkBus = new Bus({ service: 'sink@bench', transport: new MemoryTransport({ broker }), metrics: false, logger: quiet });
        const pub = new Bus({ service: 'readings@bench', transport: new MemoryTransport({ broker }), metrics: false, logger: quiet });
        await runNanoservice(sinkBus, createSinkService({ input: 'bench.sink.>', url: URL, schema, table: 'reading', maxBatchRows: BATCH, batchesInFlight: BATCHES_IN_FLIGHT }));
        await pub.start();
        const acked = sinkBus.countersFor('bench.sink.readings').acked;
        const data = events(pub.source).map((e) => e.data);
        const options = { type: 'sensor.reading', headers: { dataschema: DATASCHEMA } };
        // Warm-up: the JIT, the statement, the connections.
        await windowed(WARMUP, BATCH * (BATCHES_IN_FLIGHT + 1), (i) => pub.publish('bench.sink.readings', data[i], { ...options, partitionKey: `sensor-${i % 20}` }));
        await until(() => acked.count >= WARMUP);
        acked.count = 0;
        const t0 = performance.now();
        await windowed(N, BATCH * (BATCHES_IN_FLIGHT + 1), (i) => pub.publish('bench.sink.readings', data[i], { ...options, partitionKey: `sensor-${i % 20}` }));
        await until(() => acked.count >= N);
        const seconds = (performance.now() - t0) / 1000;
        await Promise.all([sinkBus.stop(), pub.stop()]);
        const stored = Number((await admin.query(`SELECT count(*) AS n FROM "${schema}".reading`)).rows[0].n) - WARMUP;
        if (stored !== N) throw new Error(`the sink stored ${stored} of ${N} rows`);
        return { msgs: N, seconds };
      });
    },
  },
];

export default scenarios;
