import { expect } from 'chai';
import { Bus, type Envelope } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import {
  createAggregateService, createAlertService, createFilterService, createIngestService, MemoryCheckpointStore, runNanoservice,
  type RunningNanoservice,
} from '../../nanoservices/index.js';
import { ContractRegistry } from '../../contracts/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';
const encoder = new TextEncoder();
const T0 = 1_700_000_000_000; // a multiple of the 5 s window
const READINGS = 30;
const DEVICES = ['d-1', 'd-2', 'd-3', 'd-hot', 'd-bad'];

/** d-hot reads above 80 for readings 10..15, then cools to 70; the others stay near 20-25. */
function temperatureOf(device: string, i: number): number {
  if (device === 'd-hot') return i >= 10 && i <= 15 ? 85 + i : i > 15 ? 70 : 30;
  return 20 + ((i * 7 + device.length) % 6);
}

describe('nanoservices pipeline over memory', function () {
  this.timeout(15_000);
  let broker: MemoryBroker;
  const buses: Bus[] = [];
  const running: RunningNanoservice[] = [];
  const bus = (service: string) => {
    const b = new Bus({ service, transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
    buses.push(b);
    return b;
  };
  beforeEach(() => { broker = new MemoryBroker(); });
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
    for (const b of buses.splice(0)) await b.stop();
  });

  it('pipeline - raw readings in, aggregates and one alert episode out, a malformed payload dead-lettered, metric fields counted', async () => {
    let clock = Date.now();
    const ingestBus = bus('ingest@edge-1');
    const filterBus = bus('filter@edge-1');
    const aggregateBus = bus('aggregate@edge-1');
    const alertBus = bus('alert@edge-1');
    const devices = bus('devices@sim');
    const watcher = bus('watcher@test');

    const aggregates: Envelope[] = [];
    const alerts: Envelope[] = [];
    const deadLetters: Envelope[] = [];
    await watcher.subscribe('sensor.aggregate.>', (m) => { aggregates.push(m); });
    await watcher.subscribe('alerts.>', (m) => { alerts.push(m); });
    await watcher.subscribe('dlq.>', (m) => { deadLetters.push(m); });

    const aggregate = createAggregateService({
      name: 'aggregate-it', input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature', 'humidity'],
      window: { kind: 'tumbling', sizeMs: 5000 }, tickIntervalMs: 0, now: () => clock, checkpointStore: new MemoryCheckpointStore(),
    });
    running.push(
      await runNanoservice(ingestBus, createIngestService({ tenant: 'acme' })),
      await runNanoservice(filterBus, createFilterService({
        input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', keyField: 'data.deviceId',
        where: { path: 'data.temperature', gte: -50, lte: 150 },
      })),
      await runNanoservice(aggregateBus, aggregate),
      await runNanoservice(alertBus, createAlertService({
        input: 'sensor.valid.>', keyField: 'deviceId', output: 'alerts.{deviceId}',
        rules: [{ name: 'overheat', kind: 'threshold', field: 'temperature', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } }],
      })),
    );

    const hotIds: string[] = [];
    for (let i = 0; i < READINGS; i++) {
      for (const d of DEVICES) {
        const payload = JSON.stringify({ ts: T0 + i * 1000, temperature: temperatureOf(d, i), humidity: 40 + (i % 5) });
        const sent = await devices.publish(`devices.${d}.telemetry`, encoder.encode(payload));
        if (d === 'd-hot') hotIds.push(sent.id);
      }
      if (i === 7) {
        await devices.publish('devices.d-bad.telemetry', encoder.encode('{"ts": 17000000, "temperature": 2'));
        await devices.publish('devices.d-1.telemetry', encoder.encode(JSON.stringify({ ts: T0 + 7500, temperature: 900, humidity: 40 })));
      }
    }

    const total = (b: Bus, field: string) => b.metrics.totals().get(field)?.count ?? 0;
    const sum = (b: Bus, suffix: string) => [...b.metrics.totals()].filter(([f]) => f.endsWith(suffix)).reduce((n, [, v]) => n + v.count, 0);
    await waitFor(() => sum(alertBus, ' received evaluated') === READINGS * DEVICES.length && sum(aggregateBus, ' windowclosed emitted') === 5 * DEVICES.length, { timeoutMs: 10_000, what: 'sum(alertBus, \' received evaluated\') === READINGS * DEVICES.length && sum(aggregateBus, \' windowclosed emitted\') === 5 * DEVICES.length' });

    // The clock closes each device's last, still open window.
    clock += 5000;
    await aggregate.tick();
    await waitFor(() => aggregates.length === 2 * 6 * DEVICES.length, { what: 'aggregates.length === 2 * 6 * DEVICES.length' });

    // Ingest: every good payload forwarded, the malformed one dead-lettered at once with the reason.
    expect(sum(ingestBus, ' received forwarded')).to.equal(READINGS * DEVICES.length + 1);
    expect(total(ingestBus, 'ingest@edge-1:sensor.reading?deviceId=d-bad invalid deadlettered')).to.equal(1);
    expect(deadLetters).to.have.length(1);
    expect(deadLetters[0]).to.include({ dlqreason: 'SB_ERR_CODEC_DECODE', dlqsubject: 'devices.d-bad.telemetry', dlqservice: 'ingest@edge-1', dlqattempts: '1' });

    // Filter: the impossible reading dropped, the rest passed.
    expect(sum(filterBus, ' passed forwarded')).to.equal(READINGS * DEVICES.length);
    expect(total(filterBus, 'filter@edge-1:sensor.reading?deviceId=d-1 rejected dropped')).to.equal(1);

    // Aggregate: six 5 s windows of five readings per device and field, in order, for the right tenant.
    expect(sum(aggregateBus, ' received accepted')).to.equal(READINGS * DEVICES.length);
    expect(sum(aggregateBus, ' windowclosed emitted')).to.equal(6 * DEVICES.length);
    type Agg = { key: string; metric: string; count: number; min: number; max: number; window: { start: number } };
    for (const d of DEVICES) {
      for (const metric of ['temperature', 'humidity']) {
        const mine = aggregates.map((a) => a.data as Agg).filter((a) => a.key === d && a.metric === metric);
        expect(mine.map((w) => w.window.start - T0), `${d} ${metric}`).to.deep.equal([0, 5000, 10_000, 15_000, 20_000, 25_000]);
        expect(mine.map((w) => w.count), `${d} ${metric}`).to.deep.equal([5, 5, 5, 5, 5, 5]);
      }
    }
    expect(aggregates.every((a) => a.type === 'sensor.aggregate' && a.tenant === 'acme')).to.equal(true);
    const hot = aggregates.map((a) => a.data as Agg).find((a) => a.key === 'd-hot' && a.metric === 'temperature' && a.window.start === T0 + 10_000)!;
    expect(hot).to.include({ min: 95, max: 99 });

    // Alert: raised once on the third hot reading, resolved once on the third cool one.
    expect(alerts.map((a) => [a.type, (a.data as { key: string }).key])).to.deep.equal([['alert.raised', 'd-hot'], ['alert.resolved', 'd-hot']]);
    const [raised, resolved] = alerts as [Envelope, Envelope];
    expect(raised.data).to.deep.include({ rule: 'overheat', value: 97, threshold: 80, raisedAt: T0 + 12_000, since: T0 + 10_000 });
    expect(String(raised.causationids).split(',')).to.have.length(3);
    expect(raised.correlationid, 'the flow keeps the device message as its correlation id').to.equal(hotIds[12]);
    expect(resolved.data).to.deep.include({ value: 70, raisedAt: T0 + 12_000, resolvedAt: T0 + 18_000, durationMs: 6000 });
    expect(raised.tenant).to.equal('acme');
    expect(total(alertBus, 'alert@edge-1:sensor.reading?deviceId=d-hot&rule=overheat threshold raised')).to.equal(1);
    expect(total(alertBus, 'alert@edge-1:sensor.reading?deviceId=d-hot&rule=overheat threshold resolved')).to.equal(1);
  });

  it('pipeline - an aggregate restarted mid-stream keeps its open windows through the checkpoint', async () => {
    const store = new MemoryCheckpointStore();
    const producer = bus('producer@test');
    const watcher = bus('watcher@test');
    const aggregates: Envelope[] = [];
    await watcher.subscribe('sensor.aggregate.>', (m) => { aggregates.push(m); });
    const config = { name: 'aggregate-restart-it', input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature'], window: { kind: 'tumbling' as const, sizeMs: 5000 }, tickIntervalMs: 0, checkpointStore: store };
    const send = (i: number) => producer.publish('sensor.valid.d-1', { deviceId: 'd-1', ts: T0 + i * 1000, temperature: i }, { type: 'sensor.reading', partitionKey: 'd-1' });

    const firstBus = bus('aggregate@a');
    const first = await runNanoservice(firstBus, createAggregateService(config));
    for (let i = 0; i < 3; i++) await send(i);
    await waitFor(() => (firstBus.metrics.totals().get('aggregate@a:sensor.reading?deviceId=d-1 received accepted')?.count ?? 0) === 3, { what: '(firstBus.metrics.totals().get(\'aggregate@a:sensor.reading?deviceId=d-1 received accepted\')?.count ?? 0) === 3' });
    await first.stop();
    await firstBus.stop();

    const secondBus = bus('aggregate@b');
    running.push(await runNanoservice(secondBus, createAggregateService(config)));
    for (let i = 3; i < 6; i++) await send(i);
    await waitFor(() => aggregates.length === 1, { what: 'aggregates.length === 1' });
    expect(aggregates[0]!.data).to.deep.include({ count: 5, sum: 0 + 1 + 2 + 3 + 4 });
    expect((aggregates[0]!.data as { window: { start: number } }).window.start).to.equal(T0);
  });

  it('pipeline - two aggregate instances split the keys by static partitions, each key on one instance', async () => {
    const producer = bus('producer@test');
    const watcher = bus('watcher@test');
    const aggregates: Envelope[] = [];
    await watcher.subscribe('sensor.aggregate.>', (m) => { aggregates.push(m); });
    const instances = [bus('aggregate@p0'), bus('aggregate@p1')];
    for (const [index, b] of instances.entries()) {
      running.push(await runNanoservice(b, createAggregateService({
        name: `aggregate-part-${index}`, input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 },
        tickIntervalMs: 0, checkpoint: false, partitions: { count: 16, instanceIndex: index, instanceCount: 2 },
      })));
    }
    const keys = Array.from({ length: 20 }, (_, i) => `k-${i}`);
    for (const i of [0, 1, 2, 6]) {
      for (const k of keys) await producer.publish(`sensor.valid.${k}`, { deviceId: k, ts: T0 + i * 1000, temperature: i }, { type: 'sensor.reading', partitionKey: k });
    }
    await waitFor(() => aggregates.length >= keys.length, { what: 'one aggregate per key' });
    expect(aggregates).to.have.length(keys.length);
    expect(new Set(aggregates.map((a) => a.partitionkey)).size).to.equal(keys.length);
    expect(aggregates.every((a) => (a.data as { count: number }).count === 3)).to.equal(true);
    const bySource = new Set(aggregates.map((a) => a.source));
    expect(bySource.size, 'both instances took a share').to.equal(2);
  });

  it('pipeline - what the services emit validates against the standard contracts (registry wired in)', async () => {
    const registry = new ContractRegistry();
    const contracts = registry.hooks();
    const withContracts = (service: string) => {
      const b = new Bus({ service, transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger, contracts });
      buses.push(b);
      return b;
    };
    const watcher = withContracts('watcher@test');
    const seen: Envelope[] = [];
    const deadLetters: Envelope[] = [];
    for (const p of ['sensor.aggregate.>', 'alerts.>']) await watcher.subscribe(p, (m) => { seen.push(m); });
    await watcher.subscribe('dlq.>', (m) => { deadLetters.push(m); }, { raw: true });
    const aggregate = createAggregateService({
      name: 'aggregate-contracts-it', input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature', 'humidity'],
      window: { kind: 'sliding', sizeMs: 4000, slideMs: 2000 }, tickIntervalMs: 0, checkpoint: false, late: 'merge', allowedLatenessMs: 4000,
    });
    const aggregateBus = withContracts('aggregate@c');
    running.push(
      await runNanoservice(withContracts('ingest@c'), createIngestService({ static: { site: 'berlin' }, validate: (t, v, d) => registry.validate(t, v, d) })),
      await runNanoservice(withContracts('filter@c'), createFilterService({ input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', where: { path: 'data.temperature', lte: 150 } })),
      await runNanoservice(aggregateBus, aggregate),
      await runNanoservice(withContracts('alert@c'), createAlertService({
        input: 'sensor.valid.>', keyField: 'deviceId', rules: [
          { name: 'overheat', kind: 'threshold', field: 'temperature', severity: 'critical', raise: { value: 80, forReadings: 2 }, resolve: { value: 75, forReadings: 2 } },
          { name: 'jump', kind: 'rate', field: 'temperature', absolute: true, raise: { value: 20 }, resolve: { value: 5 } },
        ],
      })),
    );
    const devices = bus('devices@sim');
    const temps = [20, 21, 90, 95, 96, 60, 61, 62, 63];
    for (const [i, t] of temps.entries()) {
      await devices.publish('devices.d-1.telemetry', encoder.encode(JSON.stringify({ ts: T0 + i * 1000, temperature: t, humidity: 40 })));
    }
    await devices.publish('devices.d-1.telemetry', encoder.encode(JSON.stringify({ ts: T0 + 3500, temperature: 22, humidity: 40 })));
    await devices.publish('devices.d-1.telemetry', encoder.encode(JSON.stringify({ ts: T0 + 9000, temperature: 22, humidity: 140 })));
    // overheat raises at 95 and resolves at 61; jump raises at 21→90 and 96→60 and resolves on the next small step.
    await waitFor(() => deadLetters.length === 1 && seen.filter((m) => m.type.startsWith('alert.')).length === 6, { timeoutMs: 5000, what: 'deadLetters.length === 1 && seen.filter((m) => m.type.startsWith(\'alert.\')).length === 6' });
    const lateMerged = () => [...aggregateBus.metrics.totals()].filter(([f]) => f.endsWith(' late merged')).reduce((n, [, v]) => n + v.count, 0);
    await waitFor(() => lateMerged() === 1, { what: 'lateMerged() === 1' });

    expect(deadLetters[0]).to.include({ dlqreason: 'SB_ERR_CONTRACT_INVALID', dlqservice: 'ingest@c' });
    const types = seen.map((m) => m.type);
    expect(seen.filter((m) => m.type === 'alert.raised').map((m) => (m.data as { rule: string }).rule)).to.deep.equal(['jump', 'overheat', 'jump']);
    expect(types.filter((t) => t === 'alert.resolved')).to.have.length(3);
    expect(types.filter((t) => t === 'sensor.aggregate').length).to.be.greaterThan(4);
    expect(seen.some((m) => m.type === 'sensor.aggregate' && m.revision === '1'), 'a late merge re-emitted a window').to.equal(true);
    for (const m of seen) {
      expect(() => registry.validate(m.type, m.dataschema!.split(':').pop()!, m.data), `${m.type} ${JSON.stringify(m.data)}`).not.to.throw();
    }
  });
});
