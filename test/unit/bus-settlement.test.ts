import { expect } from 'chai';
import {
  Bus, ContractInvalidError,
  type Envelope, type InboundHandler, type InboundMessage, type Middleware, type Transport, type TransportCapabilities,
} from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

/**
 * A transport whose deliveries the test makes by hand, recording what the Bus does with each
 * (ack, nak, term) the way a durable broker sees it.
 */
class ScriptedTransport implements Transport {
  readonly name = 'scripted';
  readonly capabilities: TransportCapabilities;
  readonly published: Array<{ subject: string; envelope: Envelope }> = [];
  private onMessage?: InboundHandler;

  constructor(redelivery: boolean) {
    this.capabilities = { requestReply: false, queueGroups: false, durable: true, ordered: true, wildcards: true, redelivery, encodesData: false, maxMessageBytes: 1 << 20 };
  }

  async connect(): Promise<void> {}
  async publish(subject: string, envelope: Envelope): Promise<void> { this.published.push({ subject, envelope }); }
  async subscribe(pattern: string, onMessage: InboundHandler) {
    this.onMessage = onMessage;
    return { pattern, drain: async () => {}, unsubscribe: async () => {} };
  }
  async close(): Promise<void> {}

  /** Hands the Bus one message; `settle` says how its ack behaves. */
  deliver(name: string, log: string[], options: { key?: string; ack?: () => void | Promise<void> } = {}): void {
    const envelope: Envelope = { specversion: '1.0', id: name, source: '/test', type: 'settle.test', data: name };
    if (options.key !== undefined) envelope.partitionkey = options.key;
    const msg: InboundMessage = {
      subject: 'settle.x', envelope, attempt: 1,
      ack: () => { log.push(`ack ${name}`); return options.ack?.(); },
      nak: (delayMs) => { log.push(`nak ${name} ${delayMs > 0 ? 'later' : 'now'}`); },
    };
    void this.onMessage!(msg);
  }
}

