/// <reference types="node" preserve="true" />
/**
 * Checkpoint stores that keep state outside the process: `KvCheckpointStore`, a JetStream
 * key-value bucket implementing the aggregate's `CheckpointStore`
 * (`nanoservices/aggregate/checkpoint.ts`, which also holds the in-memory one).
 *
 * @example
 * const store = await KvCheckpointStore.open({ servers: 'nats://127.0.0.1:4222' });
 */
export { KvCheckpointStore, type KvCheckpointStoreOptions } from './kv-checkpoint-store.js';
