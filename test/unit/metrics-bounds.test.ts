import { expect } from 'chai';
import { Bus, MetricsRecorder, OptionsInvalidError, processMetrics, type Logger, type MetricField } from '../../core/index.js';
import { createFilterService, runNanoservice } from '../../nanoservices/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { parseExposition, samplesOf, type Sample } from '../helpers/prometheus-exposition.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

const COUNT = 'signalbus_metric_fields_total';

/** A logger keeping its warnings. */
function warnings(): Logger & { seen: string[] } {
  const seen: string[] = [];
  const logger = { ...silentLogger, seen, warn(msg: string) { seen.push(msg); }, child() { return logger; } };
  return logger;
}

const sum = (samples: Sample[]) => samples.reduce((n, s) => n + s.value, 0);

describe('metrics - bounds and the process-wide exposition', function () {
  this.timeout(20_000);

  it('metrics - 100,000 devices through a filter keep the recorder and the exposition bounded, and every reading counted', async () => {
    const bus = new Bus({ service: 'filter@bound', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const service = await runNanoservice(bus, createFilterService({
      input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', keyField: 'data.deviceId', keyAs: 'deviceId', where: { path: 'data.temperature', lte: 150 },
    }));
    const devices = 100_000;
    let peakFields = 0;
    for (let i = 0; i < devices; i++) {
      const deviceId = `d-${i}`;
      await bus.publish(`sensor.reading.${deviceId}`, { deviceId, temperature: i % 10 === 0 ? 500 : 20 }, { type: 'sensor.reading' });
      // The Bus's metric timer, every 5,000 readings: batches are what let idle fields go.
      if (i % 5000 === 4999) { peakFields = Math.max(peakFields, bus.metrics.fieldCount); await bus.flushMetrics(); }
    }
    const deliveredOf = () => bus.metrics.totals().get('filter@bound:sensor.reading.> received delivered')?.count ?? 0;
    await waitFor(() => deliveredOf() === devices, { timeoutMs: 10_000, what: () => `${devices} deliveries (${deliveredOf()})` });
    peakFields = Math.max(peakFields, bus.metrics.fieldCount);
    expect(peakFields, 'field texts held').to.be.at.most(10_000);
    expect(bus.metrics.seriesCount, 'series held (each subject context makes nine, most never counted)').to.be.below(30);

    const families = parseExposition(await processMetrics.prometheus([bus.metrics]));
    const mine = samplesOf(families, COUNT).filter((s) => s.labels.container === 'bound');
    expect(mine.length, 'series exposed').to.be.below(20);
    for (const s of mine) expect(s.labels.context, 'a bounded context').to.be.oneOf(['sensor.reading', 'sensor.reading.>', 'sensor.>']);
    const of = (context: string, event: string, action: string) => sum(mine.filter((s) => s.labels.context === context && s.labels.event === event && s.labels.action === action));
    // Fields let go of along the way still count in their series.
    expect(of('sensor.reading', 'passed', 'forwarded')).to.equal(devices * 0.9);
    expect(of('sensor.reading', 'rejected', 'dropped')).to.equal(devices * 0.1);
    expect(of('sensor.reading.>', 'received', 'delivered')).to.equal(devices);
    // A subject this Bus subscribes to counts under that pattern; the filter's output under its first token.
    expect(of('sensor.reading.>', 'published', 'sent')).to.equal(devices);
    expect(of('sensor.>', 'published', 'sent')).to.equal(devices * 0.9);
    await service.stop();
    await bus.stop();
  });

  it('metrics - ctx.metric without a context counts under the subscription pattern, not the subject', async () => {
    const bus = new Bus({ service: 'svc@ctx', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    let handled = 0;
    await bus.subscribe('orders.*.placed', (_m, ctx) => { ctx.metric('received', 'counted'); handled++; });
    for (let i = 0; i < 50; i++) await bus.publish(`orders.o-${i}.placed`, i);
    await waitFor(() => handled === 50, { what: '50 orders handled' });
    const totals = bus.metrics.totals();
    expect(totals.get('svc@ctx:orders.*.placed received counted')?.count).to.equal(50);
    expect([...totals.keys()].filter((f) => f.includes('o-1')), 'no field names an order').to.deep.equal([]);
    await bus.stop();
  });

  it('metrics - past maxSeries new label sets fold into one _other_ series, with one warning', async () => {
    const logger = warnings();
    const rec = new MetricsRecorder('svc', { maxSeries: 100, logger });
    for (let i = 0; i < 1000; i++) rec.record({ app: 'svc', container: 'c', context: `ctx.n${i}`, event: 'received', action: 'counted' });
    expect(rec.seriesCount).to.equal(101);
    expect(logger.seen).to.have.length(1);
    const samples = samplesOf(parseExposition(await rec.prometheus()), COUNT);
    expect(samples).to.have.length(101);
    expect(samples.find((s) => s.labels.context === '_other_')).to.deep.include({ value: 900, labels: { service: 'svc', container: 'c', context: '_other_', event: '_other_', action: '_other_' } });
    expect(sum(samples)).to.equal(1000);
  });

  it('metrics - past maxFields idle fields are let go, their handles still count, and busy ones fold into _other_ in batches', () => {
    const logger = warnings();
    const rec = new MetricsRecorder('svc', { maxFields: 100, logger });
    const field = (device: string): MetricField => ({ app: 'svc', context: 'sensor.reading', query: { deviceId: device }, event: 'received', action: 'counted' });
    const kept = rec.counter(field('kept'));
    kept.add();
    rec.take();
    // 150 new devices in one interval: the idle "kept" is let go to make room for the 100th, the last 50 overflow.
    for (let i = 0; i < 150; i++) rec.record(field(`d-${i}`));
    expect(rec.fieldCount).to.be.at.most(101);
    expect(logger.seen).to.have.length(1);
    let batch = rec.take()!;
    const counted = (text: string) => batch.fields.filter((f) => f.field === text).reduce((n, f) => n + f.count, 0);
    expect(counted('svc:_other_ received counted')).to.equal(50);
    expect(batch.fields.reduce((n, f) => n + f.count, 0)).to.equal(150);
    // The caller's handle was let go of; counting on it still lands (it comes back, or overflows).
    kept.add(); kept.add();
    batch = rec.take()!;
    expect(batch.fields.reduce((n, f) => n + f.count, 0)).to.equal(2);
    expect(rec.fieldCount).to.be.at.most(101);
  });

  it('metrics - fields with a value expose its sum, min and max; plain counts do not', async () => {
    const rec = new MetricsRecorder('svc');
    const timed = { app: 'svc', context: 'x.y', event: 'handled', action: 'timed' };
    for (const v of [5, 1, 9]) rec.record(timed, v, 'ms');
    rec.record({ app: 'svc', context: 'x.y', event: 'received', action: 'counted' });
    const families = parseExposition(await rec.prometheus());
    const only = (name: string) => samplesOf(families, name).map((s) => [s.labels.event, s.value]);
    expect(only(COUNT)).to.have.deep.members([['handled', 3], ['received', 1]]);
    expect(only('signalbus_metric_field_value_sum')).to.deep.equal([['handled', 15]]);
    expect(only('signalbus_metric_field_value_min')).to.deep.equal([['handled', 1]]);
    expect(only('signalbus_metric_field_value_max')).to.deep.equal([['handled', 9]]);
    expect(families.get('signalbus_metric_field_value_max')!.type).to.equal('gauge');
  });

  it('metrics - processMetrics shows every running Bus, with allow-listed query keys merged, and forgets a stopped one', async () => {
    const broker = new MemoryBroker();
    const make = (service: string, labelQueryKeys?: string[]) => new Bus({ service, transport: new MemoryTransport({ broker }), metrics: { intervalMs: 0, ...(labelQueryKeys ? { labelQueryKeys } : {}) }, logger: silentLogger });
    const a = make('svc-a@pm', ['rule']);
    const b = make('svc-b@pm');
    await Promise.all([a.start(), b.start()]);
    a.metric('threshold', 'raised', { context: 'sensor.reading', query: { rule: 'overheat', deviceId: 'd-1' } });
    b.metric('received', 'counted', { context: 'sensor.reading', query: { rule: 'other' } });
    const mine = async () => samplesOf(parseExposition(await processMetrics.prometheus()), COUNT).filter((s) => s.labels.container === 'pm');
    expect((await mine()).map((s) => [s.labels.service, s.labels.rule, s.labels.deviceId])).to.have.deep.members([['svc-a', 'overheat', undefined], ['svc-b', '', undefined]]);
    await a.stop();
    expect((await mine()).map((s) => s.labels.service)).to.deep.equal(['svc-b']);
    await b.stop();
    expect(await mine()).to.deep.equal([]);
  });

  it('metrics - labelQueryKeys must be Prometheus label names other than the base labels', () => {
    for (const [keys, field] of [[['site', 'bad-key'], 'metrics.labelQueryKeys[1]'], [['context'], 'metrics.labelQueryKeys[0]'], [['__x'], 'metrics.labelQueryKeys[0]'], [['a', 'a'], 'metrics.labelQueryKeys[1]']] as const) {
      const err = (() => { try { new MetricsRecorder('svc', { labelQueryKeys: [...keys] }); } catch (e) { return e; } })();
      expect(err, keys.join()).to.be.instanceOf(OptionsInvalidError);
      expect((err as OptionsInvalidError).details, keys.join()).to.deep.equal({ field });
    }
  });
});

describe('prometheus exposition parser (test helper)', () => {
  it('exposition parser - reads prom-client output and refuses malformed text', () => {
    const ok = parseExposition('# HELP a_total help \\\\ text\n# TYPE a_total counter\na_total{x="q\\"uote\\n",y=""} 3\na_total 1.5e3\n');
    expect(ok.get('a_total')!.samples.map((s) => [s.labels, s.value])).to.deep.equal([[{ x: 'q"uote\n', y: '' }, 3], [{}, 1500]]);
    for (const bad of [
      'a_total 1\n', // no TYPE/HELP before
      '# TYPE a counter\na{x="1"} 1\na{x="1"} 2\n', // a series twice
      '# TYPE a counter\na{x="1",x="2"} 1\n', // a label twice
      '# TYPE a counter\na{x=1} 1\n', // unquoted
      '# TYPE a counter\na{x="\\q"} 1\n', // bad escape
      '# TYPE a counter\na one\n', // not a number
      '# TYPE a counter\nb 1\n', // another family's sample
      '# TYPE a counter\n# TYPE a gauge\n', // typed twice
    ]) expect(() => parseExposition(bad), JSON.stringify(bad)).to.throw();
  });
});
