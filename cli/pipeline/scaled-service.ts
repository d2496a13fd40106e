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
  readonly coordinator: PartitionCoordinator;
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
      workers.set(partition, await PartitionWorker.start({
        bus: o.bus, create: o.create, checkpoints: o.checkpoints, checkpointName: `${group}.p${partition}`,
        partition: o.plan.partitioned ? partition : undefined, lease, member: o.member,
        checkpointIntervalMs: o.checkpointIntervalMs, replay: o.replay, logger: o.logger,
      }));
      count(partition, 'acquired');
    },
    onRevoked: async (partition) => {
      const worker = workers.get(partition);
      workers.delete(partition);
      await worker?.release();
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
  return { coordinator, stop: () => coordinator.stop() };
}
