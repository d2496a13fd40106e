import { expect } from 'chai';
import { Bus, OptionsInvalidError, type SubscribeOptions } from '../../core/index.js';
import { BUS_DEFAULTS, resolveBusOptions, resolveSubscribeOptions } from '../../core/bus-options.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { silentLogger } from '../helpers/silent-logger.js';

const transport = () => new MemoryTransport({ broker: new MemoryBroker() });

function fieldOf(fn: () => unknown): unknown {
  try { fn(); } catch (err) {
    expect(err).to.be.instanceOf(OptionsInvalidError);
    return (err as OptionsInvalidError).details?.field;
  }
  throw new Error('no error');
}

describe('bus options - defaults and validation', () => {
  it('bus options - every default comes from BUS_DEFAULTS', () => {
    const o = resolveBusOptions({ service: 'opts', transport: transport(), logger: silentLogger });
    expect(o).to.include({
      requestTimeoutMs: BUS_DEFAULTS.requestTimeoutMs, maxPendingPublishes: BUS_DEFAULTS.maxPendingPublishes, onPublishFull: BUS_DEFAULTS.onPublishFull,
      stopTimeoutMs: BUS_DEFAULTS.stopTimeoutMs, metricsIntervalMs: BUS_DEFAULTS.metricsIntervalMs, deadLetterPrefix: BUS_DEFAULTS.deadLetterPrefix,
      headerLimits: BUS_DEFAULTS.headerLimits, publishMetrics: true, handleSignals: false,
    });
    expect(o.retry).to.deep.equal(BUS_DEFAULTS.retry);
    const sub = (opts: SubscribeOptions) => resolveSubscribeOptions('a.b', opts, o, () => o.defaultTransport);
    expect(sub({})).to.include({ maxInFlight: BUS_DEFAULTS.maxInFlight, maxPending: BUS_DEFAULTS.maxPending, onFull: BUS_DEFAULTS.onFull, ordered: false });
    expect(sub({ ordered: true }).maxInFlight).to.equal(BUS_DEFAULTS.orderedMaxInFlight);
    expect(resolveBusOptions({ service: 'opts', transport: transport(), logger: silentLogger, metrics: false }).metricsIntervalMs).to.equal(0);
  });

  it('bus options - a bad field is an OptionsInvalidError naming it', () => {
    const make = (extra: Record<string, unknown>) => () => new Bus({ service: 'opts', transport: transport(), logger: silentLogger, ...extra });
    expect(fieldOf(() => new Bus({ service: 'opts', logger: silentLogger }))).to.equal('transport');
    expect(fieldOf(make({ routes: [{ pattern: 'a.>', transport: 'nope' }] }))).to.equal('routes[0].transport');
    expect(fieldOf(make({ requestTimeoutMs: 0 }))).to.equal('requestTimeoutMs');
    expect(fieldOf(make({ maxPendingPublishes: Number.NaN }))).to.equal('maxPendingPublishes');
    expect(fieldOf(make({ stopTimeoutMs: -1 }))).to.equal('stopTimeoutMs');
    expect(fieldOf(make({ onPublishFull: 'drop' }))).to.equal('onPublishFull');
    expect(fieldOf(make({ metrics: { intervalMs: -5 } }))).to.equal('metrics.intervalMs');
    expect(fieldOf(make({ retry: { maxAttempts: 0 } }))).to.equal('maxAttempts');
    const o = resolveBusOptions({ service: 'opts', transport: transport(), logger: silentLogger });
    const sub = (opts: Record<string, unknown>) => () => resolveSubscribeOptions('a.b', opts as SubscribeOptions, o, () => o.defaultTransport);
    expect(fieldOf(sub({ maxInFlight: 0 }))).to.equal('maxInFlight');
    expect(fieldOf(sub({ maxPending: 1.5 }))).to.equal('maxPending');
    expect(fieldOf(sub({ onFull: 'drop' }))).to.equal('onFull');
    expect(fieldOf(sub({ transport: 'nope' }))).to.equal('transport');
    expect(fieldOf(sub({ partitions: { count: 2, instanceIndex: 2, instanceCount: 2 } }))).to.equal('partitions');
  });
});
