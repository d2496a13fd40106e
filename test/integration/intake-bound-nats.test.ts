/**
 * Core NATS with a slow handler (issue 20, item 1): the server pushes at will, so the transport
 * must keep the subscription within maxInFlight + maxPending and drop (newest) what does not fit,
 * counted as `intake dropped` metric fields and logged rate-limited, instead of queueing without bound.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { Bus } from '../../core/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { dropWarnings, intakeDropped, LoadWatch, slowSubscriber, warningLog } from '../helpers/intake-watch.js';
import { waitFor } from '../helpers/wait.js';

describe('intake bound: nats core', function () {
  this.timeout(20_000);
  let plain: NatsConnection;
  let bus: Bus;
  let prefix: string;
  const watch = new LoadWatch();
  before(async function () { await requireBroker(this, 'nats'); });
  afterEach(async () => { watch.stop(); await bus?.stop(); await plain?.close(); });

  it('nats core - a slow handler under a flood keeps its queue within maxInFlight + maxPending, drops the rest counted and logged once', async () => {
    prefix = `intake.${randomUUID().slice(0, 8)}`;
    const { logger, warnings } = warningLog();
    bus = new Bus({ service: 'slow@test', transport: new NatsTransport({ servers: 'nats://127.0.0.1:4222' }), metrics: false, logger });
    plain = await connect({ servers: 'nats://127.0.0.1:4222' });
    const n = 20_000;
    const { sub, bound: queueBound, handled, speedUp } = await slowSubscriber(bus, prefix, watch);
    const body = new TextEncoder().encode(JSON.stringify({ temperature: 21.5, pad: 'x'.repeat(100) }));
    for (let i = 0; i < n; i++) {
      plain.publish(`${prefix}.dev${i % 10}`, body);
      if (i % 1000 === 999) await plain.flush();
    }
    await plain.flush();
    // Every message is either handled or dropped: the server kept up with this client, which reads at once.
    const bound = queueBound + 1;
    await waitFor(() => handled() + intakeDropped(bus) === n || watch.most > bound,
      { timeoutMs: 10_000, what: () => `${n} handled or dropped (handled ${handled()}, dropped ${intakeDropped(bus)})` });
    expect(watch.most, 'most held at once').to.be.at.most(bound);
    expect(watch.mostWaiting, 'handed over while full').to.be.at.most(1);
    expect(intakeDropped(bus), 'drops counted as intake dropped').to.be.greaterThan(n / 2);
    const lines = dropWarnings(warnings);
    // One line at the first drop, then at most one per 10 s; the flood lasts well under that.
    expect(lines.length, 'drop warnings').to.be.within(1, 2);
    expect(lines[0]).to.include({ pattern: `${prefix}.>`, bound: queueBound });
    // The process goes on handling: once the queue is worked off, a new message is handled.
    speedUp();
    await waitFor(() => { const l = sub.load(); return l.running + l.pending + l.waiting === 0; }, { timeoutMs: 5000, what: 'the queue to empty' });
    const before = handled();
    plain.publish(`${prefix}.after`, body);
    await plain.flush();
    await waitFor(() => handled() === before + 1, { timeoutMs: 5000, what: 'a message after the flood' });
    // Draining logs what was dropped since the last line, so every drop is in some line.
    await sub.drain();
    const logged = dropWarnings(warnings).reduce((sum, f) => sum + (f.dropped as number), 0);
    expect(logged, 'drops in the warnings').to.equal(intakeDropped(bus));
  });
});
