import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { createClient } from 'redis';
import { Bus, transportFromUrl, type Envelope, type InboundMessage } from '../../core/index.js';
import { requireBroker } from '../../test/helpers/brokers.js';
import { RedisStreamsTransport } from './index.js';
import { waitFor } from '../../test/helpers/wait.js';
import { silentLogger } from '../../test/helpers/silent-logger.js';

const url = 'redis://127.0.0.1:6379';
const keyPrefix = `sbtest-${randomUUID().slice(0, 8)}:`;
const envelope = (id: string): Envelope => ({ specversion: '1.0', id, source: 'test', type: 't', datacontenttype: 'application/json', data: Buffer.from('{}') });

describe('redis-streams transport (examples/custom-transport)', function () {
  this.timeout(20_000);
  const client = createClient({ url });
  const transports: RedisStreamsTransport[] = [];
  const make = (extra: ConstructorParameters<typeof RedisStreamsTransport>[0] = {}) => {
    const t = new RedisStreamsTransport({ url, keyPrefix, ...extra });
    transports.push(t);
    return t;
  };

  before(async function () {
    await requireBroker(this, 'redis');
    await client.connect();
  });
  afterEach(async () => { await Promise.all(transports.splice(0).map((t) => t.close())); });
  after(async () => {
    if (!client.isOpen) return;
    for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.del(keys);
    await client.close();
  });

  it('redis-streams - registers the redis: URL scheme with its options', async () => {
    const t = await transportFromUrl(`redis://127.0.0.1:6379?keyPrefix=${keyPrefix}&maxLen=50`);
    expect(t).to.be.instanceOf(RedisStreamsTransport);
    expect((t as RedisStreamsTransport).keyPrefix).to.equal(keyPrefix);
    await t.close();
  });

  it('redis-streams - fails to connect with TransportConnectError when nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    });
    const err = await make({ url: `redis://127.0.0.1:${port}` }).connect().then(() => null, (e) => e);
    expect(err?.code).to.equal('SB_ERR_TRANSPORT_CONNECT');
  });

  it('redis-streams - trims each stream to about maxLen entries', async () => {
    const t = make({ maxLen: 100 });
    await t.connect();
    const subject = `trim.${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 2000; i += 200) await Promise.all(Array.from({ length: 200 }, (_, j) => t.publish(subject, envelope(`${i + j}`))));
    const length = await client.xLen(keyPrefix + subject);
    expect(length).to.be.at.least(100).and.below(400);
  });

  it('redis-streams - gives an entry left pending by a member that went away to another member, counting the delivery', async () => {
    const subject = `claim.${randomUUID().slice(0, 8)}`;
    const group = `g-${randomUUID().slice(0, 8)}`;
    const first = make();
    await first.connect();
    const held: InboundMessage[] = [];
    const s1 = await first.subscribe(subject, (m) => { held.push(m); }, { group, maxInFlight: 10 });
    await first.publish(subject, envelope('e1'));
    await waitFor(() => held.length === 1, { timeoutMs: 2000, what: 'the first delivery' });
    await s1.unsubscribe(); // never settled: the entry stays on the group's pending list
    const second = make({ claimIdleMs: 300 });
    const got: InboundMessage[] = [];
    await second.subscribe(subject, async (m) => { got.push(m); await m.ack(); }, { group, maxInFlight: 10 });
    await waitFor(() => got.length === 1, { timeoutMs: 3000, what: 'the reclaimed entry' });
    expect(got[0]!.envelope.id).to.equal('e1');
    expect(got[0]!.attempt).to.equal(2);
    await waitFor(async () => (await client.xPending(keyPrefix + subject, group)).pending === 0, { what: 'the acked entry off the pending list' });
  });

  it('redis-streams - entries other producers wrote reach raw subscriptions and are dead-lettered by the Bus elsewhere', async () => {
    const subject = `devices.${randomUUID().slice(0, 8)}`;
    const bus = new Bus({ service: 'foreign@t', transport: make(), metrics: false, logger: silentLogger });
    const raw: Envelope[] = []; const dead: Envelope[] = []; const cooked: Envelope[] = [];
    try {
      await bus.subscribe(subject, (m) => { raw.push(m); }, { raw: true });
      await bus.subscribe(subject, (m) => { cooked.push(m); });
      await bus.subscribe(`dlq.${subject}`, (m) => { dead.push(m); }, { raw: true });
      await client.xAdd(keyPrefix + subject, '*', { temperature: '21.5' });
      await waitFor(() => raw.length === 1 && dead.length === 1, { timeoutMs: 3000, what: 'the raw delivery and the dead letter' });
      expect(raw[0]!, 'the envelope made up around the entry').to.include({ source: `redis:${subject}`, type: subject });
      expect(Buffer.from(raw[0]!.data as Uint8Array).toString()).to.equal('{"temperature":"21.5"}');
      expect(dead[0]!.dlqreason).to.equal('SB_ERR_ENVELOPE_INVALID');
      expect(dead[0]!.dlqsubject).to.equal(subject);
      expect(Buffer.from(dead[0]!.data as Uint8Array).toString(), 'the entry, unchanged').to.equal('{"temperature":"21.5"}');
      expect(cooked).to.have.length(0);
    } finally {
      await bus.stop();
    }
  });

  it('redis-streams - publish after close rejects with TransportClosedError', async () => {
    const t = make();
    await t.connect();
    await t.close();
    const err = await t.publish('a.b', envelope('x')).then(() => null, (e) => e);
    expect(err?.code).to.equal('SB_ERR_TRANSPORT_CLOSED');
  });
});
