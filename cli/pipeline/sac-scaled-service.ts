import type { Bus, Logger, NanoserviceDefinition } from '../../core/index.js';
import { rendezvousOwner } from '../../scale/coordinator.js';
import { SacPartitionWorker, type SacCheckpointStore } from '../../scale/sac-partition-worker.js';
import { groupQueueName } from '../../transports/amqp/topology.js';
import type { ScaledService } from './scaled-service.js';
import type { ServicePlan } from './scale-plan.js';

/** What a member needs from the RabbitMQ coordination (`AmqpCoordination`). */
export interface SacCoordination extends SacCheckpointStore {
  join(group: string, member: string, info?: () => unknown): { members(): string[]; leave(): Promise<void> };
  probe(queue: string, subject: string, member: string): Promise<void>;
}

/** The heartbeat info of a member: partitions it is the active consumer of, and their last checkpoints. */
export interface SacMemberInfo {
  active: number[];
  checkpoints: Record<string, { savedAt: number; epoch: number }>;
}

export interface SacScaledServiceOptions {
  pipeline: string;
  plan: ServicePlan;
  member: string;
  bus: Bus;
  coordination: SacCoordination;
  partitions: number;
  checkpointIntervalMs: number;
  /** How often the member looks at who is alive and hands over or probes, ms. */
  roundMs: number;
  /** Partition prefix of the wire subjects (the Bus' `partitioning.prefix`). */
  prefix: string;
  logger: Logger;
  create(): NanoserviceDefinition;
}

/**
 * One member of a scaled service on RabbitMQ. It subscribes to every partition's quorum queue
 * with single active consumer: RabbitMQ decides who is active and fails over by itself when a
 * member dies. Membership (heartbeats) only steers the balance: a member that finds itself
 * active on a partition rendezvous hashing gives to another live member hands it over (last
 * checkpoint, acks, cancel, subscribe again at the back of the line); a member owed a partition
 * it is not active on sends a probe through the queue, so whoever is active learns it and, if
 * that is not the owner, hands over in turn. Correctness never rests on membership: only the
 * active consumer ever gets deliveries, and it loads the checkpoint before handling any.
 */
export async function startSacScaledService(o: SacScaledServiceOptions): Promise<ScaledService> {
  const group = `${o.pipeline}.${o.plan.name}`;
  const partitions = o.plan.partitioned ? Array.from({ length: o.partitions }, (_, i) => i) : [undefined];
  const workers = new Map<number, SacPartitionWorker>();
  const count = (partition: number, action: 'acquired' | 'released' | 'lost') =>
    o.bus.metric('partition', action, { context: group, query: { partition: String(partition) } });
  const active = () => [...workers].filter(([, w]) => w.active).map(([p]) => p).sort((a, b) => a - b);
  const start = (partition: number | undefined) => SacPartitionWorker.start({
    bus: o.bus, create: o.create, store: o.coordination, checkpointName: `${group}.p${partition ?? 0}`, group, partition,
    member: o.member, checkpointIntervalMs: o.checkpointIntervalMs, logger: o.logger,
    onActive: () => count(partition ?? 0, 'acquired'),
    onInterrupted: () => count(partition ?? 0, 'lost'),
  });
  for (const p of partitions) workers.set(p ?? 0, await start(p));
  // Joined once subscribed everywhere: whoever counts this member as an owner finds it in the line.
  // What `signalbus status` shows: the partitions this member is active on and their last checkpoint.
  const info = (): SacMemberInfo => ({
    active: active(),
    checkpoints: Object.fromEntries([...workers].flatMap(([p, w]) => (w.active && w.lastCheckpoint ? [[String(p), w.lastCheckpoint]] : []))),
  });
  const membership = o.coordination.join(group, o.member, info);

  const input = o.plan.input;
  const queueOf = (p: number | undefined) => groupQueueName(group, p === undefined ? input : `${o.prefix}.${p}.${input}`);
  const probeSubject = (p: number | undefined) => (p === undefined ? 'signalbus.probe' : `${o.prefix}.${p}.signalbus.probe`);
  let stopping = false;
  let round: Promise<void> | undefined;
  const runRound = async () => {
    const members = membership.members();
    for (const p of partitions) {
      if (stopping) return;
      const key = p ?? 0;
      const worker = workers.get(key);
      const owner = rendezvousOwner(key, members);
      try {
        if (!worker || worker.stopped) {
          // Interrupted (a lost channel): join the line again with an empty state.
          workers.set(key, await start(p));
        } else if (worker.active && owner !== o.member) {
          await worker.handOver();
          o.logger.info('partition handed over to its rendezvous owner', { group, partition: key, owner, member: o.member });
          count(key, 'released');
          if (!stopping) workers.set(key, await start(p));
        } else if (!worker.active && owner === o.member) {
          await o.coordination.probe(queueOf(p), probeSubject(p), o.member);
        }
      } catch (err) {
        o.logger.warn('scale round: a partition step failed; the next round retries', { group, partition: key, err });
      }
    }
  };
  const timer = setInterval(() => { round ??= runRound().finally(() => { round = undefined; }); }, o.roundMs);
  timer.unref();

  return {
    owned: active,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await round;
      await Promise.all([...workers].map(async ([p, w]) => {
        const was = w.active;
        await w.handOver().catch((err: unknown) => o.logger.warn('handing a partition over failed', { group, partition: p, err }));
        if (was) count(p, 'released');
      }));
      await membership.leave().catch((err: unknown) => o.logger.warn('leaving the membership failed', { group, err }));
    },
  };
}
