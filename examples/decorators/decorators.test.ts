import { expect } from 'chai';
import { Bus, definitionFromInstance, startNanoservice, type Envelope } from '../../core/index.js';
import { createFilterService } from '../../nanoservices/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { PlausibleReadingsFilter } from './plausible-readings-filter.js';
import { waitFor } from '../../test/helpers/wait.js';
import { silentLogger } from '../../test/helpers/silent-logger.js';

describe('example: decorators', () => {
  it('decorators - the decorated filter and the data-configured filter behave the same', async () => {
    const results: Record<string, Array<[string, unknown]>> = {};
    const services = {
      decorated: new PlausibleReadingsFilter('sensor.valid'),
      configured: createFilterService({ input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', group: 'filter', keyField: 'data.deviceId', where: { path: 'data.temperature', gte: -50, lte: 150 } }),
    };
    for (const [name, service] of Object.entries(services)) {
      const broker = new MemoryBroker();
      const bus = new Bus({ service: 'filter@ex', transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger });
      await startNanoservice(bus, service);
      const out: Array<[string, unknown]> = [];
      await bus.subscribe('sensor.valid.>', async (m: Envelope, ctx) => { out.push([ctx.subject, m.data]); });
      for (const t of [21, 500, -60, 80]) await bus.publish('sensor.reading.d1', { deviceId: 'd1', temperature: t }, { type: 'sensor.reading', partitionKey: 'd1' });
      await waitFor(() => out.length === 2, { timeoutMs: 2000, what: `${name} output` });
      results[name] = out;
      expect(bus.metrics.totals().get(`filter@ex:sensor.reading?deviceId=d1 rejected dropped`)?.count, name).to.equal(2);
      await bus.stop();
    }
    expect(results.decorated).to.deep.equal(results.configured);
    expect(definitionFromInstance(services.decorated).subscriptions[0]).to.include({ pattern: 'sensor.reading.>', group: 'filter', kind: 'event' });
  });
});
