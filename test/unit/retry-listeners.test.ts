import { expect } from 'chai';
import { getEventListeners } from 'node:events';
import { Bus } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

/** The abort signal of the bus' only subscription: it lives as long as the subscription. */
function subscriptionSignal(bus: Bus): AbortSignal {
  const subs = (bus as unknown as { subscriptions: Set<{ controller: AbortController }> }).subscriptions;
  expect(subs.size).to.equal(1);
  return [...subs][0]!.controller.signal;
}

describe('retry - listeners on a subscription\'s stop signal under load', () => {
  const buses: Bus[] = [];
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => { if (w.name === 'MaxListenersExceededWarning') warnings.push(w); };
  const make = (extra: Record<string, unknown> = {}) => {
    const b = new Bus({ service: 'retry-listeners@t', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger, ...extra });
    buses.push(b);
    return b;
  };
  beforeEach(() => { warnings.length = 0; process.on('warning', onWarning); });
  afterEach(async () => {
    process.off('warning', onWarning);
    await Promise.all(buses.splice(0).map((b) => b.stop()));
  });

  it('retry - 2,000 concurrent retries that read ctx.signal keep one listener on the stop signal and warn of nothing', async () => {
    const bus = make({ retry: { maxAttempts: 3, initialDelayMs: 30, maxDelayMs: 30, jitter: 0 } });
    let done = 0;
    let peak = 0;
    let signal: AbortSignal | undefined;
    await bus.subscribe('retry.listeners.concurrent', async (_m, ctx) => {
      expect(ctx.signal.aborted).to.equal(false);
      peak = Math.max(peak, getEventListeners(signal!, 'abort').length);
      await Promise.resolve();
      if (ctx.attempt < 3) throw new Error('not yet');
      done++;
    }, { maxInFlight: 2000 });
    signal = subscriptionSignal(bus);
    let waiting = 0;
    await Promise.all(Array.from({ length: 2000 }, (_, i) => bus.publish('retry.listeners.concurrent', i)));
    // While the retries wait out their backoff, the stop signal is listened to once, not once per message.
    await waitFor(() => { waiting = Math.max(waiting, getEventListeners(signal!, 'abort').length); return done === 2000; },
      { timeoutMs: 15_000, what: 'every message on its third try' });
    expect(bus.metrics.totals().get('retry-listeners@t:retry.listeners.concurrent failed retried')?.count).to.equal(4000);
    expect(peak, 'listeners seen by the handlers').to.be.at.most(1);
    expect(waiting, 'listeners seen during the backoffs').to.be.at.most(1);
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.map((w) => w.message)).to.deep.equal([]);
  });

  it('retry - ordered retries of many keys at once listen on the stop signal once, and not at all when done', async () => {
    const bus = make({ retry: { maxAttempts: 50, initialDelayMs: 1, maxDelayMs: 1, jitter: 0 } });
    let done = 0;
    let peak = 0;
    let signal: AbortSignal | undefined;
    await bus.subscribe('retry.listeners.ordered', async (_m, ctx) => {
      if (ctx.signal.aborted) throw new Error('aborted too early');
      peak = Math.max(peak, getEventListeners(signal!, 'abort').length);
      await Promise.resolve();
      if (ctx.attempt < 40) throw new Error('not yet');
      done++;
    }, { ordered: true, maxInFlight: 16 });
    signal = subscriptionSignal(bus);
    for (let i = 0; i < 50; i++) await bus.publish('retry.listeners.ordered', i, { partitionKey: `k${i % 20}` });
    await waitFor(() => done === 50, { timeoutMs: 15_000, what: 'every message after 39 retries each' });
    expect(peak, 'listeners seen by the handlers').to.be.at.most(1);
    expect(getEventListeners(signal, 'abort')).to.have.length(0);
  });

  it('retry - the stop signal still reaches a handler and ends a backoff once listened to once', async () => {
    const bus = make({ stopTimeoutMs: 50, retry: { maxAttempts: 3, initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 0 } });
    const aborted: boolean[] = [];
    let tries = 0;
    let handlerSignal: AbortSignal | undefined;
    await bus.subscribe('retry.listeners.stop', async (m, ctx) => {
      tries++;
      if (m.data === 'wait') {
        handlerSignal = ctx.signal;
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => { aborted.push(true); resolve(); }, { once: true }));
        return;
      }
      throw new Error('back off for a minute');
    }, { maxInFlight: 4 });
    await bus.publish('retry.listeners.stop', 'backoff');
    await bus.publish('retry.listeners.stop', 'wait');
    await waitFor(() => tries === 2 && handlerSignal !== undefined, { what: 'one backoff and one waiting handler' });
    expect(getEventListeners(subscriptionSignal(bus), 'abort'), 'one listener for both').to.have.length(1);
    const started = Date.now();
    await bus.stop();
    expect(Date.now() - started, 'the backoff ended when the subscription stopped').to.be.below(5000);
    expect(aborted).to.deep.equal([true]);
    expect(handlerSignal!.aborted).to.equal(true);
  });
});
