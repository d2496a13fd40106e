import { expect } from 'chai';
import { Bus } from '../../core/index.js';
import { KeyedMetrics } from '../../nanoservices/keyed-metrics.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

describe('nanoservice keyed metrics', () => {
  const newBus = (service: string) => new Bus({ service, transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });

  it('keyed metrics - bound or not, count the same fields ctx.metric counts', async () => {
    const bound = newBus('svc@a');
    const unbound = newBus('svc@b');
    for (const [bus, bind] of [[bound, true], [unbound, false]] as const) {
      const metrics = new KeyedMetrics('deviceId');
      const seen = metrics.field('received', 'evaluated');
      if (bind) metrics.bind(bus);
      let handled = 0;
      await bus.subscribe('in.>', (m, ctx) => { seen.add(ctx, 'sensor.reading', m.data as string | undefined); handled++; });
      for (const key of ['d1', 'd1', 'd2', undefined]) await bus.publish('in.x', key);
      await waitFor(() => handled === 4, { what: 'handled === 4' });
    }
    for (const [bus, container] of [[bound, 'a'], [unbound, 'b']] as const) {
      const totals = bus.metrics.totals();
      expect(totals.get(`svc@${container}:sensor.reading?deviceId=d1 received evaluated`)?.count).to.equal(2);
      expect(totals.get(`svc@${container}:sensor.reading?deviceId=d2 received evaluated`)?.count).to.equal(1);
      expect(totals.get(`svc@${container}:sensor.reading received evaluated`)?.count).to.equal(1);
    }
    await Promise.all([bound.stop(), unbound.stop()]);
  });

  it('keyed metrics - a field\'s fixed query entries join the key, bound or not', async () => {
    const bound = newBus('svc@a');
    const unbound = newBus('svc@b');
    for (const [bus, bind] of [[bound, true], [unbound, false]] as const) {
      const metrics = new KeyedMetrics('deviceId');
      const raised = metrics.field('threshold', 'raised', { rule: 'overheat' });
      if (bind) metrics.bind(bus);
      let handled = 0;
      await bus.subscribe('in.>', (m, ctx) => { raised.add(ctx, 'sensor.reading', m.data as string | undefined); handled++; });
      for (const key of ['d1', 'd1', undefined]) await bus.publish('in.x', key);
      raised.add(bus, 'sensor.reading', 'd2');
      await waitFor(() => handled === 3, { what: 'handled === 3' });
    }
    for (const [bus, container] of [[bound, 'a'], [unbound, 'b']] as const) {
      const totals = bus.metrics.totals();
      expect(totals.get(`svc@${container}:sensor.reading?deviceId=d1&rule=overheat threshold raised`)?.count).to.equal(2);
      expect(totals.get(`svc@${container}:sensor.reading?deviceId=d2&rule=overheat threshold raised`)?.count, 'counted on the Bus itself').to.equal(1);
      expect(totals.get(`svc@${container}:sensor.reading?rule=overheat threshold raised`)?.count).to.equal(1);
    }
    await Promise.all([bound.stop(), unbound.stop()]);
  });

  it('keyed metrics - after a restart on another bus, counts go to the new bus only', async () => {
    const first = newBus('svc@a');
    const second = newBus('svc@b');
    const metrics = new KeyedMetrics('deviceId');
    const seen = metrics.field('received', 'evaluated');
    metrics.bind(first);
    seen.add(first, 'sensor.reading', 'd1');
    metrics.unbind();
    metrics.bind(second);
    seen.add(second, 'sensor.reading', 'd1');
    seen.add(second, 'sensor.reading', 'd1');
    expect(first.metrics.totals().get('svc@a:sensor.reading?deviceId=d1 received evaluated')?.count).to.equal(1);
    expect(second.metrics.totals().get('svc@b:sensor.reading?deviceId=d1 received evaluated')?.count).to.equal(2);
    await Promise.all([first.stop(), second.stop()]);
  });

  it('keyed metrics - a definition started on two buses at once counts each on its own bus', async () => {
    const a = newBus('svc@a');
    const b = newBus('svc@b');
    const metrics = new KeyedMetrics('deviceId');
    const seen = metrics.field('received', 'evaluated');
    metrics.bind(a);
    metrics.bind(b);
    let handled = 0;
    for (const bus of [a, b]) await bus.subscribe('in.>', (_m, ctx) => { seen.add(ctx, 'sensor.reading', 'd1'); handled++; });
    await a.publish('in.x', 1);
    await b.publish('in.x', 1);
    await b.publish('in.x', 1);
    await waitFor(() => handled === 3, { what: 'handled === 3' });
    expect(a.metrics.totals().get('svc@a:sensor.reading?deviceId=d1 received evaluated')?.count).to.equal(1);
    expect(b.metrics.totals().get('svc@b:sensor.reading?deviceId=d1 received evaluated')?.count).to.equal(2);
    await Promise.all([a.stop(), b.stop()]);
  });
});
