import { connect, type KV, type NatsConnection } from 'nats';
import { OptionsInvalidError, TransportConnectError } from '../core/index.js';
import type { CheckpointStore } from '../nanoservices/aggregate/checkpoint.js';

export interface KvCheckpointStoreOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** The KV bucket (created when missing). Default `signalbus-checkpoints`. */
  bucket?: string;
  /** Revisions kept per key (1 = only the latest). Default 1. */
  history?: number;
}

const BUCKET = /^[-\w]+$/;

/**
 * Window state checkpoints in a JetStream key-value bucket, so an aggregate restarted on another
 * process or machine resumes its open windows. The `CheckpointStore` of `nanoservices/aggregate`
 * (load/save/delete of a JSON snapshot); `save` is one KV put, which replaces the previous value
 * atomically.
 *
 * @example
 * const store = await KvCheckpointStore.open({ servers: 'nats://127.0.0.1:4222' });
 * createAggregateService({ …, checkpointStore: store }); … await store.close();
 */
export class KvCheckpointStore implements CheckpointStore {
  private constructor(private readonly nc: NatsConnection, private readonly kv: KV) {}

  static async open(options: KvCheckpointStoreOptions): Promise<KvCheckpointStore> {
    const bucket = options.bucket ?? 'signalbus-checkpoints';
    if (!BUCKET.test(bucket)) throw new OptionsInvalidError(`KV bucket "${bucket}" may hold only letters, digits, "-" and "_"`, { details: { field: 'bucket' } });
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: options.servers, noAsyncTraces: true, name: 'signalbus-checkpoints' });
    } catch (cause) {
      throw new TransportConnectError(`could not connect to ${String(options.servers)} for checkpoints: ${(cause as Error).message}`, { cause });
    }
    try {
      const kv = await nc.jetstream().views.kv(bucket, { history: options.history ?? 1 });
      return new KvCheckpointStore(nc, kv);
    } catch (cause) {
      await nc.close();
      throw new TransportConnectError(`could not open KV bucket ${bucket} (is JetStream enabled?): ${(cause as Error).message}`, { cause });
    }
  }

  async load(name: string): Promise<unknown> {
    const entry = await this.kv.get(keyOf(name));
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
    return JSON.parse(entry.string());
  }

  async save(name: string, snapshot: unknown): Promise<void> {
    await this.kv.put(keyOf(name), JSON.stringify(snapshot));
  }

  async delete(name: string): Promise<void> {
    await this.kv.delete(keyOf(name));
  }

  /** Closes its connection. Idempotent. */
  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}

/** KV keys allow `[-/_=.a-zA-Z0-9]`; anything else in a checkpoint name is escaped as `=XX`. */
function keyOf(name: string): string {
  if (name.length === 0) throw new OptionsInvalidError('a checkpoint name must not be empty', { details: { field: 'name' } });
  return name.replace(/[^-/_.a-zA-Z0-9]/g, (c) => `=${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
