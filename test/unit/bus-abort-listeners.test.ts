import { expect } from 'chai';
import { getEventListeners } from 'node:events';
import { Bus, BusStoppedError } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';


/** The abort signal of the bus' only subscription: it lives as long as the subscription. */
function subscriptionSignal(bus: Bus): AbortSignal {
  const subs = (bus as unknown as { subscriptions: Set<{ controller: AbortController }> }).subscriptions;
  expect(subs.size).to.equal(1);
  return [...subs][0]!.controller.signal;
}

describe('bus - listeners on a subscription\'s abort signal', () => {
  const buses: Bus[] = [];
  const make = (extra: Record<string, unknown> = {}) => {
    const b = new Bus({ service: 'listeners@t', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger, ...extra });
    buses.push(b);
    return b;
  };
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  it('bus - thousands of in-process retries leave no listener on the subscription\'s signal', async () => {
    const bus = make({ retry: { maxAttempts: 400, initialDelayMs: 0, maxDelayMs: 0 } });
    const failures = new Map<number, number>();
    let done = 0;
    await bus.subscribe('listeners.retry', (m, ctx) => {
      if (ctx.attempt < 300) { failures.set(m.data as number, ctx.attempt); throw new Error('not yet'); }
      done++;
    });
    const signal = subscriptionSignal(bus);
    for (let i = 0; i < 10; i++) await bus.publish('listeners.retry', i);
    await waitFor(() => done === 10, { timeoutMs: 15_000, what: 'every message after 299 retries each' });
    expect(bus.metrics.totals().get('listeners@t:listeners.retry failed retried')?.count).to.equal(2990);
    expect(getEventListeners(signal, 'abort')).to.have.length(0);
  });

  it('bus - thousands of handlers reading ctx.signal leave no listener on the subscription\'s signal', async () => {
    const bus = make();
    let done = 0;
    let notAborted = 0;
    await bus.subscribe('listeners.signal', async (_m, ctx) => {
      if (!ctx.signal.aborted) notAborted++;
      await Promise.resolve();
      done++;
    });
    const signal = subscriptionSignal(bus);
    for (let i = 0; i < 5000; i++) await bus.publish('listeners.signal', i);
    await waitFor(() => done === 5000, { timeoutMs: 10_000, what: 'every message' });
    expect(notAborted).to.equal(5000);
    expect(getEventListeners(signal, 'abort')).to.have.length(0);
  });

  it('bus - ctx.signal still aborts with BusStoppedError when the stop times out, also on a retry', async () => {
    const bus = make({ stopTimeoutMs: 50, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 } });
    const reasons: unknown[] = [];
    let waiting = false;
    await bus.subscribe('listeners.stop', async (_m, ctx) => {
      const signal = ctx.signal;
      if (ctx.attempt === 1) throw new Error('fail once');
      waiting = true;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => { reasons.push(signal.reason); resolve(); }, { once: true }));
    });
    await bus.publish('listeners.stop', 1);
    await waitFor(() => waiting, { timeoutMs: 2000, what: 'the second try to wait on its signal' });
    await bus.stop();
    expect(reasons).to.have.length(1);
    expect(reasons[0]).to.be.instanceOf(BusStoppedError);
  });
});
