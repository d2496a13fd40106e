/**
 * Acks held until a checkpoint (`holdAcks` + `commit()`) and `onInterrupted`, through the Bus on
 * the machine's RabbitMQ (durable quorum group queues). Every case uses its own group and subjects
 * on a private exchange, deleted afterwards; faults touch only this test's own connections (a
 * socket destroyed, a channel closed), never the broker's other clients.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { expect } from 'chai';
import { Bus, OptionsInvalidError, type Envelope, type Subscription, type SubscribeOptions } from '../../core/index.js';
import { MemoryTransport } from '../../transports/memory/index.js';
import { AmqpTransport, groupQueueName } from '../../transports/amqp/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { AMQP_URL } from './amqp-world.js';

const run = randomUUID().slice(0, 8);
const exchange = `sbholdacks-${run}`;

describe('amqp hold acks until commit (RabbitMQ, quorum group queues)', function () {
  this.timeout(30_000);
  let plain: ChannelModel;
  let inspect: Channel;
  const transports: AmqpTransport[] = [];
  const buses: Bus[] = [];
  const queues = new Set<string>();

  async function bus(): Promise<{ bus: Bus; transport: AmqpTransport }> {
    const transport = new AmqpTransport({ url: AMQP_URL, exchange, durable: true, queueType: 'quorum', groupQueueExpiresMs: 300_000 });
    transports.push(transport);
    const b = new Bus({ service: 'holdacks@test', transport, metrics: false, logger: silentLogger });
    buses.push(b);
    await b.start();
    return { bus: b, transport };
  }

  /** A group and subject of their own for one case. */
  function names(label: string) {
    const group = `hold-${label}-${run}`;
    const subject = `hold.${run}.${label}`;
    queues.add(groupQueueName(group, subject));
    return { group, subject, queue: groupQueueName(group, subject) };
  }

  /** Subscribes `handled` (ids in order) to the group. */
  function consume(b: Bus, subject: string, group: string, handled: string[], options: SubscribeOptions = {}): Promise<Subscription> {
    return b.subscribe(subject, async (m: Envelope) => { handled.push(m.id); }, { group, holdAcks: 100, ...options });
  }

  async function publishN(b: Bus, subject: string, n: number, from = 0): Promise<string[]> {
    const ids: string[] = [];
    for (let i = from; i < from + n; i++) ids.push((await b.publish(subject, { n: i }, { type: 'hold.test' })).id);
    return ids;
  }

  const ready = async (queue: string) => (await inspect.checkQueue(queue)).messageCount;

  before(async function () {
    await requireBroker(this, 'rabbitmq');
    plain = await amqp.connect(AMQP_URL);
    inspect = await plain.createChannel();
  });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });
  after(async () => {
    if (!plain) return;
    const admin = new AmqpTransport({ url: AMQP_URL, exchange });
    await admin.connect();
    await admin.deleteTopology(new Set([...queues, ...transports.flatMap((t) => [...t.groupQueues])]));
    await admin.close();
    await plain.close();
  });

  it('amqp hold acks - handled messages stay unacked until commit; after commit nothing comes back', async () => {
    const { group, subject, queue } = names('one');
    const { bus: b } = await bus();
    const first: string[] = [];
    let sub = await consume(b, subject, group, first);
    const ids = await publishN(b, subject, 10);
    await waitFor(() => first.length === 10, { what: () => `10 handled, got ${first.length}` });
    expect(await ready(queue), 'held, not acked: none ready while the consumer holds them').to.equal(0);
    await sub.unsubscribe();
    await waitFor(async () => (await ready(queue)) === 10, { timeoutMs: 5000, what: 'the 10 uncommitted messages back in the queue' });

    const second: string[] = [];
    sub = await consume(b, subject, group, second);
    await waitFor(() => second.length === 10, { what: () => `the 10 redelivered, got ${second.length}` });
    expect([...second].sort()).to.deep.equal([...ids].sort());
    expect(sub.commit()).to.equal(true);
    await sub.unsubscribe();
    expect(await ready(queue), 'committed: nothing returned to the queue').to.equal(0);

    const third: string[] = [];
    await consume(b, subject, group, third);
    const [marker] = await publishN(b, subject, 1, 100);
    await waitFor(() => third.includes(marker!), { what: 'the marker' });
    expect(third, 'only the marker: nothing committed came back').to.deep.equal([marker]);
  });

  it('amqp hold acks - commit after 5, 5 more uncommitted: exactly those 5 come back, with their ids', async () => {
    const { group, subject } = names('partial');
    const { bus: b } = await bus();
    const handled: string[] = [];
    let sub = await consume(b, subject, group, handled);
    const committed = await publishN(b, subject, 5);
    await waitFor(() => handled.length === 5, { what: 'the first 5' });
    expect(sub.commit()).to.equal(true);
    const uncommitted = await publishN(b, subject, 5, 5);
    await waitFor(() => handled.length === 10, { what: 'the next 5' });
    expect(handled).to.deep.equal([...committed, ...uncommitted]);
    await sub.unsubscribe();

    const again: string[] = [];
    sub = await consume(b, subject, group, again);
    await waitFor(() => again.length === 5, { timeoutMs: 5000, what: () => `the 5 uncommitted again, got ${again.length}` });
    const [marker] = await publishN(b, subject, 1, 100);
    await waitFor(() => again.includes(marker!), { what: 'the marker' });
    expect(again.slice(0, 5).sort()).to.deep.equal([...uncommitted].sort());
    expect(again).to.have.length(6);
    expect(sub.commit()).to.equal(true);
  });

  /** Holds 5, kills the consumer with `kill`, and checks the interruption, the redelivery and commit(). */
  async function interruption(label: string, kill: (transport: AmqpTransport) => void): Promise<void> {
    const { group, subject, queue } = names(label);
    const { bus: b, transport } = await bus();
    const events: string[] = [];
    let interruptions = 0;
    const sub = await b.subscribe(subject, async (m: Envelope) => { events.push(m.id); },
      { group, holdAcks: 100, onInterrupted: () => { interruptions++; events.push('interrupted'); } });
    const ids = await publishN(b, subject, 5);
    await waitFor(() => events.length === 5, { what: 'the first 5' });

    kill(transport);
    await waitFor(() => events.length === 11, { timeoutMs: 10_000, what: () => `the interruption and the 5 again, got ${JSON.stringify(events)}` });
    expect(interruptions).to.equal(1);
    expect(events.slice(0, 6), 'the interruption is reported before any redelivery is handled').to.deep.equal([...ids, 'interrupted']);
    expect(events.slice(6).sort()).to.deep.equal([...ids].sort());
    expect(sub.commit(), 'the first 5 were held on the dead channel').to.equal(false);
    expect(sub.commit(), 'the redelivered 5 were acked by the commit before').to.equal(true);
    await sub.unsubscribe();
    expect(await ready(queue), 'everything acked once').to.equal(0);
    expect(interruptions, 'unsubscribe is no interruption').to.equal(1);
  }

  it('amqp hold acks - a lost connection calls onInterrupted once, before the held messages come again; commit() says so', async () => {
    await interruption('conn', (transport) => {
      // Abrupt, as in amqp-quorum.test.ts: amqplib notices a destroyed socket by its 'error'.
      (transport.currentModel() as unknown as { connection: { stream: Socket } }).connection.stream.destroy(new Error('test: connection killed'));
    });
  });

  it('amqp hold acks - a closed consumer channel calls onInterrupted once, before the held messages come again', async () => {
    await interruption('chan', (transport) => {
      const subs = (transport as unknown as { subs: Set<{ channel?: Channel }> }).subs;
      expect(subs.size).to.equal(1);
      void [...subs][0]!.channel!.close();
    });
  });

  it('amqp hold acks - held acks do not stall intake: maxInFlight 4 with holdAcks 100 takes 50 without a commit', async () => {
    const { group, subject } = names('prefetch');
    const { bus: b } = await bus();
    const handled: string[] = [];
    const sub = await consume(b, subject, group, handled, { maxInFlight: 4, holdAcks: 100 });
    await publishN(b, subject, 50);
    await waitFor(() => handled.length === 50, { timeoutMs: 5000, what: () => `50 handled without a commit, got ${handled.length}` });
    expect(sub.commit()).to.equal(true);
  });

  it('amqp hold acks - beyond holdAcks intake waits for a commit (prefetch = maxInFlight + holdAcks)', async () => {
    const { group, subject } = names('bound');
    const { bus: b } = await bus();
    const handled: string[] = [];
    const sub = await consume(b, subject, group, handled, { maxInFlight: 4, holdAcks: 10 });
    await publishN(b, subject, 30);
    await waitFor(() => handled.length === 14, { what: () => `14 handled, got ${handled.length}` });
    await sleep(300); // the point: nothing more arrives while 14 are held
    expect(handled).to.have.length(14);
    while (handled.length < 30) {
      const before = handled.length;
      expect(sub.commit()).to.equal(true);
      await waitFor(() => handled.length > before, { what: () => `more after a commit at ${before}` });
    }
    expect(sub.commit()).to.equal(true);
  });

  it('amqp hold acks - a raw message without message_id keeps its id across deliveries; other bytes get another id', async () => {
    const { group, subject } = names('raw');
    const { bus: b } = await bus();
    const got: Envelope[] = [];
    await b.subscribe(subject, async (m: Envelope) => { got.push(m); }, { group, raw: true });
    const ch = await plain.createChannel();
    ch.publish(exchange, subject, Buffer.from('{"v":1}'));
    ch.publish(exchange, subject, Buffer.from('{"v":1}'));
    ch.publish(exchange, subject, Buffer.from('{"v":2}'));
    await waitFor(() => got.length === 3, { what: 'the 3 raw messages' });
    await ch.close();
    expect(got.map((m) => m.type)).to.deep.equal(['amqp.raw', 'amqp.raw', 'amqp.raw']);
    expect(got[0]!.id).to.equal(got[1]!.id);
    expect(got[2]!.id).to.not.equal(got[0]!.id);
  });
});

