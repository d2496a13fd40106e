/**
 * AmqpCoordination against the machine's RabbitMQ: membership by heartbeats across two
 * connections and a killed process, checkpoints in quorum queues, probes, observe(). Every run uses
 * its own names and deletes the exchange and queues it made; faults touch only this test's own
 * connections (a child process killed, a socket destroyed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ChannelModel } from 'amqplib';
import { expect } from 'chai';
import { TransportAuthError } from '../../core/index.js';
import {
  AmqpCoordination, CoordinationUnavailableError, PROBE_TYPE, checkpointQueueName, membersExchangeName, type Membership, type SacCheckpoint,
} from '../../scale/index.js';
import { fromAmqpMessage } from '../../transports/amqp/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { freePort } from '../helpers/free-port.js';
import { waitFor } from '../helpers/wait.js';
import { AMQP_URL } from './amqp-world.js';

const run = randomUUID().slice(0, 8);
const name = `sbcoord-${run}`;
const cp = (epoch: number, seq: number, owner = `owner-${epoch}`): SacCheckpoint => ({
  epoch, seq, owner, savedAt: 1_700_000_000_000 + seq, state: { total: epoch * 100 + seq }, ids: [`id-${epoch}-${seq}`],
});

describe('amqp scale-out coordination against RabbitMQ', function () {
  this.timeout(30_000);
  let admin: ChannelModel;
  const coords: AmqpCoordination[] = [];
  const checkpointNames = new Set<string>();
  const plainQueues = new Set<string>();
  const children: ChildProcess[] = [];
  const open = async (o: { memberTtlMs?: number; heartbeatMs?: number; url?: string } = {}) => {
    const c = await AmqpCoordination.open({ url: o.url ?? AMQP_URL, name, memberTtlMs: o.memberTtlMs ?? 3000, heartbeatMs: o.heartbeatMs ?? 100 });
    coords.push(c);
    return c;
  };
  const ckpt = (label: string) => { const n = `${label}-${run}`; checkpointNames.add(n); return n; };
  const sameMembers = (m: Membership, expected: string[]) => waitFor(() => JSON.stringify(m.members()) === JSON.stringify(expected), {
    timeoutMs: 2000, what: () => `${m.member} to see ${expected.join(',')} (sees ${m.members().join(',')})`,
  });

  before(async function () {
    await requireBroker(this, 'rabbitmq');
    admin = await amqp.connect(AMQP_URL);
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(coords.map((c) => c.close()));
    if (!admin) return;
    const ch = await admin.createChannel();
    for (const n of checkpointNames) await ch.deleteQueue(checkpointQueueName(name, n));
    for (const q of plainQueues) await ch.deleteQueue(q);
    await ch.deleteExchange(membersExchangeName(name));
    await admin.close();
  });

  describe('membership', () => {
    let a: AmqpCoordination;
    let b: AmqpCoordination;
    let a1: Membership;
    let a2: Membership;
    let b1: Membership;

    before(async () => {
      a = await open();
      // The pipeline's transport URL, parameters and all, must connect as well.
      b = await open({ url: `${AMQP_URL}?durable=1&queueType=quorum&exchange=other` });
      a1 = a.join('g', 'a1', () => ({ n: 1 }));
      a2 = a.join('g', 'a2');
      b1 = b.join('g', 'b1', () => ({ host: 'b' }));
      b.join('other-group', 'x1');
    });

    it('amqp coordination - three members on two connections all see the three (and not another group\'s)', async () => {
      for (const m of [a1, a2, b1]) await sameMembers(m, ['a1', 'a2', 'b1']);
      expect(a1.infoOf('b1')).to.deep.equal({ host: 'b' });
      expect(b1.infoOf('a1')).to.deep.equal({ n: 1 });
      expect(b1.infoOf('a2')).to.equal(undefined);
      expect(a1.infoOf('nobody')).to.equal(undefined);
    });

    it('amqp coordination - observe() lists the members heard from, with their latest info', async () => {
      const seen = await AmqpCoordination.observe(AMQP_URL, name, 500);
      expect(seen).to.deep.include({ group: 'g', member: 'a1', info: { n: 1 } });
      expect(seen).to.deep.include({ group: 'g', member: 'b1', info: { host: 'b' } });
      expect(seen).to.deep.include({ group: 'other-group', member: 'x1', info: undefined });
      expect(seen.filter((s) => s.group === 'g').map((s) => s.member)).to.deep.equal(['a1', 'a2', 'b1']);
    });

    it('amqp coordination - a member that leaves is dropped by the others at once (well before the TTL)', async () => {
      const t0 = Date.now();
      await b1.leave();
      await waitFor(() => !a1.members().includes('b1'), { timeoutMs: 1000, what: 'a1 to drop b1 after its leave' });
      expect(Date.now() - t0).to.be.below(a.memberTtlMs);
      expect(b1.members()).to.deep.equal(['a1', 'a2']);
      await b1.leave(); // idempotent
    });

    it('amqp coordination - a member whose process dies (no leave) is dropped after the TTL, not before', async () => {
      const watcherCoord = await open({ memberTtlMs: 600, heartbeatMs: 100 });
      const watcher = watcherCoord.join('g2', 'watcher');
      const log = join(tmpdir(), `sb-coord-member-${run}.log`);
      const fd = openSync(log, 'w');
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/amqp-coordination-member.ts', AMQP_URL, name, 'g2', 'doomed', '100'], { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      children.push(child);
      await waitFor(() => watcher.members().includes('doomed'), { timeoutMs: 15_000, what: () => `the child member to be seen (its log: ${readFileSync(log, 'utf8')})` });
      expect(watcher.infoOf('doomed')).to.deep.equal({ pid: child.pid });
      const killedAt = Date.now();
      child.kill('SIGKILL');
      await waitFor(() => !watcher.members().includes('doomed'), { timeoutMs: 3000, what: 'the killed member to be dropped' });
      // Its last heartbeat left at most one interval before the kill: it stays for TTL - interval at least.
      expect(Date.now() - killedAt).to.be.at.least(600 - 100 - 50);
      expect(watcher.members()).to.deep.equal(['watcher']);
    });
  });

  describe('checkpoints', () => {
    let c: AmqpCoordination;
    before(async () => { c = await open(); });

    it('amqp coordination - a saved checkpoint loads back as saved', async () => {
      const n = ckpt('roundtrip');
      await c.saveCheckpoint(n, cp(1, 1));
      expect(await c.loadCheckpoint(n)).to.deep.equal(cp(1, 1));
    });

    it('amqp coordination - a name never saved loads as undefined', async () => {
      expect(await c.loadCheckpoint(ckpt('never'))).to.equal(undefined);
    });

    it('amqp coordination - after ten saves the load returns the last (highest seq)', async () => {
      const n = ckpt('ten');
      for (let seq = 1; seq <= 10; seq++) await c.saveCheckpoint(n, cp(2, seq));
      expect(await c.loadCheckpoint(n)).to.deep.equal(cp(2, 10));
    });

    it('amqp coordination - a stale owner\'s late save (lower epoch) does not win over the newer owner\'s', async () => {
      const n = ckpt('fenced');
      await c.saveCheckpoint(n, cp(1, 5, 'old'));
      await c.saveCheckpoint(n, cp(2, 1, 'new'));
      const other = await open(); // the stale owner, on its own connection
      await other.saveCheckpoint(n, cp(1, 6, 'old'));
      expect(await c.loadCheckpoint(n)).to.deep.equal(cp(2, 1, 'new'));
      expect(await other.loadCheckpoint(n)).to.deep.equal(cp(2, 1, 'new'));
    });

    it('amqp coordination - the quorum queue keeps the last 8 (drop-head) and a load puts every message back (RabbitMQ 3.10)', async () => {
      const n = ckpt('kept');
      for (let seq = 1; seq <= 12; seq++) await c.saveCheckpoint(n, cp(3, seq));
      const ch = await admin.createChannel();
      try {
        const queue = checkpointQueueName(name, n);
        expect((await ch.checkQueue(queue)).messageCount).to.equal(8);
        // More loads than RabbitMQ 4's default delivery limit (20): each returns what it read.
        for (let i = 0; i < 25; i++) expect(await c.loadCheckpoint(n)).to.deep.equal(cp(3, 12));
        expect((await ch.checkQueue(queue)).messageCount).to.equal(8);
        // What is kept is the newest 8, each returned (delivered) 25 times so far.
        const seqs: number[] = [];
        for (;;) {
          const m = await ch.get(queue, { noAck: false });
          if (m === false) break;
          seqs.push((JSON.parse(m.content.toString()) as SacCheckpoint).seq);
          expect(m.properties.headers?.['x-delivery-count']).to.equal(25);
        }
        expect(seqs).to.deep.equal([5, 6, 7, 8, 9, 10, 11, 12]);
      } finally {
        await ch.close(); // not acked: they go back
      }
      expect(await c.loadCheckpoint(n)).to.deep.equal(cp(3, 12));
    });

    it('amqp coordination - messages that are no checkpoint are skipped', async () => {
      const n = ckpt('junk');
      await c.saveCheckpoint(n, cp(4, 1));
      const ch = await admin.createConfirmChannel();
      ch.sendToQueue(checkpointQueueName(name, n), Buffer.from('not json'));
      ch.sendToQueue(checkpointQueueName(name, n), Buffer.from(JSON.stringify({ epoch: 9, seq: 'x' })));
      await ch.waitForConfirms();
      await ch.close();
      expect(await c.loadCheckpoint(n)).to.deep.equal(cp(4, 1));
    });

    it('amqp coordination - while the connection is down save/load/probe reject with SB_ERR_SCALE_UNAVAILABLE; it reconnects and heartbeats resume', async () => {
      const down = await open({ memberTtlMs: 3000, heartbeatMs: 100 });
      const watcher = (await open()).join('g3', 'watcher');
      const m = down.join('g3', 'flaky');
      await sameMembers(watcher, ['flaky', 'watcher']);
      const n = ckpt('reconnect');
      const live = (down as unknown as { live: { model: ChannelModel } }).live;
      (live.model as unknown as { connection: { stream: Socket } }).connection.stream.destroy(new Error('test: connection killed'));
      await waitFor(() => (down as unknown as { live?: unknown }).live === undefined, { what: 'the loss to be noticed' });
      for (const attempt of [down.saveCheckpoint(n, cp(1, 1)), down.loadCheckpoint(n), down.probe('nowhere', 'a.b', 'flaky')]) {
        const err = await attempt.then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(CoordinationUnavailableError);
        expect((err as CoordinationUnavailableError).code).to.equal('SB_ERR_SCALE_UNAVAILABLE');
      }
      await waitFor(async () => down.saveCheckpoint(n, cp(1, 2)).then(() => true, () => false), { timeoutMs: 10_000, intervalMs: 100, what: 'a save after the reconnect' });
      expect(await down.loadCheckpoint(n)).to.deep.equal(cp(1, 2));
      // Heartbeats flow again: a leave on the new connection reaches the watcher.
      await m.leave();
      await sameMembers(watcher, ['watcher']);
    });
  });

  describe('probes and connecting', () => {
    it('amqp coordination - a probe arrives in the queue as a PROBE_TYPE CloudEvent with the subject, decoded by the AMQP binding', async () => {
      const c = await open();
      const queue = `sbcoord-probe-${run}`;
      plainQueues.add(queue);
      const ch = await admin.createChannel();
      try {
        await ch.assertQueue(queue, { durable: true });
        await c.probe(queue, 'iot.readings.3', 'a1');
        let m: amqp.GetMessage | false = false;
        await waitFor(async () => (m = await ch.get(queue, { noAck: true })) !== false, { what: 'the probe in its queue' });
        const got = m as unknown as amqp.GetMessage;
        const decoded = fromAmqpMessage({ routingKey: got.fields.routingKey, redelivered: got.fields.redelivered, content: got.content, properties: got.properties });
        expect(decoded.raw).to.equal(false);
        expect(decoded.subject).to.equal('iot.readings.3'); // the routing key is the queue's name: the header decides
        expect(decoded.envelope.type).to.equal(PROBE_TYPE);
        expect(decoded.envelope.source).to.equal('signalbus-scale');
        expect(decoded.envelope.datacontenttype).to.equal('application/json');
        expect(JSON.parse((decoded.envelope.data as Buffer).toString())).to.deep.equal({ member: 'a1' });
        expect(got.properties.deliveryMode).to.equal(2);
        // A queue that does not exist yet drops it, without an error.
        await c.probe(`sbcoord-missing-${run}`, 'iot.readings.3', 'a1');
      } finally {
        await ch.close();
      }
    });

    it('amqp coordination - open() keeps trying while connections are refused (a broker starting)', async () => {
      // A port nothing listens on yet; a TCP relay to RabbitMQ appears there after a while.
      const port = await freePort();
      const sockets = new Set<Socket>();
      const relay = net.createServer((client) => {
        const upstream = net.connect(5672, '127.0.0.1');
        for (const s of [client, upstream]) { sockets.add(s); s.on('error', () => {}); }
        client.pipe(upstream).pipe(client);
      });
      const startedAt = Date.now();
      const opening = AmqpCoordination.open({ url: `amqp://guest:guest@127.0.0.1:${port}`, name });
      const timer = setTimeout(() => relay.listen(port, '127.0.0.1'), 800);
      try {
        const c = await opening;
        coords.push(c);
        expect(Date.now() - startedAt).to.be.at.least(800);
        await c.saveCheckpoint(ckpt('via-relay'), cp(1, 1));
        await c.close();
      } finally {
        clearTimeout(timer);
        for (const s of sockets) s.destroy();
        relay.close();
      }
    });

    it('amqp coordination - wrong credentials fail at once with TransportAuthError', async () => {
      const url = new URL(AMQP_URL);
      url.password = 'wrong-password';
      const err = await AmqpCoordination.open({ url: url.href, name }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(TransportAuthError);
    });

    it('amqp coordination - close() is idempotent and tells the others the members left', async () => {
      const watcher = (await open()).join('g4', 'watcher');
      const c = await open();
      c.join('g4', 'short-lived');
      await sameMembers(watcher, ['short-lived', 'watcher']);
      await Promise.all([c.close(), c.close()]);
      await waitFor(() => watcher.members().length === 1, { timeoutMs: 1000, what: 'the closed member to be dropped at once' });
      expect(() => c.join('g4', 'again')).to.throw();
    });
  });
});
