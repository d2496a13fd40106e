/**
 * Where the aggregate keeps window state across restarts. Snapshots are JSON-able values; an
 * implementation stores them as it likes (memory, a JetStream KV bucket, a file).
 * `save` must replace the previous snapshot of `name` atomically.
 */
export interface CheckpointStore {
  /** The last snapshot saved under `name`, or undefined when there is none. */
  load(name: string): Promise<unknown>;
  save(name: string, snapshot: unknown): Promise<void>;
  delete(name: string): Promise<void>;
}

/**
 * Checkpoints in process memory, stored as JSON text (as a KV store would hold them, so state
 * that does not survive JSON fails here too). Survives a service restart, not a process restart.
 *
 * @example
 * const store = new MemoryCheckpointStore();
 * await store.save('aggregate', { v: 1, keys: [] }); await store.load('aggregate') // { v: 1, keys: [] }
 */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly snapshots = new Map<string, string>();

  async load(name: string): Promise<unknown> {
    const text = this.snapshots.get(name);
    return text === undefined ? undefined : JSON.parse(text);
  }

  async save(name: string, snapshot: unknown): Promise<void> {
    this.snapshots.set(name, JSON.stringify(snapshot));
  }

  async delete(name: string): Promise<void> {
    this.snapshots.delete(name);
  }
}

/** The store aggregate services use when none is given: one per process, shared by name. */
export const processCheckpointStore: CheckpointStore = new MemoryCheckpointStore();