describe('bus settlement of synchronous handlers', () => {
  const buses: Bus[] = [];
  const make = (transport: Transport, extra: Record<string, unknown> = {}) => {
    const b = new Bus({ service: 'settle@t', transport, metrics: false, logger: silentLogger, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 }, ...extra });
    buses.push(b);
    return b;
  };
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  it('settlement - a synchronous handler is acked and counted before the delivery returns', async () => {
    const t = new ScriptedTransport(true);
    const bus = make(t);
    const log: string[] = [];
    await bus.subscribe('settle.x', (m) => { log.push(`handle ${String(m.data)}`); });
    t.deliver('m1', log);
    expect(log).to.deep.equal(['handle m1', 'ack m1']);
    expect(bus.metrics.totals().get('settle@t:settle.x handled acked')?.count).to.equal(1);
  });

  it('settlement - an asynchronous ack is awaited before the message counts as acked and its key moves on', async () => {
    const t = new ScriptedTransport(true);
    const bus = make(t);
    const log: string[] = [];
    let confirm!: () => void;
    const confirmed = new Promise<void>((r) => { confirm = r; });
    await bus.subscribe('settle.x', (m) => { log.push(`handle ${String(m.data)}`); }, { ordered: true, maxInFlight: 4 });
    t.deliver('m1', log, { key: 'k', ack: () => confirmed });
    t.deliver('m2', log, { key: 'k' });
    t.deliver('o1', log, { key: 'other' });
    expect(log).to.deep.equal(['handle m1', 'ack m1', 'handle o1', 'ack o1']);
    const acked = () => bus.metrics.totals().get('settle@t:settle.x handled acked')?.count;
    expect(acked()).to.equal(1);
    confirm();
    await waitFor(() => acked() === 3, { timeoutMs: 1000, what: 'the other acks' });
    expect(log).to.deep.equal(['handle m1', 'ack m1', 'handle o1', 'ack o1', 'handle m2', 'ack m2']);
  });

  it('settlement - a synchronous throw on a transport that redelivers is a nak, as a rejection is', async () => {
    const t = new ScriptedTransport(true);
    const bus = make(t);
    const log: string[] = [];
    await bus.subscribe('settle.x', (m) => {
      if (m.data === 'sync') throw new Error('sync failure');
      return Promise.reject(new Error('async failure'));
    });
    t.deliver('sync', log);
    t.deliver('async', log);
    await waitFor(() => log.length === 2, { timeoutMs: 1000, what: 'both naks' });
    expect(log).to.deep.equal(['nak sync later', 'nak async later']);
    expect(bus.metrics.totals().get('settle@t:settle.x failed retried')?.count).to.equal(2);
  });

  it('settlement - a synchronous throw is retried with backoff and dead-lettered exactly as a rejection is', async () => {
    const bus = make(new MemoryTransport({ broker: new MemoryBroker() }));
    const calls = { sync: [] as number[], async: [] as number[] };
    const dead: Envelope[] = [];
    await bus.subscribe('settle.sync', (_m, ctx) => { calls.sync.push(ctx.attempt); throw new Error('sync failure'); });
    await bus.subscribe('settle.async', async (_m, ctx) => { calls.async.push(ctx.attempt); throw new Error('async failure'); });
    await bus.subscribe('dlq.>', (m) => { dead.push(m); });
    await bus.publish('settle.sync', 1);
    await bus.publish('settle.async', 1);
    await waitFor(() => dead.length === 2, { timeoutMs: 2000, what: 'both dead letters' });
    expect(calls).to.deep.equal({ sync: [1, 2, 3], async: [1, 2, 3] });
    const bySubject = new Map(dead.map((d) => [d.dlqsubject, d]));
    for (const subject of ['settle.sync', 'settle.async']) {
      expect(bySubject.get(subject), subject).to.include({ dlqreason: 'SB_ERR_HANDLER_FAILED', dlqattempts: '3' });
      expect(bus.metrics.totals().get(`settle@t:${subject} failed retried`)?.count, subject).to.equal(2);
      expect(bus.metrics.totals().get(`settle@t:${subject} failed deadlettered`)?.count, subject).to.equal(1);
    }
  });

  it('settlement - a permanent error thrown synchronously is dead-lettered at once', async () => {
    const bus = make(new MemoryTransport({ broker: new MemoryBroker() }));
    let calls = 0;
    const dead: Envelope[] = [];
    await bus.subscribe('settle.bad', () => { calls++; throw new ContractInvalidError('/temperature must be number'); });
    await bus.subscribe('dlq.>', (m) => { dead.push(m); });
    await bus.publish('settle.bad', { temperature: 'hot' });
    await waitFor(() => dead.length === 1, { timeoutMs: 2000, what: 'the dead letter' });
    expect(calls).to.equal(1);
    expect(dead[0]).to.include({ dlqreason: 'SB_ERR_CONTRACT_INVALID', dlqattempts: '1' });
    expect(bus.metrics.totals().get('settle@t:settle.bad invalid deadlettered')?.count).to.equal(1);
  });

  it('settlement - ordered keys keep their order with synchronous and asynchronous handlings mixed', async () => {
    const bus = make(new MemoryTransport({ broker: new MemoryBroker() }));
    const seen: string[] = [];
    await bus.subscribe('settle.mixed', (m) => {
      const { k, i } = m.data as { k: string; i: number };
      if (i % 4 !== 0) { seen.push(`${k}:${i}`); return; }
      return new Promise<void>((r) => setTimeout(() => { seen.push(`${k}:${i}`); r(); }, Math.random() * 3));
    }, { ordered: true, maxInFlight: 3 });
    const keys = ['a', 'b', 'c', 'd'];
    for (let i = 0; i < 25; i++) for (const k of keys) await bus.publish('settle.mixed', { k, i }, { partitionKey: k });
    await waitFor(() => seen.length === 100, { timeoutMs: 2000, what: 'every message' });
    for (const k of keys) expect(seen.filter((s) => s.startsWith(`${k}:`))).to.deep.equal([...Array(25).keys()].map((i) => `${k}:${i}`));
  });

  it('settlement - a synchronous handler answers a request, and middleware sees its value and its throw', async () => {
    const broker = new MemoryBroker();
    const results: unknown[] = [];
    const failures: string[] = [];
    const watch: Middleware = async (ctx, next) => {
      try { await next(); results.push(ctx.result); } catch (err) { failures.push((err as Error).message); throw err; }
    };
    const server = make(new MemoryTransport({ broker }), { middleware: [watch] });
    const client = make(new MemoryTransport({ broker }));
    await server.subscribe('settle.double', (m) => (m.data as number) * 2);
    await server.subscribe('settle.fail', () => { throw new Error('no'); });
    expect((await client.request('settle.double', 21)).data).to.equal(42);
    const err = await client.request('settle.fail', 1).then(() => undefined, (e: unknown) => e as { remoteCode?: string });
    expect(err?.remoteCode).to.equal('SB_ERR_HANDLER_FAILED');
    expect(results).to.deep.equal([42]);
    expect(failures).to.deep.equal(['no']);
  });
});
