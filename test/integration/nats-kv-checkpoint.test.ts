import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { Bus, type Envelope } from '../../core/index.js';
import { createAggregateService, runNanoservice } from '../../nanoservices/index.js';
import { KvCheckpointStore } from '../../checkpoints/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const SERVERS = 'nats://127.0.0.1:4222';

describe('nats KV checkpoints', function () {
  this.timeout(30_000);
  const bucket = `sb-test-${randomUUID().slice(0, 8)}`;
  before(async function () { await requireBroker(this, 'nats'); });
  after(async () => {
    const nc = await connect({ servers: SERVERS });
    await (await nc.jetstreamManager()).streams.delete(`KV_${bucket}`).catch(() => undefined);
    await nc.close();
  });

  it('nats kv - saves, loads and deletes snapshots; names with any characters are keys', async () => {
    const store = await KvCheckpointStore.open({ servers: SERVERS, bucket });
    expect(await store.load('aggregate')).to.equal(undefined);
    await store.save('aggregate', { v: 1, keys: [['d-1', { n: 2 }]] });
    await store.save('agg regate/ü', { other: true });
    expect(await store.load('aggregate')).to.deep.equal({ v: 1, keys: [['d-1', { n: 2 }]] });
    expect(await store.load('agg regate/ü')).to.deep.equal({ other: true });
    await store.delete('aggregate');
    expect(await store.load('aggregate')).to.equal(undefined);
    await store.close();
    await store.close();
    await KvCheckpointStore.open({ servers: SERVERS, bucket: 'bad bucket' }).then(() => { throw new Error('accepted'); }, (e) => expect(e.code).to.equal('SB_ERR_OPTIONS_INVALID'));
  });

  it('nats kv - an aggregate restarted with a new connection resumes its open windows', async () => {
    const broker = new MemoryBroker();
    const bus = (service: string) => new Bus({ service, transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger });
    const T0 = 1_700_000_000_000;
    const producer = bus('producer@t'); const watcher = bus('watcher@t');
    const aggregates: Envelope[] = [];
    await watcher.subscribe('sensor.aggregate.>', async (m) => { aggregates.push(m); });
    const config = { name: `agg-${randomUUID().slice(0, 6)}`, input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature'], window: { kind: 'tumbling' as const, sizeMs: 5000 }, tickIntervalMs: 0 };
    const send = (i: number) => producer.publish('sensor.valid.d-1', { deviceId: 'd-1', ts: T0 + i * 1000, temperature: i }, { type: 'sensor.reading', partitionKey: 'd-1' });

    const firstStore = await KvCheckpointStore.open({ servers: SERVERS, bucket });
    const firstBus = bus('aggregate@a');
    await runNanoservice(firstBus, createAggregateService({ ...config, checkpointStore: firstStore }));
    for (let i = 0; i < 3; i++) await send(i);
    await waitFor(() => (firstBus.metrics.totals().get('aggregate@a:sensor.reading?deviceId=d-1 received accepted')?.count ?? 0) === 3, { timeoutMs: 5000, what: 'three readings' });
    await firstBus.stop(); // saves the checkpoint
    await firstStore.close();

    const secondStore = await KvCheckpointStore.open({ servers: SERVERS, bucket });
    const secondBus = bus('aggregate@b');
    await runNanoservice(secondBus, createAggregateService({ ...config, checkpointStore: secondStore }));
    for (let i = 3; i < 6; i++) await send(i);
    await waitFor(() => aggregates.length === 1, { timeoutMs: 5000, what: 'the window' });
    expect(aggregates[0]!.data).to.deep.include({ count: 5, sum: 0 + 1 + 2 + 3 + 4 });
    await Promise.all([secondBus.stop(), producer.stop(), watcher.stop()]);
    await secondStore.close();
  });
});
