import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createEnvelope, NoRespondersError, TransportAuthError, TransportConnectError } from '../../core/index.js';
import { AmqpTransport, groupQueueName } from '../../transports/amqp/index.js';
import { amqpWorld } from './amqp-world.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('amqp transport against RabbitMQ', function () {
  this.timeout(20_000);
  const world = amqpWorld('broker', 'sbbroker');
  const { url, exchange } = world;
  const bus = world.bus;

  it('amqp - a wrong password is a TransportAuthError that says so', async () => {
    const t = new AmqpTransport({ url: url.replace('guest:guest', 'guest:not-the-password'), exchange });
    const err = await t.connect().then(() => null, (e) => e);
    expect(err).to.be.instanceOf(TransportAuthError);
    expect(err.code).to.equal('SB_ERR_TRANSPORT_AUTH');
    expect(err.message).to.not.include('not-the-password');
    await t.close();
  });

  it('amqp - an unknown vhost is a TransportAuthError and an unreachable broker a TransportConnectError', async () => {
    const vhost = new AmqpTransport({ url: `${url}/no-such-vhost-${randomUUID().slice(0, 6)}`, exchange });
    expect(await vhost.connect().then(() => null, (e) => e)).to.be.instanceOf(TransportAuthError);
    const down = new AmqpTransport({ url: 'amqp://guest:guest@127.0.0.1:1', exchange, connectTimeoutMs: 2000 });
    const err = await down.connect().then(() => null, (e) => e);
    expect(err).to.be.instanceOf(TransportConnectError);
    expect(err.code).to.equal('SB_ERR_TRANSPORT_CONNECT');
    await Promise.all([vhost.close(), down.close()]);
  });

  it('amqp - the default exchange is a durable topic exchange named signalbus', async () => {
    const t = new AmqpTransport({ url });
    await t.connect();
    const ch = await world.plain.createChannel();
    // A passive check fails unless it exists; a redeclare with other properties would close the channel.
    await ch.checkExchange('signalbus');
    await ch.assertExchange('signalbus', 'topic', { durable: true });
    await ch.close();
    await t.close();
  });

  it('amqp - a group is one durable queue <group>.<pattern> that keeps messages while nobody consumes', async () => {
    const group = `grp-${randomUUID().slice(0, 8)}`;
    const sub = await bus();
    const s = await sub.subscribe('orders.*.created', async () => {}, { group });
    await s.drain();
    const pub = await bus();
    await pub.publish('orders.eu.created', { n: 1 });
    await pub.publish('orders.us.created', { n: 2 });
    const ch = await world.plain.createChannel();
    // Fast mode: a publish resolves once written to the socket, so the broker counts them a moment later.
    await waitFor(async () => (await ch.checkQueue(groupQueueName(group, 'orders.*.created'))).messageCount >= 2, { what: 'both messages in the group queue' });
    const q = await ch.checkQueue(groupQueueName(group, 'orders.*.created'));
    expect(q.messageCount).to.equal(2);
    expect(q.consumerCount).to.equal(0);
    await ch.close();
  });

  it('amqp - fast mode: a publish followed at once by close still reaches the broker', async () => {
    const ch = await world.plain.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchange, 'fast.close');
    const t = new AmqpTransport({ url, exchange });
    await t.connect();
    await t.publish('fast.close', createEnvelope({ type: 't', source: 's', data: Buffer.from('{}') }));
    await t.close();
    await waitFor(async () => (await ch.checkQueue(queue)).messageCount >= 1, { what: 'the message in the queue' });
    expect((await ch.checkQueue(queue)).messageCount).to.equal(1);
    await ch.close();
  });

  it('amqp - signalbus sub and signalbus pub work with an amqp:// URL', async function () {
    this.timeout(40_000);
    const subject = `clitest.${randomUUID().slice(0, 8)}`;
    const cli = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    const sub = cli(['sub', `${url}?exchange=${exchange}`, 'clitest.>', '--count', '1']);
    let out = ''; let err = '';
    sub.stdout.on('data', (d) => { out += d; });
    sub.stderr.on('data', (d) => { err += d; });
    const exited = new Promise<number | null>((r) => sub.once('exit', r));
    try {
      await waitFor(() => err.includes('subscribed'), { timeoutMs: 20_000, what: () => `"subscribed" from signalbus sub (stderr: ${err})` });
      const pub = cli(['pub', `${url}?exchange=${exchange}&durable=1`, subject, '{"t":1}', '--type', 'cli.test']);
      expect(await new Promise((r) => pub.once('exit', r))).to.equal(0);
      expect(await exited).to.equal(0);
      // `sub` prints the subject, then the event as JSON (as mosquitto_sub -v).
      const text = out.trim();
      expect(text.slice(0, text.indexOf(' '))).to.equal(subject);
      const line = JSON.parse(text.slice(text.indexOf(' ') + 1)) as Record<string, unknown>;
      expect(line).to.include({ type: 'cli.test' });
      expect(line.data).to.deep.equal({ t: 1 });
    } finally {
      sub.kill();
    }
  });

  it('amqp - a request nobody listens to fails at once with NoRespondersError', async () => {
    const client = await bus();
    const started = Date.now();
    const err = await client.request(`nobody.${randomUUID().slice(0, 8)}`, {}, { timeoutMs: 5000 }).then(() => null, (e) => e);
    expect(err).to.be.instanceOf(NoRespondersError);
    expect(Date.now() - started).to.be.lessThan(2000);
  });

  it('amqp - a delayed retry does not block the queue behind it', async () => {
    const sub = await bus({ retry: { maxAttempts: 2, initialDelayMs: 1500, maxDelayMs: 1500, jitter: 0 } });
    const seen: Array<{ n: number; attempt: number; at: number }> = [];
    const group = `retry-${randomUUID().slice(0, 8)}`;
    await sub.subscribe('jobs.run', async (m, ctx) => {
      const n = (m.data as { n: number }).n;
      seen.push({ n, attempt: ctx.attempt, at: Date.now() });
      if (n === 0 && ctx.attempt === 1) throw new Error('later');
    }, { group, maxInFlight: 1 });
    const pub = await bus();
    const t0 = Date.now();
    for (let n = 0; n < 5; n++) await pub.publish('jobs.run', { n });
    await waitFor(() => seen.length >= 6, { timeoutMs: 8000, what: 'five messages and the retry' }).catch(() => undefined);
    expect(seen.map((s) => `${s.n}/${s.attempt}`)).to.deep.equal(['0/1', '1/1', '2/1', '3/1', '4/1', '0/2']);
    expect(seen[4]!.at - t0, 'later messages did not wait for the retry').to.be.lessThan(1000);
    expect(seen[5]!.at - seen[0]!.at, 'the retry waited in its tier').to.be.greaterThan(1000);
  });

  it('amqp - a slow message does not hold back acks of the ones after it (prefetch keeps flowing)', async () => {
    const sub = await bus();
    const done: number[] = [];
    await sub.subscribe('slow.head', async (m) => {
      const n = (m.data as { n: number }).n;
      if (n === 0) await sleep(1500);
      done.push(n);
    }, { group: `slow-${randomUUID().slice(0, 8)}`, maxInFlight: 4 });
    const pub = await bus();
    for (let n = 0; n < 30; n++) await pub.publish('slow.head', { n });
    await waitFor(() => done.length >= 29, { timeoutMs: 1200, what: 'the 29 fast messages' }).catch(() => undefined);
    expect(done.length, 'the 29 fast messages finished while the first was still running').to.equal(29);
    expect(done).to.not.include(0);
    await waitFor(() => done.length === 30, { what: 'the slow message' });
  });

  it('amqp - dead letters published by the Bus are kept in <exchange>.dlq when nobody subscribes to them', async () => {
    const ch = await world.plain.createChannel();
    const before = (await ch.checkQueue(`${exchange}.dlq`)).messageCount;
    const sub = await bus({ retry: { maxAttempts: 1 } });
    await sub.subscribe('doomed', async () => { throw new Error('never works'); }, { group: `dead-${randomUUID().slice(0, 8)}` });
    const pub = await bus({ durable: true });
    await pub.publish('doomed', { n: 1 });
    const count = async () => (await ch.checkQueue(`${exchange}.dlq`)).messageCount;
    await waitFor(async () => (await count()) > before, { timeoutMs: 5000, what: 'the dead letter in the dlq queue' });
    expect(await count()).to.equal(before + 1);
    const m = await ch.get(`${exchange}.dlq`, { noAck: false });
    expect(m && m.fields.routingKey).to.equal('dlq.doomed');
    expect(m && m.properties.headers?.['cloudEvents:dlqreason']).to.equal('SB_ERR_HANDLER_FAILED');
    await ch.close();
  });
});
