/**
 * A replay subscription on a 3-node JetStream cluster (an R3 stream) while nodes are killed:
 * nothing published is lost, positions reach the handler in increasing order, and no position is
 * handed over twice (the handler acks everything, so there are no asked-for redeliveries).
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { createEnvelope, transportFromUrl, type TransportSubscription } from '../../core/index.js';
import '../../transports/nats/index.js';
import type { NatsTransport } from '../../transports/nats/index.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import { NatsCluster } from '../helpers/nats-cluster.js';
import { NATS_SERVER_BINARY } from '../helpers/nats-server-process.js';
import { waitFor } from '../helpers/wait.js';

const N = 2000;

describe('nats cluster failover', function () {
  this.timeout(180_000);
  let cluster: NatsCluster | undefined;

  before(async function () {
    if (!existsSync(NATS_SERVER_BINARY)) missingPrerequisite(this, `${NATS_SERVER_BINARY} is missing (the cluster runs its own servers)`);
    cluster = await NatsCluster.start({ nodes: 3 });
  });
  after(async () => { await cluster?.stop(); });

  /**
   * Publishes N events while a replay subscription consumes; `fault` runs once a third is
   * published, and what it returns runs once every event arrived (restarting a node kept down).
   */
  async function runWithFault(name: string, fault: (subscriber: NatsTransport, stream: string) => Promise<void | (() => Promise<void>)>): Promise<void> {
    const c = cluster!;
    const stream = `SB_FAILOVER_${name}`;
    const subject = `failover.${name}`;
    const query = `jetstream=1&stream=${stream}&subjects=${subject}.>&replicas=3&storage=file&ackWaitMs=5000&publishTimeoutMs=60000`;
    const subscriber = await transportFromUrl(`${c.url}?${query}&name=sub`) as NatsTransport;
    const publisher = await transportFromUrl(`${c.url}?${query}&name=pub`) as NatsTransport;
    let sub: TransportSubscription | undefined;
    try {
      await subscriber.connect();
      await publisher.connect();
      expect(subscriber.options.servers).to.have.length(3);
      const positions: number[] = [];
      const idsSeen = new Set<string>();
      sub = await subscriber.subscribe(`${subject}.>`, (m) => {
        positions.push(m.position!);
        idsSeen.add(m.envelope.id);
        return m.ack();
      }, { maxInFlight: 64, startAfter: 0 });
      const ids: string[] = [];
      let faulted: Promise<void | (() => Promise<void>)> | undefined;
      for (let i = 0; i < N; i++) {
        if (i === Math.floor(N / 3)) faulted = fault(subscriber, stream);
        const e = createEnvelope({ source: 'urn:failover', type: 'failover.n', id: `${name}-${i}` });
        ids.push(e.id);
        await publisher.publish(`${subject}.${i % 4}`, e);
      }
      const afterwards = await faulted;
      await waitFor(() => ids.every((id) => idsSeen.has(id)), {
        timeoutMs: 90_000, intervalMs: 50,
        what: () => `all ${N} ids (got ${idsSeen.size}; missing e.g. ${ids.filter((id) => !idsSeen.has(id)).slice(0, 5).join(', ')})`,
      });
      for (let i = 1; i < positions.length; i++) {
        expect(positions[i]!, `position #${i} after ${positions[i - 1]} (no duplicate, no reordering)`).to.be.greaterThan(positions[i - 1]!);
      }
      expect(positions.length, 'each position handed over once').to.equal(N);
      if (afterwards) await afterwards();
    } finally {
      await sub?.unsubscribe();
      await Promise.all([subscriber.close(), publisher.close()]);
    }
  }

  it('nats cluster failover - a replay subscription loses nothing and keeps order when its own node is killed and restarted', async () => {
    await runWithFault('own', async (subscriber) => {
      const victim = cluster!.indexOf(subscriber.connection!.info!.server_name);
      expect(victim, 'the subscriber\'s node').to.be.at.least(0);
      await cluster!.kill(victim);
      await waitFor(() => subscriber.connection!.info?.server_name !== cluster!.names[victim], { timeoutMs: 30_000, what: 'the subscriber to reconnect elsewhere' });
      await cluster!.restart(victim);
    });
  });

  it('nats cluster failover - a replay subscription loses nothing and keeps order while the node leading its consumer is down', async () => {
    await runWithFault('leader', async (subscriber, stream) => {
      const jsm = await subscriber.connection!.jetstreamManager();
      const consumers = await jsm.consumers.list(stream).next();
      expect(consumers, 'the replay consumer').to.have.length(1);
      const leader = consumers[0]!.cluster?.leader;
      const victim = cluster!.indexOf(leader ?? '');
      expect(victim, `the consumer leader ${leader}`).to.be.at.least(0);
      await cluster!.kill(victim);
      // Kept down until every event arrived: the consumer must go on without that node.
      return () => cluster!.restart(victim);
    });
  });

  for (const node of [0, 1, 2]) {
    it(`nats cluster failover - a replay subscription loses nothing and keeps order when node ${node} is killed and restarted`, async () => {
      await runWithFault(`n${node}`, async () => {
        await cluster!.kill(node);
        await cluster!.restart(node);
      });
    });
  }
});
