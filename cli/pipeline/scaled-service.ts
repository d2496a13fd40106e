import type { Bus, Logger, NanoserviceDefinition } from '../../core/index.js';
import { PartitionCoordinator } from '../../scale/coordinator.js';
import type { LeaseStore } from '../../scale/lease-store.js';
import type { PartitionCheckpoints } from '../../scale/partition-checkpoints.js';
import { PartitionWorker } from '../../scale/partition-worker.js';
import type { ServicePlan } from './scale-plan.js';

export interface ScaledServiceOptions {
  pipeline: string;
  plan: ServicePlan;
  /** This member's id (the instance id, `-<n>` added for in-process copies). */
  member: string;
  bus: Bus;
  leases: LeaseStore;
  checkpoints: PartitionCheckpoints;
  /** Partitions of a partitioned input (the pipeline's `scale.partitions`). */
  partitions: number;
  /** Whether the input's transport replays from a position (then checkpoints carry it). */
  replay: boolean;
  checkpointIntervalMs: number;
  logger: Logger;
  /** A fresh copy of the service, for one partition. */
  create(): NanoserviceDefinition;
}

export interface ScaledService {
  /** The partitions this member holds now. */
  owned(): number[];
  /** Gives every partition up (drained, checkpointed) and leaves the group. */
  stop(): Promise<void>;
}

/**
 * One member of a scaled service: a coordinator holding leases on the service's partitions, and
 * a worker per partition it holds. Ownership changes are logged and counted as metric fields
 * `<service>:<pipeline>.<service>?partition=<n> partition acquired|released|lost`.
 */
export async function startScaledService(o: ScaledServiceOptions): Promise<ScaledService> {
  const group = `${o.pipeline}.${o.plan.name}`;
  const workers = new Map<number, PartitionWorker>();
  const count = (partition: number, action: 'acquired' | 'released' | 'lost') =>
    o.bus.metric('partition', action, { context: group, query: { partition: String(partition) } });
  const coordinator = new PartitionCoordinator({
    store: o.leases, group, member: o.member, partitions: o.plan.partitioned ? o.partitions : 1, logger: o.logger,
    onAcquired: async (partition, lease) => {
      const starting = PartitionWorker.start({
        bus: o.bus, create: o.create, checkpoints: o.checkpoints, checkpointName: `${group}.p${partition}`,
        partition: o.plan.partitioned ? partition : undefined, lease, member: o.member,
        checkpointIntervalMs: o.checkpointIntervalMs, replay: o.replay, logger: o.logger,
      });
      // A start that hangs (the broker failing over) must not hold up the lease rounds: past the
      // lease's life it is given up (the lease goes back) and stopped whenever it does finish.
      const worker = await withinTime(starting, o.leases.ttlMs, () => {
        void starting.then((w) => w.abort(), () => {});
        return new Error(`starting partition ${partition} of ${group} took longer than the lease (${o.leases.ttlMs} ms)`);
      });
      workers.set(partition, worker);
      count(partition, 'acquired');
    },
    onRevoked: async (partition) => {
      const worker = workers.get(partition);
      workers.delete(partition);
      if (!worker) return;
      // Handing over cleanly (drain, last checkpoint) gets the lease's life; then it is dropped
      // as if lost: the next owner replays from the checkpoint before.
      await withinTime(worker.release(), o.leases.ttlMs, () => new Error('release timed out')).catch(async (err: unknown) => {
        o.logger.warn('handing a partition over took too long; dropping it', { group, partition, err });
        await worker.abort();
      });
      count(partition, 'released');
    },
    onLost: (partition) => {
      const worker = workers.get(partition);
      workers.delete(partition);
      count(partition, 'lost');
      void worker?.abort().catch((err: unknown) => o.logger.warn('stopping a lost partition failed', { group, partition, err }));
    },
  });
  await coordinator.start();
  return { owned: () => coordinator.owned(), stop: () => coordinator.stop() };
}

/** `work`, or a rejection with `timedOut()` once `ms` passed first. */
function withinTime<T>(work: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(timedOut()), ms); });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
