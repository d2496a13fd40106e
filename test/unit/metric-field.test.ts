import { expect } from 'chai';
import fc from 'fast-check';
import { formatMetricField, MetricFieldInvalidError, MetricsRecorder, parseMetricField, type MetricField } from '../../core/index.js';

const name = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/);
// Any subject or pattern is a context: tokens carry `~ : @ =` too.
const context = fc.stringMatching(/^[A-Za-z0-9._/*>~:@=-]{1,20}$/);
const verb = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,10}$/);
const query = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 12 }), { minKeys: 1, maxKeys: 4 });
const field: fc.Arbitrary<MetricField> = fc.record({ app: name, container: fc.option(name, { nil: undefined }), context, query: fc.option(query, { nil: undefined }), event: verb, action: verb })
  .map((f) => { const out: MetricField = { app: f.app, context: f.context, event: f.event, action: f.action }; if (f.container !== undefined) out.container = f.container; if (f.query !== undefined) out.query = f.query; return out; });

describe('metric fields', () => {
  it('metric fields - format the documented examples', () => {
    expect(formatMetricField({ app: 'filter', container: 'edge-1', context: 'sensor.reading', query: { site: 'berlin' }, event: 'received', action: 'forwarded' }))
      .to.equal('filter@edge-1:sensor.reading?site=berlin received forwarded');
    expect(formatMetricField({ app: 'alert', container: 'edge-1', context: 'sensor.aggregate', query: { rule: 'overheat', device: 'sensor-42' }, event: 'threshold', action: 'raised' }))
      .to.equal('alert@edge-1:sensor.aggregate?device=sensor-42&rule=overheat threshold raised');
  });

  it('metric fields - parse(format(x)) = x (property)', () => {
    fc.assert(fc.property(field, (f) => { expect(parseMetricField(formatMetricField(f))).to.deep.equal(f); }), { numRuns: 2000 });
  });

  it('metric fields - every subject the Bus accepts is a valid context (a gateway POST to /v1/events/%3A was a 500)', async () => {
    const { Bus } = await import('../../core/index.js');
    const { MemoryBroker, MemoryTransport } = await import('../../transports/memory/index.js');
    const bus = new Bus({ service: 'ctx', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false });
    await bus.start();
    try {
      for (const subject of [':', 'a:b', 'user@host.x', 'k=v.~tilde']) {
        await bus.publish(subject, 1);
        const sent = bus.countersFor(subject).published;
        expect(sent.count + sent.totalCount, subject).to.equal(1);
      }
    } finally {
      await bus.stop();
    }
    expect(parseMetricField('bus:a:b.@x=1~ published sent')).to.deep.equal({ app: 'bus', context: 'a:b.@x=1~', event: 'published', action: 'sent' });
  });

  it('metric fields - the strict parser rejects malformed lines with a typed error', () => {
    for (const bad of ['', 'svc:ctx received', 'svc:ctx Received forwarded', 'svc ctx a b', 'svc:ctx?b=1&a=2 x y', 'svc:ctx? x y',
      'svc:ctx?a=1&a=2 x y', 'sv c:ctx x y', 'svc:ctx x y z', 'svc@:ctx x y', 'svc:ctx?a=%20 x y']) {
      expect(() => parseMetricField(bad), bad).to.throw(MetricFieldInvalidError);
    }
    expect(() => formatMetricField({ app: 'a b', context: 'c', event: 'e', action: 'a' })).to.throw(MetricFieldInvalidError);
  });

  it('metric fields - the recorder aggregates count, sum, min and max per interval', () => {
    const rec = new MetricsRecorder('svc');
    const f = { app: 'svc', context: 'x.y', event: 'handled', action: 'timed' };
    rec.record(f, 5, 'ms'); rec.record(f, 1, 'ms'); rec.record(f, 9, 'ms');
    const batch = rec.take()!;
    expect(batch.fields).to.deep.equal([{ field: 'svc:x.y handled timed', count: 3, sum: 15, min: 1, max: 9, unit: 'ms' }]);
    expect(rec.take()).to.equal(undefined);
    rec.record(f, 2, 'ms');
    expect(rec.totals().get('svc:x.y handled timed')).to.deep.equal({ count: 4, sum: 17 });
  });

  it('metric fields - Prometheus exposition labels by service, container, context, event, action and allow-listed query keys', async () => {
    const rec = new MetricsRecorder('svc', { labelQueryKeys: ['site'] });
    rec.record({ app: 'svc', container: 'c1', context: 'sensor.reading', query: { site: 'berlin', device: 'd1' }, event: 'received', action: 'forwarded' });
    rec.record({ app: 'svc', container: 'c1', context: 'sensor.reading', query: { site: 'berlin', device: 'd1' }, event: 'received', action: 'forwarded' });
    const text = await rec.prometheus();
    expect(text).to.include('signalbus_metric_fields_total{service="svc",container="c1",context="sensor.reading",event="received",action="forwarded",site="berlin"} 2');
    expect(text).not.to.include('device=');
    rec.record({ app: 'svc', container: 'c1', context: 'sensor.reading', query: { site: 'berlin', device: 'd1' }, event: 'received', action: 'forwarded' });
    expect(await rec.prometheus()).to.include('site="berlin"} 3');
  });
});
