import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { createEnvelope, type InboundMessage, type TransportSubscription } from '../../core/index.js';
import { NatsTransport, storedMessageId } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';

describe('nats replay', function () {
  const run = randomUUID().slice(0, 8);
  const stream = `SB_REPLAY_${run}`;
  const subject = `replay.${run}`;
  let nc: NatsConnection;
  let transport: NatsTransport;
  const subs: TransportSubscription[] = [];

  const subscribe = async (startAfter: number, got: InboundMessage[], pattern = `${subject}.>`) => {
    const sub = await transport.subscribe(pattern, (m) => { got.push(m); return m.ack(); }, { maxInFlight: 16, startAfter });
    subs.push(sub);
    return sub;
  };

  before(async function () {
    await requireBroker(this, 'nats');
    nc = await connect({ servers: 'nats://127.0.0.1:4222' });
    transport = new NatsTransport({ servers: 'nats://127.0.0.1:4222', jetstream: { stream, subjects: [`${subject}.>`], storage: 'memory' } });
    await transport.connect();
  });
  afterEach(async () => { await Promise.all(subs.splice(0).map((s) => s.unsubscribe())); });
  after(async () => {
    await transport?.close();
    if (nc) {
      await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
      await nc.close();
    }
  });

  it('nats replay - declares replay in JetStream mode only', () => {
    expect(transport.capabilities.replay).to.equal(true);
    expect(new NatsTransport({}).capabilities.replay).to.not.equal(true);
  });

  it('nats replay - replays from after a position, in order, with positions, then the whole stream from 0', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 10; i++) {
      const e = createEnvelope({ source: 'urn:test', type: 'replay.n', data: new TextEncoder().encode(String(i)) });
      ids.push(e.id);
      await transport.publish(`${subject}.a`, e);
    }
    const all: InboundMessage[] = [];
    await subscribe(0, all);
    await waitFor(() => all.length >= 10, { what: () => `10 messages from position 0 (got ${all.length})` });
    expect(all.map((m) => m.envelope.id)).to.deep.equal(ids);
    const positions = all.map((m) => m.position!);
    for (let i = 1; i < positions.length; i++) expect(positions[i]!, 'positions increase').to.be.greaterThan(positions[i - 1]!);

    const fourth = positions[3]!;
    const tail: InboundMessage[] = [];
    await subscribe(fourth, tail);
    await waitFor(() => tail.length >= 6, { what: () => `messages 5..10 (got ${tail.length})` });
    expect(tail.map((m) => m.envelope.id)).to.deep.equal(ids.slice(4));
    expect(tail.map((m) => m.position)).to.deep.equal(positions.slice(4));
    // Live after the replay: a message published now comes next, with the next position.
    await transport.publish(`${subject}.a`, createEnvelope({ source: 'urn:test', type: 'replay.n', id: 'eleven' }));
    await waitFor(() => tail.length === 7, { what: 'the message published after the replay' });
    expect(tail[6]!.envelope.id).to.equal('eleven');
    expect(tail[6]!.position).to.be.greaterThan(positions[9]!);
    await waitFor(() => all.length === 11, { what: 'the new message on the first subscription too' });
  });

  it('nats replay - refuses startAfter with a group, and a position that is not one', async () => {
    const grouped = await transport.subscribe(`${subject}.>`, () => {}, { maxInFlight: 1, startAfter: 3, group: 'g' }).then(() => undefined, (e) => e);
    expect(grouped?.code).to.equal('SB_ERR_OPTIONS_INVALID');
    expect(grouped?.details.field).to.equal('group');
    const negative = await transport.subscribe(`${subject}.>`, () => {}, { maxInFlight: 1, startAfter: -1 }).then(() => undefined, (e) => e);
    expect(negative?.code).to.equal('SB_ERR_OPTIONS_INVALID');
    const core = new NatsTransport({ servers: 'nats://127.0.0.1:4222' });
    try {
      const err = await core.subscribe(`${subject}.>`, () => {}, { maxInFlight: 1, startAfter: 0 }).then(() => undefined, (e) => e);
      expect(err?.code).to.equal('SB_ERR_TRANSPORT_CAPABILITY');
    } finally { await core.close(); }
  });

  it('nats replay - gives a raw payload the same made-up id on every replay, derived from stream and position', async () => {
    const js = nc.jetstream();
    const ack = await js.publish(`${subject}.raw`, new TextEncoder().encode('{"t":21}'));
    const first: InboundMessage[] = [];
    const second: InboundMessage[] = [];
    await subscribe(ack.seq - 1, first, `${subject}.raw`);
    await subscribe(ack.seq - 1, second, `${subject}.raw`);
    await waitFor(() => first.length === 1 && second.length === 1, { what: 'the raw payload on both replays' });
    expect(first[0]!.notCloudEvent?.code).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(first[0]!.position).to.equal(ack.seq);
    expect(first[0]!.envelope.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first[0]!.envelope.id).to.equal(second[0]!.envelope.id);
    expect(first[0]!.envelope.id).to.equal(storedMessageId(stream, ack.seq));
    expect(storedMessageId(stream, ack.seq + 1)).to.not.equal(first[0]!.envelope.id);
  });

  it('nats replay - a nak redelivers the same position, and positions already handed over are not handed again', async () => {
    const got: Array<[number, number]> = [];
    let failed = false;
    const pattern = `${subject}.nak`;
    for (let i = 0; i < 3; i++) await transport.publish(pattern, createEnvelope({ source: 'urn:test', type: 'replay.n', id: `nak-${run}-${i}` }));
    const sub = await transport.subscribe(pattern, (m) => {
      got.push([m.position!, m.attempt]);
      if (!failed && m.envelope.id === `nak-${run}-1`) { failed = true; return m.nak!(10); }
      return m.ack();
    }, { maxInFlight: 16, startAfter: 0 });
    subs.push(sub);
    await waitFor(() => got.length === 4, { what: () => `3 messages and one redelivery (got ${JSON.stringify(got)})` });
    const positions = got.map(([p]) => p);
    expect(new Set(positions).size, 'one position twice').to.equal(3);
    const redelivered = got[3]!;
    expect(redelivered[0]).to.equal(got[1]![0]);
    expect(redelivered[1]).to.equal(2);
  });
});
