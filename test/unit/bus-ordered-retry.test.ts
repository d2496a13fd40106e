import { expect } from 'chai';
import { Bus, type Envelope, type InboundHandler, type InboundMessage, type Transport, type TransportCapabilities } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';


/** A transport that redelivers (as JetStream does), with deliveries made by hand and what the Bus does with each logged. */
class RedeliveringTransport implements Transport {
  readonly name = 'redelivering';
  readonly capabilities: TransportCapabilities = {
    requestReply: false, queueGroups: false, durable: true, ordered: true, wildcards: true, redelivery: true, encodesData: false, maxMessageBytes: 1 << 20,
  };
  readonly log: string[] = [];
  private onMessage?: InboundHandler;

  async connect(): Promise<void> {}
  async publish(): Promise<void> {}
  async subscribe(pattern: string, onMessage: InboundHandler) {
    this.onMessage = onMessage;
    return { pattern, drain: async () => {}, unsubscribe: async () => {} };
  }
  async close(): Promise<void> {}

  deliver(id: string, key: string): void {
    const envelope: Envelope = { specversion: '1.0', id, source: '/test', type: 'ordered.test', partitionkey: key, data: id };
    const msg: InboundMessage = {
      subject: 'ordered.x', envelope, attempt: 1,
      ack: () => { this.log.push(`ack ${id}`); },
      nak: () => { this.log.push(`nak ${id}`); },
      inProgress: () => { this.log.push(`working ${id}`); },
    };
    void this.onMessage!(msg);
  }
}

describe('bus - per-key order under retry', () => {
  const buses: Bus[] = [];
  const make = (transport: Transport, extra: Record<string, unknown> = {}) => {
    const b = new Bus({ service: 'ordered@t', transport, metrics: false, logger: silentLogger, ...extra });
    buses.push(b);
    return b;
  };
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  it('ordering - in process, a failing message is retried before the next of its key while other keys go on', async () => {
    const bus = make(new MemoryTransport({ broker: new MemoryBroker() }), { retry: { maxAttempts: 50, initialDelayMs: 5, maxDelayMs: 5, jitter: 0 } });
    const seen: string[] = [];
    await bus.subscribe('ordered.mem', (m, ctx) => {
      const { id } = m.data as { id: string };
      seen.push(`${id}#${ctx.attempt}`);
      // m1 fails until the other key was handled: that key must not wait for m1's retries.
      if (id === 'm1' && !seen.includes('o1#1')) throw new Error('not yet');
    }, { ordered: true, maxInFlight: 4 });
    await bus.publish('ordered.mem', { id: 'm1' }, { partitionKey: 'k' });
    await bus.publish('ordered.mem', { id: 'm2' }, { partitionKey: 'k' });
    await bus.publish('ordered.mem', { id: 'o1' }, { partitionKey: 'other' });
    await bus.publish('ordered.mem', { id: 'm3' }, { partitionKey: 'k' });
    await waitFor(() => seen.includes('m3#1'), { timeoutMs: 2000, what: 'the last message of k' });
    const k = seen.filter((s) => s.startsWith('m'));
    expect(k.slice(-3)).to.deep.equal([`m1#${k.length - 2}`, 'm2#1', 'm3#1']);
    expect(k.length, 'm1 failed at least once').to.be.greaterThan(3);
    expect(seen.indexOf('o1#1')).to.be.lessThan(seen.indexOf(`m1#${k.length - 2}`));
  });

  it('ordering - on a transport that redelivers, an ordered subscription retries in process and keeps the message and those waiting behind it in progress', async () => {
    const t = new RedeliveringTransport();
    const bus = make(t, { retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 10, jitter: 0 } });
    const handled: string[] = [];
    await bus.subscribe('ordered.x', (m, ctx) => {
      handled.push(`${String(m.data)}#${ctx.attempt}`);
      if (m.data === 'm1' && ctx.attempt < 3) throw new Error('not yet');
    }, { ordered: true, maxInFlight: 4 });
    t.deliver('m1', 'k');
    t.deliver('m2', 'k');
    t.deliver('o1', 'other');
    await waitFor(() => handled.includes('m2#1'), { timeoutMs: 2000, what: 'the message after the failing one' });
    expect(handled.filter((h) => h.startsWith('m'))).to.deep.equal(['m1#1', 'm1#2', 'm1#3', 'm2#1']);
    expect(t.log.filter((l) => l.startsWith('nak'))).to.deep.equal([]);
    expect(t.log.filter((l) => l.endsWith('m1'))).to.deep.equal(['working m1', 'working m1', 'ack m1']);
    // m2 waits behind m1 as long, so it is reported in progress with it (from the second backoff:
    // the first began before m2 was delivered).
    expect(t.log.filter((l) => l.endsWith('m2'))).to.deep.equal(['working m2', 'ack m2']);
  });

  it('ordering - on a transport that redelivers, an unordered subscription hands a failing message back (nak)', async () => {
    const t = new RedeliveringTransport();
    const bus = make(t, { retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 10, jitter: 0 } });
    const handled: string[] = [];
    await bus.subscribe('ordered.x', (m, ctx) => {
      handled.push(`${String(m.data)}#${ctx.attempt}`);
      if (m.data === 'm1') throw new Error('not yet');
    });
    t.deliver('m1', 'k');
    t.deliver('m2', 'k');
    await waitFor(() => t.log.length === 2, { timeoutMs: 2000, what: 'both settled' });
    expect(t.log).to.have.members(['nak m1', 'ack m2']);
    expect(handled).to.have.members(['m1#1', 'm2#1']);
  });

  it('ordering - a backoff longer than a second reports the message in progress every second', async function () {
    this.timeout(10_000);
    const t = new RedeliveringTransport();
    const bus = make(t, { retry: { maxAttempts: 2, initialDelayMs: 2300, maxDelayMs: 2300, jitter: 0 } });
    let tries = 0;
    await bus.subscribe('ordered.x', () => { if (++tries === 1) throw new Error('not yet'); }, { ordered: true });
    t.deliver('m1', 'k');
    await waitFor(() => t.log.includes('ack m1'), { timeoutMs: 5000, what: 'the second try' });
    // When the backoff starts, then after 1 s and 2 s.
    expect(t.log).to.deep.equal(['working m1', 'working m1', 'working m1', 'ack m1']);
  });

  it('ordering - when the stop runs out of time during an ordered backoff, a transport that redelivers gets the message back', async () => {
    const t = new RedeliveringTransport();
    const bus = make(t, { stopTimeoutMs: 50, retry: { maxAttempts: 3, initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 0 } });
    let tries = 0;
    await bus.subscribe('ordered.x', () => { tries++; throw new Error('fails'); }, { ordered: true });
    t.deliver('m1', 'k');
    await waitFor(() => t.log.includes('working m1'), { timeoutMs: 2000, what: 'the backoff' });
    await bus.stop();
    expect(t.log).to.deep.equal(['working m1', 'nak m1']);
    expect(tries).to.equal(1);
  });
});
