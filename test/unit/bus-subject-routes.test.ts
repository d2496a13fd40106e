import { expect } from 'chai';
import { BackpressureError, Bus, SubjectInvalidError, type Envelope, type Transport } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

describe('bus - per-subject routes and counters', () => {
  let broker: MemoryBroker;
  const buses: Bus[] = [];
  const make = (extra: Record<string, unknown> = {}) => {
    const b = new Bus({ service: 'routes@c1', transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger, ...extra });
    buses.push(b);
    return b;
  };
  beforeEach(() => { broker = new MemoryBroker(); });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  it('bus - a subject counted before it was published to is still checked on its first publish', async () => {
    const bus = make();
    bus.countersFor('routes..empty-token');
    const err = await bus.publish('routes..empty-token', 1).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(SubjectInvalidError);
  });

  it('bus - a subject received before it is published to goes to its routed transport and counts on one set of counters', async () => {
    const other = new MemoryBroker();
    const side = new MemoryTransport({ broker: other });
    const bus = make({ transports: { main: new MemoryTransport({ broker }), side }, routes: [{ pattern: 'routes.side.>', transport: 'side' }] });
    const got: unknown[] = [];
    await bus.subscribe('routes.side.x', async (m) => { got.push(m.data); });
    await side.publish('routes.side.x', { specversion: '1.0', id: 'in-1', source: '/elsewhere', type: 't', data: 'in' });
    await waitFor(() => got.length === 1, { timeoutMs: 1000, what: 'the inbound message' });
    await bus.publish('routes.side.x', 'out');
    await waitFor(() => got.length === 2, { timeoutMs: 1000, what: 'the published message, back through the side transport' });
    const totals = bus.metrics.totals();
    expect(totals.get('routes@c1:routes.side.x received delivered')?.count).to.equal(2);
    expect(totals.get('routes@c1:routes.side.x published sent')?.count).to.equal(1);
  });

  it('bus - per-subject state stays bounded at 10,000 subjects, and counting survives a subject being forgotten', async () => {
    const bus = make();
    const subjects = (bus as unknown as { subjects: { entries: Map<string, unknown> } }).subjects.entries;
    await bus.publish('routes.bound.first', 1);
    for (let i = 0; i < 10_050; i++) await bus.publish(`routes.bound.n${i}`, i);
    expect(subjects.size).to.be.at.most(10_000);
    expect(subjects.has('routes.bound.first'), 'forgotten').to.equal(false);
    await bus.publish('routes.bound.first', 2);
    // The metric context is bounded (the subject's first token and `.>`), so every publish counts on one field.
    expect(bus.metrics.totals().get('routes@c1:routes.> published sent')?.count).to.equal(10_052);
    // One field per counter of the subject table (ten), not one per subject.
    expect(bus.metrics.fieldCount, 'fields held').to.be.at.most(10);
  });

  it('bus - publishes held back or refused by backpressure use the route they came with, and count on it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const slow = new MemoryTransport({ broker });
    const original = slow.publish.bind(slow);
    slow.publish = async (s: string, e: Envelope) => { await gate; return original(s, e); };
    const refusing = make({ transport: slow as Transport, maxPendingPublishes: 1, onPublishFull: 'reject' });
    const waiting = make({ service: 'routes-wait@c1', transport: slow as Transport, maxPendingPublishes: 1 });
    await Promise.all([refusing.start(), waiting.start()]);
    const lookups: string[] = [];
    for (const bus of [refusing, waiting]) {
      const subjects = (bus as unknown as { subjects: { entry(s: string): unknown } }).subjects;
      const entry = subjects.entry.bind(subjects);
      subjects.entry = (subject: string) => { lookups.push(subject); return entry(subject); };
    }
    const first = refusing.publish('routes.bp.x', 1);
    const refused = await refusing.publish('routes.bp.x', 2).then(() => undefined, (e: unknown) => e);
    expect(refused).to.be.instanceOf(BackpressureError);
    const held = [waiting.publish('routes.bp.y', 1), waiting.publish('routes.bp.y', 2)];
    release();
    await Promise.all([first, ...held]);
    // Each subject is looked up once, on its first publish; neither the refusal nor the wait looks again.
    expect(lookups).to.deep.equal(['routes.bp.x', 'routes.bp.y']);
    expect(refusing.metrics.totals().get('routes@c1:routes.> published rejected')?.count).to.equal(1);
    expect(waiting.metrics.totals().get('routes-wait@c1:routes.> published sent')?.count).to.equal(2);
  });
});
