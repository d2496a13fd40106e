import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { Bus } from '../../core/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const stream = `SB_ORDRETRY_${randomUUID().slice(0, 8)}`;
const prefix = `ordretry.${randomUUID().slice(0, 8)}`;

describe('nats-jetstream - per-key order under retry', function () {
  this.timeout(20_000);
  const buses: Bus[] = [];
  before(async function () { await requireBroker(this, 'nats'); });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });
  after(async () => {
    const nc = await connect({ servers: 'nats://127.0.0.1:4222' }).catch(() => undefined);
    if (!nc) return;
    try { await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false); } finally { await nc.close(); }
  });

  it('nats-jetstream - an ordered subscription retries a failing message before the next of its key, and the server redelivers none of them meanwhile', async () => {
    // The backoff (3.5 s) outlasts the ack wait (2.5 s): only the Bus' `working()` reports, for the
    // held message and the messages of its key waiting behind it, keep the server from redelivering them.
    const transport = new NatsTransport({ servers: 'nats://127.0.0.1:4222', jetstream: { stream, subjects: [`${prefix}.>`, `dlq.${prefix}.>`], storage: 'memory', ackWaitMs: 2500 } });
    const bus = new Bus({ service: 'ordretry@t', transport, metrics: false, logger: silentLogger, retry: { maxAttempts: 3, initialDelayMs: 3500, maxDelayMs: 3500, jitter: 0 } });
    buses.push(bus);
    const handled: string[] = [];
    await bus.subscribe(`${prefix}.x`, (m, ctx) => {
      handled.push(`${String(m.data)}#${ctx.attempt}`);
      if (m.data === 'm1' && ctx.attempt === 1) throw new Error('not yet');
    }, { ordered: true, maxInFlight: 4, group: 'ordretry' });
    for (const [id, key] of [['m1', 'k'], ['m2', 'k'], ['o1', 'other'], ['m3', 'k']] as const) await bus.publish(`${prefix}.x`, id, { partitionKey: key });
    await waitFor(() => handled.includes('m3#1'), { timeoutMs: 10_000, what: 'the last message of k' });
    await waitFor(() => bus.metrics.totals().get(`ordretry@t:${prefix}.x handled acked`)?.count === 4, { timeoutMs: 2000, what: 'four acks' });
    expect(handled.filter((h) => h.startsWith('m'))).to.deep.equal(['m1#1', 'm1#2', 'm2#1', 'm3#1']);
    expect(handled.indexOf('o1#1'), 'the other key goes on meanwhile').to.be.lessThan(handled.indexOf('m1#2'));
    expect(bus.metrics.totals().get(`ordretry@t:${prefix}.x received delivered`)?.count, 'deliveries').to.equal(4);
  });
});
