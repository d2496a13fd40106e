import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type pg from 'pg';
import { Bus, type Envelope } from '../../core/index.js';
import { createSinkService, runNanoservice, SinkSchemaError, type RunningNanoservice, type SinkConfig } from '../../nanoservices/index.js';
import { openPool } from '../../nanoservices/sink/pg-driver.js';
import { prepareTable } from '../../nanoservices/sink/table.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { dropSchema, PG_TEST_URL, requirePostgres, testSchema } from '../helpers/postgres.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** A sink and a publisher on their own memory broker; the dead letters the sink makes are collected. */
async function world(config: Omit<SinkConfig, 'url'> & { url?: string }) {
  const broker = new MemoryBroker();
  const app = `sink-${randomBytes(3).toString('hex')}`;
  // A short grace period: a sink stopped while its batch waits for the database gives up after it.
  const sinkBus = new Bus({ service: `${app}@t`, transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger, stopTimeoutMs: 2000 });
  const pub = new Bus({ service: 'orders@t', transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger });
  const deadLetters: Envelope[] = [];
  await pub.subscribe('dlq.>', (m) => { deadLetters.push(m); });
  const sink = await runNanoservice(sinkBus, createSinkService({ url: PG_TEST_URL, maxBatchDelayMs: 5, ...config }));
  return {
    sinkBus, pub, sink, deadLetters, app,
    /** Messages the sink's bus acked: counted under its subscription pattern, every subject of `input` together. */
    acked: () => { const c = sinkBus.countersFor(`${config.input.replace(/\.>$/, '')}.x`).acked; return c.count + c.totalCount; },
    // The Bus' stop drains the sink's handlers (aborting them after its grace period), then stops the sink.
    stop: async () => { await Promise.all([sinkBus.stop(), pub.stop()]); },
  };
}

type World = Awaited<ReturnType<typeof world>>;

