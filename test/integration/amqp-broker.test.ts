import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createEnvelope, NoRespondersError, TransportAuthError, TransportConnectError } from '../../core/index.js';
import { AmqpTransport, groupQueueName } from '../../transports/amqp/index.js';
import { amqpWorld } from './amqp-world.js';
import { sleep } from '../helpers/wait.js';

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
    await sleep(200);
    const ch = await world.plain.createChannel();
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
    await sleep(200);
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
      const deadline = Date.now() + 20_000;
      while (!err.includes('subscribed') && Date.now() < deadline) await sleep(50);
      expect(err).to.include('subscribed');
      const pub = cli(['pub', `${url}?exchange=${exchange}&durable=1`, subject, '{"t":1}', '--type', 'cli.test']);
      expect(await new Promise((r) => pub.once('exit', r))).to.equal(0);
      expect(await exited).to.equal(0);
      const line = JSON.parse(out.trim()) as Record<string, unknown>;
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
    const deadline = Date.now() + 8000;
    while (seen.length < 6 && Date.now() < deadline) await sleep(20);
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
    const deadline = Date.now() + 1200;
    while (done.length < 29 && Date.now() < deadline) await sleep(20);
    expect(done.length, 'the 29 fast messages finished while the first was still running').to.equal(29);
    expect(done).to.not.include(0);
    while (done.length < 30) await sleep(20);
  });

  it('amqp - dead letters published by the Bus are kept in <exchange>.dlq when nobody subscribes to them', async () => {
    const ch = await world.plain.createChannel();
    const before = (await ch.checkQueue(`${exchange}.dlq`)).messageCount;
    const sub = await bus({ retry: { maxAttempts: 1 } });
    await sub.subscribe('doomed', async () => { throw new Error('never works'); }, { group: `dead-${randomUUID().slice(0, 8)}` });
    const pub = await bus({ durable: true });
    await pub.publish('doomed', { n: 1 });
    const deadline = Date.now() + 5000;
    let count = before;
    while (count === before && Date.now() < deadline) { await sleep(50); count = (await ch.checkQueue(`${exchange}.dlq`)).messageCount; }
    expect(count).to.equal(before + 1);
    const m = await ch.get(`${exchange}.dlq`, { noAck: false });
    expect(m && m.fields.routingKey).to.equal('dlq.doomed');
    expect(m && m.properties.headers?.['cloudEvents:dlqreason']).to.equal('SB_ERR_HANDLER_FAILED');
    await ch.close();
  });
});
