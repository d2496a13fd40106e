import { expect } from 'chai';
import { Delivery, type Envelope, type InboundMessage } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';

const envelope = { specversion: '1.0', id: 'e-1', source: 'test', type: 't', time: '2026-01-01T00:00:00.000Z' } as Envelope;

describe('core Delivery (a message with nothing to settle)', () => {
  it('is a first delivery whose ack does nothing; reply and notCloudEvent only when given', () => {
    const d = new Delivery('a.b', envelope);
    expect(d).to.include({ subject: 'a.b', envelope, attempt: 1, reply: undefined, notCloudEvent: undefined });
    expect(d.ack()).to.equal(undefined);
    const reply = async () => {};
    expect(new Delivery('a.b', envelope, reply).reply).to.equal(reply);
  });

  it('keeps its subject writable (the Bus strips a partition prefix in place)', () => {
    const d: InboundMessage = new Delivery('p.1.a.b', envelope);
    d.subject = d.subject.slice(4);
    expect(d.subject).to.equal('a.b');
  });

  // Made by `new`, not as an object literal: V8 pretenures a literal whose objects outlived a
  // burst, and every later delivery would then go straight to the old generation (core/delivery.ts).
  it('is what the memory transport hands a subscriber, for publishes and requests', async () => {
    const broker = new MemoryBroker();
    const t = new MemoryTransport({ broker });
    const got: InboundMessage[] = [];
    await t.subscribe('a.>', (m) => { got.push(m); if (m.reply) void m.reply(envelope); }, { maxInFlight: 1 });
    await t.publish('a.b', envelope);
    await t.request('a.c', envelope, { timeoutMs: 1000 });
    expect(got.map((m) => m instanceof Delivery)).to.deep.equal([true, true]);
    expect(got.map((m) => typeof m.reply)).to.deep.equal(['undefined', 'function']);
    await t.close();
  });
});
