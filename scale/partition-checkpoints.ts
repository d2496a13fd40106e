import { assertKey, assertPrefix } from './lease-store.js';
import { CheckpointFencedError } from './errors.js';

/** What a partition's owner saves: the input position it has processed up to, and its state then. */
export interface CheckpointRecord {
  /** The input position (JetStream: stream sequence) everything up to which is reflected in `state`; 0 = nothing yet. */
  position: number;
  /** The per-partition state (windows, dedupe sets); must survive JSON. */
  state: unknown;
  /** The member that saved it. */
  owner: string;
  /** When it was saved, epoch ms. */
  savedAt: number;
}

/**
 * Per-partition checkpoints, written compare-and-set on their revision so an owner that lost its
 * lease can never overwrite what the new owner saved.
 */
export interface PartitionCheckpoints {
  /** The record and its revision (0 = none yet). */
  load(name: string): Promise<{ record: CheckpointRecord | undefined; revision: number }>;
  /** Saves only if the stored revision is still `revision` (0 = must not exist yet); throws CheckpointFencedError otherwise. Returns the new revision. */
  save(name: string, record: CheckpointRecord, revision: number): Promise<number>;
  list(prefix: string): Promise<Array<{ name: string; record: CheckpointRecord; revision: number }>>;
}

/**
 * What a new owner does first, before it touches the partition: load the checkpoint and save it
 * back stamped with its own name (a fresh record at position 0 when there is none). That write
 * moves the revision on, so any save a previous owner still has in flight fails with
 * CheckpointFencedError instead of landing after the new owner has read.
 *
 * @example
 * onAcquired: async (p) => { const { record, revision } = await claimCheckpoint(cps, `iot.aggregate.${p}`, member); … }
 */
export async function claimCheckpoint(
  checkpoints: PartitionCheckpoints, name: string, owner: string, now: () => number = Date.now,
): Promise<{ record: CheckpointRecord; revision: number }> {
  const loaded = await checkpoints.load(name);
  const record: CheckpointRecord = { position: loaded.record?.position ?? 0, state: loaded.record?.state, owner, savedAt: now() };
  const revision = await checkpoints.save(name, record, loaded.revision);
  return { record: JSON.parse(JSON.stringify(record)) as CheckpointRecord, revision };
}

export function fencedError(name: string, revision: number, cause?: unknown): CheckpointFencedError {
  return new CheckpointFencedError(
    `checkpoint "${name}" was written by someone else since revision ${revision}: this instance no longer owns it`,
    { details: { name, revision }, ...(cause === undefined ? {} : { cause }) },
  );
}

/**
 * Checkpoints in process memory (tests, in-process instances). Records are stored as JSON, like
 * the KV store, so what `load` returns never aliases what was saved.
 *
 * @example
 * const cps = new MemoryPartitionCheckpoints();
 * const { revision } = await cps.load('iot.aggregate.3');
 * await cps.save('iot.aggregate.3', { position: 42, state, owner: 'a', savedAt: Date.now() }, revision);
 */
export class MemoryPartitionCheckpoints implements PartitionCheckpoints {
  private readonly records = new Map<string, { json: string; revision: number }>();
  private sequence = 0;

  async load(name: string): Promise<{ record: CheckpointRecord | undefined; revision: number }> {
    assertKey(name, 'name');
    const stored = this.records.get(name);
    return stored ? { record: JSON.parse(stored.json) as CheckpointRecord, revision: stored.revision } : { record: undefined, revision: 0 };
  }

  async save(name: string, record: CheckpointRecord, revision: number): Promise<number> {
    assertKey(name, 'name');
    if ((this.records.get(name)?.revision ?? 0) !== revision) throw fencedError(name, revision);
    const next = ++this.sequence;
    this.records.set(name, { json: JSON.stringify(record), revision: next });
    return next;
  }

  async list(prefix: string): Promise<Array<{ name: string; record: CheckpointRecord; revision: number }>> {
    assertPrefix(prefix);
    return [...this.records].filter(([name]) => name.startsWith(prefix))
      .map(([name, s]) => ({ name, record: JSON.parse(s.json) as CheckpointRecord, revision: s.revision }));
  }
}