describe('sink - PostgreSQL', function () {
  this.timeout(20_000);
  let admin: pg.Pool | undefined;
  let schema: string;
  const worlds: World[] = [];
  const count = async (table: string, where = 'true'): Promise<number> =>
    Number((await admin!.query(`SELECT count(*) AS n FROM "${schema}"."${table}" WHERE ${where}`)).rows[0].n);

  before(async function () { admin = await requirePostgres(this); });
  beforeEach(() => { schema = testSchema(); });
  afterEach(async () => {
    await Promise.all(worlds.splice(0).map((w) => w.stop()));
    await dropSchema(admin, schema);
  });
  after(async () => { await admin?.end(); });

  it('sink - stores an event sent twice once (primary key source + id), with its attributes as columns and its data as jsonb', async () => {
    const w = await world({ input: 'orders.>', schema });
    worlds.push(w);
    const options = { id: 'order-1', type: 'order.placed', partitionKey: 'cust-9', headers: { dataschema: 'urn:signalbus:contract:order.placed:1.2.0', region: 'eu' } };
    await w.pub.publish('orders.placed', { amount: 12.5, items: ['a', 'b'] }, options);
    await w.pub.publish('orders.placed', { amount: 12.5, items: ['a', 'b'] }, options);
    // Same id from another source is another event.
    const other = new Bus({ service: 'shop@t', transport: new MemoryTransport({ broker: (w.pub.transportFor('orders.placed') as MemoryTransport).broker }), metrics: false, logger: silentLogger });
    await other.publish('orders.placed', { amount: 1 }, options);
    await other.stop();
    await waitFor(() => w.acked() === 3, { what: 'three messages acked' });
    expect(await count('order_placed_v1')).to.equal(2);
    const { rows } = await admin!.query(`SELECT * FROM "${schema}".order_placed_v1 WHERE source = $1`, [w.pub.source]);
    expect(rows).to.have.length(1);
    const row = rows[0];
    expect(row).to.include({ id: 'order-1', type: 'order.placed', specversion: '1.0', partitionkey: 'cust-9', datacontenttype: 'application/json', dataschema: 'urn:signalbus:contract:order.placed:1.2.0' });
    expect(row.data).to.deep.equal({ amount: 12.5, items: ['a', 'b'] });
    expect(row.extensions).to.deep.equal({ region: 'eu' });
    expect(row.time).to.be.instanceOf(Date);
    expect(row.stored_at).to.be.instanceOf(Date);
    expect(w.deadLetters).to.deep.equal([]);
  });

  it('sink - puts a new major version of a contract in a new table, and every event in a named table when given one', async () => {
    const w = await world({ input: 'orders.>', schema });
    worlds.push(w);
    await w.pub.publish('orders.placed', { amount: 1 }, { type: 'order.placed', headers: { dataschema: 'urn:signalbus:contract:order.placed:1.0.0' } });
    await w.pub.publish('orders.placed', { amount: 2 }, { type: 'order.placed', headers: { dataschema: 'urn:signalbus:contract:order.placed:1.3.0' } });
    await w.pub.publish('orders.placed', { total: { value: 3 } }, { type: 'order.placed', headers: { dataschema: 'urn:signalbus:contract:order.placed:2.0.0' } });
    await w.pub.publish('orders.note', 'no contract', { type: 'order.note' });
    await waitFor(() => w.acked() === 4, { what: 'four messages acked' });
    expect(await count('order_placed_v1')).to.equal(2);
    expect(await count('order_placed_v2')).to.equal(1);
    expect(await count('order_note')).to.equal(1);

    const named = await world({ input: 'orders.>', schema, table: 'all_orders' });
    worlds.push(named);
    await named.pub.publish('orders.placed', { amount: 4 }, { type: 'order.placed' });
    await named.pub.publish('orders.refunded', { amount: 4 }, { type: 'order.refunded' });
    await waitFor(async () => (await count('all_orders')) === 2, { what: 'both events in all_orders' });
  });

  it('sink - the copies of a sink in one process (one per partition lease when scaled) share one pool: batchesInFlight + 1 connections, not one pool each', async () => {
    const w = await world({ input: 'orders.>', schema, batchesInFlight: 2, table: 'orders' });
    worlds.push(w);
    // Seven more copies of the same sink on the same Bus, as a scaled pipeline runs them.
    const copies: RunningNanoservice[] = [];
    for (let i = 0; i < 7; i++) copies.push(await runNanoservice(w.sinkBus, createSinkService({ url: PG_TEST_URL, input: `orders${i}.>`, schema, table: 'orders', maxBatchDelayMs: 5 })));
    for (let i = 0; i < 7; i++) for (let n = 0; n < 50; n++) await w.pub.publish(`orders${i}.placed`, { n });
    for (let n = 0; n < 50; n++) await w.pub.publish('orders.placed', { n });
    await waitFor(async () => await count('orders').catch(() => 0) === 400, { what: 'all 400 rows stored', timeoutMs: 15_000 });
    const connections = async (): Promise<number> => Number((await admin!.query(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [`signalbus ${w.app}@t`])).rows[0].n);
    expect(await connections()).to.be.within(1, 3);
    // The pool outlives a copy that stops, and ends with the last.
    await copies[0]!.stop();
    await w.pub.publish('orders.placed', { n: 'after' });
    await waitFor(async () => await count('orders') === 401, { what: 'a row after one copy stopped' });
    for (const c of copies.slice(1)) await c.stop();
    await w.sinkBus.stop();
    await waitFor(async () => await connections() === 0, { what: 'the pool ended with the last copy' });
  });

  it('sink - dead-letters a row PostgreSQL refuses with the database\'s code, and stores the rest of its batch', async () => {
    const w = await world({ input: 'orders.>', schema, maxBatchDelayMs: 200 });
    worlds.push(w);
    // jsonb cannot hold \u0000 (SQLSTATE 22P05): valid JSON, valid for signalbus, refused by the database.
    await Promise.all([
      w.pub.publish('orders.placed', { amount: 1 }, { type: 'order.placed', id: 'ok-1' }),
      w.pub.publish('orders.placed', { amount: 2, note: 'bad\u0000byte' }, { type: 'order.placed', id: 'poison' }),
      w.pub.publish('orders.placed', { amount: 3 }, { type: 'order.placed', id: 'ok-2' }),
    ]);
    await waitFor(() => w.deadLetters.length === 1 && w.acked() === 2, { what: () => `the dead letter and two acks (got ${w.deadLetters.length}, ${w.acked()})` });
    expect(await count('order_placed', `id IN ('ok-1', 'ok-2')`)).to.equal(2);
    expect(await count('order_placed')).to.equal(2);
    const dl = w.deadLetters[0]!;
    expect(dl).to.include({ id: 'poison', dlqreason: 'SB_ERR_SINK_REFUSED', dlqattempts: '1', dlqsubject: 'orders.placed' });
    expect(dl.dlqmessage).to.match(/^SQLSTATE 22P05: /);

    // A constraint the table's owner added: SQLSTATE 23514 (check_violation).
    await admin!.query(`ALTER TABLE "${schema}".order_placed ADD CONSTRAINT amount_positive CHECK ((data->>'amount')::numeric > 0)`);
    await w.pub.publish('orders.placed', { amount: -5 }, { type: 'order.placed', id: 'negative' });
    await waitFor(() => w.deadLetters.length === 2, { what: 'the second dead letter' });
    expect(w.deadLetters[1]).to.include({ id: 'negative', dlqreason: 'SB_ERR_SINK_REFUSED' });
    expect(w.deadLetters[1]!.dlqmessage).to.match(/^SQLSTATE 23514: .*amount_positive/);
    expect(await count('order_placed')).to.equal(2);
  });

  it('sink - setup check creates nothing: a missing table dead-letters its rows (SB_ERR_SINK_SCHEMA) and a missing named table fails the start', async () => {
    const w = await world({ input: 'orders.>', schema, setup: 'check' });
    worlds.push(w);
    await w.pub.publish('orders.placed', { amount: 1 }, { type: 'order.placed' });
    await waitFor(() => w.deadLetters.length === 1, { what: 'the dead letter' });
    expect(w.deadLetters[0]).to.include({ dlqreason: 'SB_ERR_SINK_SCHEMA' });
    const schemas = await admin!.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema]);
    expect(schemas.rows, 'no schema created').to.have.length(0);

    const bus = new Bus({ service: 'sink@check', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    try {
      let failed: unknown;
      await runNanoservice(bus, createSinkService({ input: 'orders.>', url: PG_TEST_URL, schema, table: 'orders', setup: 'check' })).catch((err: unknown) => { failed = err; });
      expect(failed).to.be.instanceOf(SinkSchemaError);
    } finally {
      await bus.stop();
    }
  });

  it('sink - while PostgreSQL is unreachable, holds the messages unacked and retries; stores all once it is back', async () => {
    const proxy = await TcpProxy.start(new URL(PG_TEST_URL));
    try {
      const url = new URL(PG_TEST_URL);
      url.host = `127.0.0.1:${proxy.port}`;
      const w = await world({ input: 'orders.>', schema, url: url.href, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
      worlds.push(w);
      await w.pub.publish('orders.placed', { n: -1 }, { type: 'order.placed' });
      await waitFor(() => w.acked() === 1, { what: 'the first event stored' });
      proxy.down();
      const sends = Array.from({ length: 50 }, (_, n) => w.pub.publish('orders.placed', { n }, { type: 'order.placed' }));
      await Promise.all(sends);
      await sleep(800); // the database stays away for a while: that is the point
      expect(w.acked(), 'nothing acked while the database is away').to.equal(1);
      expect(w.deadLetters, 'nothing dead-lettered').to.deep.equal([]);
      proxy.up();
      await waitFor(() => w.acked() === 51, { timeoutMs: 10_000, what: () => `51 acks (got ${w.acked()})` });
      expect(await count('order_placed')).to.equal(51);
      expect(w.deadLetters).to.deep.equal([]);
    } finally {
      await proxy.close();
    }
  });

  it('sink - sinks preparing different tables of one new schema at once do not collide on creating the schema', async () => {
    const pools = await Promise.all(Array.from({ length: 6 }, () => openPool({ connectionString: PG_TEST_URL, max: 1, applicationName: 'signalbus sink-schema-race@t', connectionTimeoutMillis: 3000 })));
    try {
      for (let round = 0; round < 3; round++) {
        const fresh = `${schema}_${round}`;
        try {
          const outcomes = await Promise.all(pools.map((pool, i) => prepareTable(pool, fresh, `t${i}`, 'create').then(() => 'ok', (e: unknown) => String(e))));
          expect(outcomes).to.deep.equal(pools.map(() => 'ok'));
        } finally {
          await dropSchema(admin, fresh);
        }
      }
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('sink - a connection terminated while it prepares a table (inside the create transaction) fails that try, crashes nothing, and the pool prepares it next time', async () => {
    const application = `signalbus sink-prepare-${randomBytes(3).toString('hex')}@t`;
    const pool = await openPool({ connectionString: PG_TEST_URL, max: 2, applicationName: application, connectionTimeoutMillis: 3000 });
    pool.on('error', () => undefined);
    // The test holds the sink's advisory lock, so the create transaction waits inside it.
    const holder = await admin!.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtext('signalbus.sink:' || $1))`, [schema]);
      const preparing = prepareTable(pool, schema, 'reading', 'create').then(() => null, (e: unknown) => e);
      const waiting = async () => (await admin!.query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [application])).rows;
      await waitFor(async () => (await waiting()).length === 1, { what: 'the create transaction waiting for the lock' });
      await admin!.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [application]);
      const failed = await preparing;
      expect(failed, 'the try fails').to.be.instanceOf(Error);
      await holder.query('COMMIT');
      await prepareTable(pool, schema, 'reading', 'create');
      expect(await count('reading')).to.equal(0);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
      await pool.end();
    }
  });
});

/** A TCP forwarder to PostgreSQL that the test can take down (every connection cut, new ones refused) and up. */
class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private accepting = true;

  private constructor(private readonly server: net.Server, private readonly target: { host: string; port: number }) {}

  static async start(target: URL): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = net.createServer((client) => proxy!.accept(client));
    proxy = new TcpProxy(server, { host: target.hostname, port: Number(target.port || 5432) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number { return (this.server.address() as net.AddressInfo).port; }

  down(): void {
    this.accepting = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  up(): void { this.accepting = true; }

  async close(): Promise<void> {
    this.down();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: net.Socket): void {
    if (!this.accepting) { client.destroy(); return; }
    const upstream = net.connect(this.target);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => { this.sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