describe('hold acks - options', () => {
  it('hold acks - a transport without the capability refuses holdAcks at subscribe, naming itself', async () => {
    const bus = new Bus({ service: 'holdacks@test', transport: new MemoryTransport(), metrics: false, logger: silentLogger });
    try {
      let err: unknown;
      try { await bus.subscribe('a.b', () => {}, { holdAcks: 10 }); } catch (e) { err = e; }
      expect(err).to.be.instanceOf(OptionsInvalidError);
      expect((err as OptionsInvalidError).details).to.include({ field: 'holdAcks', transport: 'memory' });
      const sub = await bus.subscribe('a.b', () => {});
      expect(sub.commit(), 'no acks held: nothing to lose').to.equal(true);
    } finally {
      await bus.stop();
    }
  });

  it('hold acks - holdAcks must be a positive integer', async () => {
    const transport = new AmqpTransport({ url: AMQP_URL, exchange });
    const bus = new Bus({ service: 'holdacks@test', transport, metrics: false, logger: silentLogger });
    try {
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        let err: unknown;
        // Refused while resolving the options, before anything connects.
        try { await bus.subscribe('a.b', () => {}, { holdAcks: bad }); } catch (e) { err = e; }
        expect(err, String(bad)).to.be.instanceOf(OptionsInvalidError);
        expect((err as OptionsInvalidError).details).to.include({ field: 'holdAcks' });
      }
    } finally {
      await bus.stop();
    }
  });
});
