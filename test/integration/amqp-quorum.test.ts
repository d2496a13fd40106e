/**
 * Quorum group queues and single-active-consumer group queues against the machine's RabbitMQ.
 * Every run uses its own exchange and group names and deletes what it declared; faults are
 * confined to this test's own connections (a socket destroyed), never the broker's other clients.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import amqp, { type ChannelModel } from 'amqplib';
import { expect } from 'chai';
import { createEnvelope, OptionsInvalidError, type InboundMessage } from '../../core/index.js';
import {
  AmqpTransport, groupQueueArguments, groupQueueName, topologyNames, type AmqpQueueType, type AmqpTransportOptions,
} from '../../transports/amqp/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';
import { AMQP_URL } from './amqp-world.js';

const run = randomUUID().slice(0, 8);
const exchange = `sbquorum-${run}`;
const names = topologyNames(exchange);

const envelope = (n: number) => createEnvelope({ type: 'quorum.test', source: 'amqp-quorum-test', data: Buffer.from(String(n)) });
const numberOf = (m: InboundMessage) => Number((m.envelope.data as Buffer).toString());

interface QueueListing { name: string; type: string; arguments: Array<[string, string, unknown]> }

/** The queue as `rabbitmqctl list_queues` shows it, or undefined when rabbitmqctl cannot be run here. */
async function rabbitmqctlQueue(name: string): Promise<QueueListing | undefined> {
  try {
    const { stdout } = await promisify(execFile)('rabbitmqctl', ['list_queues', '-q', '-p', '/', '--formatter', 'json', 'name', 'type', 'arguments'], { timeout: 30_000 });
    return (JSON.parse(stdout) as QueueListing[]).find((q) => q.name === name);
  } catch {
    return undefined;
  }
}

/** The activity status of each consumer of `queue` (`single_active`, `waiting`, `up`), or undefined without rabbitmqctl. */
async function rabbitmqctlConsumers(queue: string): Promise<string[] | undefined> {
  try {
    const { stdout } = await promisify(execFile)('rabbitmqctl', ['list_consumers', '-q', '-p', '/', '--formatter', 'json', 'queue_name', 'activity_status'], { timeout: 30_000 });
    return (JSON.parse(stdout) as Array<{ queue_name: string; activity_status: string }>).filter((c) => c.queue_name === queue).map((c) => c.activity_status).sort();
  } catch {
    return undefined;
  }
}

