/// <reference types="node" preserve="true" />
/**
 * Scale-out coordination: N instances of a pipeline share its partitions through leases
 * (TTL + compare-and-set on revision) and checkpoint each partition compare-and-set, so an owner
 * that lost its lease can never overwrite the new owner's checkpoint. See scale/README.md.
 *
 * @example
 * const coord = await NatsCoordination.open({ servers: 'nats://127.0.0.1:4222' });
 * const pc = new PartitionCoordinator({ store: coord.leases, group: 'iot.aggregate', member: 'host-1', partitions: 16, onAcquired, onRevoked, onLost });
 * await pc.start();
 */
export { type Clock, type LeaseEntry, type LeaseStore, assertKey } from './lease-store.js';
export { MemoryLeaseStore, type MemoryLeaseStoreOptions } from './memory-lease-store.js';
export { NatsCoordination, NatsLeaseStore, KvPartitionCheckpoints, type NatsCoordinationOptions } from './nats-coordination.js';
export {
  PartitionCoordinator, rendezvousOwner, type Lease, type OwnershipEvent, type PartitionCoordinatorOptions,
} from './coordinator.js';
export {
  MemoryPartitionCheckpoints, claimCheckpoint, type CheckpointRecord, type PartitionCheckpoints,
} from './partition-checkpoints.js';
export { CheckpointFencedError, CoordinationUnavailableError } from './errors.js';
export {
  AmqpCoordination, PROBE_TYPE, checkpointQueueName, latestCheckpoint, membersExchangeName,
  type AmqpCoordinationOptions, type Membership, type ObservedMember, type SacCheckpoint,
} from './amqp-coordination.js';
export { PartitionWorker, type PartitionWorkerOptions } from './partition-worker.js';
export { SacPartitionWorker, type SacCheckpointStore, type SacPartitionWorkerOptions } from './sac-partition-worker.js';