describe('amqp quorum and single-active-consumer group queues against RabbitMQ', function () {
  this.timeout(30_000);
  let plain: ChannelModel;
  const transports: AmqpTransport[] = [];
  const declared = new Set<string>();
  const transport = (o: Partial<AmqpTransportOptions> = {}) => {
    const t = new AmqpTransport({ url: AMQP_URL, exchange, ...o });
    transports.push(t);
    return t;
  };

  before(async function () {
    await requireBroker(this, 'rabbitmq');
    plain = await amqp.connect(AMQP_URL);
  });
  afterEach(async () => {
    for (const t of transports) for (const q of t.groupQueues) declared.add(q);
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });
  after(async () => {
    if (!plain) return;
    const admin = transport();
    await admin.connect();
    await admin.deleteTopology(declared);
    await admin.close();
    await plain.close();
  });

  /** Declares `queue` on a channel of the plain connection; resolves with the broker's refusal code, or 0 when accepted. */
  async function declareCode(queue: string, args: Record<string, unknown>): Promise<number> {
    const ch = await plain.createChannel();
    ch.on('error', () => {}); // a refusal closes this channel only
    try {
      await ch.assertQueue(queue, { durable: true, arguments: args });
      await ch.close();
      return 0;
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  }

  it('amqp quorum - the group queue is a quorum queue; delivers, acks, and a nak comes back as attempt 2', async () => {
    const group = `quorum-${run}`;
    const pattern = `quorum.${run}.*`;
    const queue = groupQueueName(group, pattern);
    const t = transport({ durable: true, queueType: 'quorum' });
    const got: Array<{ n: number; attempt: number }> = [];
    const sub = await t.subscribe(pattern, (m) => {
      const n = numberOf(m);
      got.push({ n, attempt: m.attempt });
      if (n === 2 && m.attempt === 1) return m.nak!(10);
      m.ack();
    }, { group, maxInFlight: 10 });

    // Management-free check: an equivalent declare is accepted, one without x-queue-type refused.
    const args = groupQueueArguments(names, { group, pattern, queueType: 'quorum' });
    expect(args).to.include({ 'x-queue-type': 'quorum' });
    expect(await declareCode(queue, args), 'a declare with x-queue-type quorum matches').to.equal(0);
    const { 'x-queue-type': _type, ...classicArgs } = args;
    expect(await declareCode(queue, classicArgs), 'a declare without x-queue-type is refused').to.equal(406);
    const listed = await rabbitmqctlQueue(queue);
    if (listed) {
      expect(listed.type).to.equal('quorum');
      expect(listed.arguments).to.deep.include(['x-queue-type', 'longstr', 'quorum']);
    } else {
      console.warn('      rabbitmqctl not usable here: queue type checked by declares only');
    }

    await t.publish(`quorum.${run}.a`, envelope(1));
    await t.publish(`quorum.${run}.b`, envelope(2));
    await waitFor(() => got.length === 3, { what: () => `3 deliveries, got ${JSON.stringify(got)}` });
    expect(got.filter((g) => g.n === 1)).to.deep.equal([{ n: 1, attempt: 1 }]);
    expect(got.filter((g) => g.n === 2)).to.deep.equal([{ n: 2, attempt: 1 }, { n: 2, attempt: 2 }]);
    await sub.unsubscribe();
    // Unacked deliveries would be back in the queue once its channel closed: none are.
    expect((await (await plain.createChannel()).checkQueue(queue)).messageCount).to.equal(0);
  });

  it('amqp quorum - broker redeliveries count by x-delivery-count; with deliveryLimit a message returned too often is dead-lettered', async () => {
    const group = `count-${run}`;
    const pattern = `count.${run}`;
    const t = transport({ durable: true, queueType: 'quorum' });
    const attempts: number[] = [];
    // Takes each delivery and never settles it; unsubscribing returns it to the queue.
    const hold = () => t.subscribe(pattern, (m) => { attempts.push(m.attempt); }, { group, maxInFlight: 1 });
    let sub = await hold();
    await t.publish(pattern, envelope(1));
    for (let i = 1; i <= 3; i++) {
      await waitFor(() => attempts.length === i, { what: `delivery ${i}` });
      await sub.unsubscribe();
      if (i < 3) sub = await hold();
    }
    // A classic queue only knows "redelivered" and would say 2 the third time.
    expect(attempts).to.deep.equal([1, 2, 3]);

    const limited = transport({ durable: true, queueType: 'quorum', deliveryLimit: 1 });
    const lgroup = `limit-${run}`;
    const lpattern = `limit.${run}`;
    const seen: number[] = [];
    const holdLimited = () => limited.subscribe(lpattern, (m) => { seen.push(m.attempt); }, { group: lgroup, maxInFlight: 1 });
    const lq = groupQueueName(lgroup, lpattern);
    expect(await declareCode(lq, groupQueueArguments(names, { group: lgroup, pattern: lpattern, queueType: 'quorum', deliveryLimit: 1 }))).to.equal(0);
    let lsub = await holdLimited();
    await limited.publish(lpattern, envelope(7));
    const ch = await plain.createChannel();
    const dlqBefore = (await ch.checkQueue(names.deadLetterQueue)).messageCount;
    await waitFor(() => seen.length === 1, { what: 'the first delivery' });
    await lsub.unsubscribe();
    lsub = await holdLimited();
    await waitFor(() => seen.length === 2, { what: 'the redelivery' });
    await lsub.unsubscribe();
    // Returned a second time, beyond the limit of 1: RabbitMQ dead-letters it to <exchange>.dlx → <exchange>.dlq.
    await waitFor(async () => (await ch.checkQueue(names.deadLetterQueue)).messageCount === dlqBefore + 1, { what: 'the message in the dead-letter queue' });
    expect((await ch.checkQueue(lq)).messageCount).to.equal(0);
    const dead = await ch.get(names.deadLetterQueue, { noAck: true });
    expect(dead && dead.content.toString()).to.equal('7');
    expect(seen).to.deep.equal([1, 2]);
    await ch.close();
  });

  for (const queueType of ['classic', 'quorum'] as AmqpQueueType[]) {
    it(`amqp single active consumer (${queueType}) - one consumer gets everything; when its connection dies the next gets the rest, nothing lost`, async () => {
      const group = `sac-${queueType}-${run}`;
      const pattern = `sac.${queueType}.${run}`;
      const options = { durable: true, queueType, singleActiveConsumer: true } as const;
      // The first consumer must stay dead once its socket is destroyed: no reconnect.
      const first = transport({ ...options, reconnect: { maxAttempts: 0 }, connectionName: `sac-first-${run}` });
      const second = transport({ ...options, connectionName: `sac-second-${run}` });
      const publisher = transport({ durable: true });
      const total = 200;
      const firstAcked = new Set<number>();
      const held: number[] = [];
      const lateToFirst = new Set<number>(); // delivered to the first consumer after its connection died
      let firstSeen = 0;
      let dead = false;
      let secondAtKill = -1;
      const secondGot = new Map<number, number[]>(); // n → attempts

      await first.subscribe(pattern, (m) => {
        const n = numberOf(m);
        if (dead) { lateToFirst.add(n); return; } // its connection is gone: nothing it does reaches the broker
        firstSeen++;
        if (firstSeen <= 90) { m.ack(); firstAcked.add(n); } else held.push(n); // 91-100 delivered, never acked
        if (firstSeen === 100) {
          dead = true;
          secondAtKill = secondGot.size;
          // Abrupt: the TCP connection is destroyed under amqplib, no channel or connection close. With
          // an error, since amqplib notices only a socket's 'error' or 'end', not a bare destroy().
          (first.currentModel() as unknown as { connection: { stream: Socket } }).connection.stream.destroy(new Error('test: connection killed'));
        }
      }, { group, maxInFlight: 20 });
      await second.subscribe(pattern, (m) => {
        const n = numberOf(m);
        secondGot.set(n, [...(secondGot.get(n) ?? []), m.attempt]);
        m.ack();
      }, { group, maxInFlight: 20 });
      const queue = groupQueueName(group, pattern);
      const ch = await plain.createChannel();
      const consumers = await rabbitmqctlConsumers(queue);
      if (consumers) expect(consumers, 'one active consumer, one waiting').to.deep.equal(['single_active', 'waiting']);
      else console.warn('      rabbitmqctl not usable here: consumer activity not listed');
      expect(await declareCode(queue, groupQueueArguments(names, { group, pattern, queueType, singleActiveConsumer: true }))).to.equal(0);

      await Promise.all(Array.from({ length: total }, (_, n) => publisher.publish(pattern, envelope(n))));
      await waitFor(() => dead, { timeoutMs: 10_000, what: () => `the first consumer to take 100 messages (took ${firstSeen}, second got ${secondGot.size})` });
      expect(secondAtKill, 'the second consumer got nothing while the first was active').to.equal(0);
      expect(held).to.have.length(10);

      const missing = () => Array.from({ length: total }, (_, n) => n).filter((n) => !firstAcked.has(n) && !secondGot.has(n));
      await waitFor(() => missing().length === 0, { timeoutMs: 15_000, what: () => `every message handled; missing ${JSON.stringify(missing())}` });
      for (const n of held) expect(secondGot.get(n), `held message ${n} redelivered to the second consumer`).to.deep.equal([2]);
      for (const n of lateToFirst) expect(secondGot.get(n), `message ${n}, prefetched to the dead consumer, redelivered`).to.deep.equal([2]);
      for (const [n, seen] of secondGot) {
        expect(seen, `message ${n} reaches the second consumer once`).to.have.length(1);
        // Redelivered (attempt 2) only if the first consumer had it: acked in its last moments, held, or in flight.
        if (n >= 90 + 10 + 20) expect(seen, `message ${n}, never prefetched by the first consumer`).to.deep.equal([1]);
      }
      const afterKill = await rabbitmqctlConsumers(queue);
      if (afterKill) expect(afterKill, 'the second consumer is now the active one').to.deep.equal(['single_active']);
      await waitFor(() => first.currentModel() === undefined, { what: 'the first transport to notice its connection is gone' });
      await second.close();
      expect((await ch.checkQueue(queue)).messageCount, 'nothing left unacked in the queue').to.equal(0);
      await ch.close();
    });
  }

  it('amqp options - a group queue declared earlier with other arguments gives an OptionsInvalidError, and the transport keeps working', async () => {
    const group = `mismatch-${run}`;
    const pattern = `mismatch.${run}`;
    const queue = groupQueueName(group, pattern);
    // The group ran before with the classic defaults.
    const before = transport({ durable: true });
    await (await before.subscribe(pattern, (m) => m.ack(), { group, maxInFlight: 1 })).unsubscribe();

    const quorum = transport({ durable: true, queueType: 'quorum' });
    const err = await quorum.subscribe(pattern, (m) => m.ack(), { group, maxInFlight: 1 }).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(OptionsInvalidError);
    const e = err as OptionsInvalidError;
    expect(e.code).to.equal('SB_ERR_OPTIONS_INVALID');
    expect(e.details).to.deep.include({ field: 'queueType', queue, argument: 'x-queue-type' });
    expect(e.message).to.include(`"${queue}"`).and.include('x-queue-type').and.include('delete_queue').and.include('another group name');

    const sac = transport({ durable: true, singleActiveConsumer: true });
    const sacErr = await sac.subscribe(pattern, (m) => m.ack(), { group, maxInFlight: 1 }).then(() => null, (e: unknown) => e);
    expect(sacErr).to.be.instanceOf(OptionsInvalidError);
    expect((sacErr as OptionsInvalidError).details).to.deep.include({ field: 'singleActiveConsumer', argument: 'x-single-active-consumer' });

    // The refusal closed only the subscription's channel: the same transport subscribes, publishes and receives.
    const got: Array<{ subject: string; n: number }> = [];
    const other = `other.${run}`;
    await quorum.subscribe(other, (m) => { got.push({ subject: m.subject, n: numberOf(m) }); m.ack(); }, { group, maxInFlight: 5 });
    await quorum.publish(other, envelope(42));
    await waitFor(() => got.length === 1, { what: 'the message on the other subject' });
    expect(got).to.deep.equal([{ subject: other, n: 42 }]);
    const sacOther = await sac.subscribe(`sac-other.${run}`, (m) => m.ack(), { group, maxInFlight: 1 });
    await sacOther.unsubscribe();

    // The other way round: a classic transport meets the quorum queue just declared.
    const classic = transport({ durable: true });
    const back = await classic.subscribe(other, (m) => m.ack(), { group, maxInFlight: 1 }).then(() => null, (e: unknown) => e);
    expect(back).to.be.instanceOf(OptionsInvalidError);
    expect((back as OptionsInvalidError).details).to.deep.include({ field: 'queueType' });
    expect((back as OptionsInvalidError).message).to.include('declares none');
  });
});
