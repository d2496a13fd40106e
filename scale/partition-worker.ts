import type { Bus, Logger, NanoserviceDefinition, Subscription } from '../core/index.js';
import type { Lease } from './coordinator.js';
import { CheckpointFencedError } from './errors.js';
import { claimCheckpoint, type PartitionCheckpoints } from './partition-checkpoints.js';

export interface PartitionWorkerOptions {
  bus: Bus;
  /** A fresh copy of the service for this partition (its own state). */
  create(): NanoserviceDefinition;
  checkpoints: PartitionCheckpoints;
  /** Checkpoint name, e.g. `iot.aggregate.p3`. */
  checkpointName: string;
  /** The partition consumed (`SubscribeOptions.partition`); undefined when the input is not partitioned. */
  partition: number | undefined;
  lease: Lease;
  /** Who owns it, written into each checkpoint. */
  member: string;
  /** How often state and input position are checkpointed, ms. */
  checkpointIntervalMs: number;
  /** How long a checkpoint waits for in-flight messages before it gives up this round, ms. */
  pauseTimeoutMs?: number;
  /** Replay from the checkpoint position (transports with replay); false = consume from now (one process, memory). */
  replay: boolean;
  logger: Logger;
  /** Called when the worker finds it was fenced off (a newer owner wrote the checkpoint). */
  onFenced?(): void;
}

/** What a checkpoint holds besides the input position: the service's state and each subscription's position. */
interface WorkerState { state: unknown; positions: number[] }

/**
 * One owned partition of one service: its own copy of the nanoservice, restored from the
 * partition's checkpoint, consuming the partition from the checkpoint's input position. Every
 * `checkpointIntervalMs` it pauses intake until what it took in is settled, saves state and
 * position together (compare-and-set on the checkpoint's revision, so an owner that was fenced
 * off can never overwrite its successor), and resumes. Outputs carry ids derived from their
 * input, so what a successor replays after a crash is absorbed by the broker's duplicate window.
 */
export class PartitionWorker {
  private subscriptions: Subscription[] = [];
  /** Where each subscription started: its position until it has taken a message. */
  private startedAfter: number[] = [];
  private timer?: NodeJS.Timeout;
  private revision = 0;
  private checkpointing?: Promise<void>;
  private ended = false;

  private constructor(private readonly o: PartitionWorkerOptions, private readonly def: NanoserviceDefinition) {}

  static async start(o: PartitionWorkerOptions): Promise<PartitionWorker> {
    // Claiming writes the checkpoint back under this owner: a save the previous owner still has
    // in flight is then fenced off instead of landing after this one read it.
    const { record, revision } = await claimCheckpoint(o.checkpoints, o.checkpointName, o.member);
    const def = o.create();
    const worker = new PartitionWorker(o, def);
    worker.revision = revision;
    const saved = record?.state as WorkerState | undefined;
    if (saved !== undefined && def.state) def.state.restore(saved.state);
    await def.start?.(o.bus);
    try {
      for (const [i, { pattern, handler, kind: _kind, group: _group, partitions: _partitions, ...options }] of def.subscriptions.entries()) {
        const position = saved?.positions[i] ?? record.position;
        worker.startedAfter.push(position);
        worker.subscriptions.push(await o.bus.subscribe(pattern, handler, {
          ...options,
          ...(o.partition !== undefined ? { partition: o.partition } : {}),
          ...(o.replay ? { startAfter: position } : {}),
          // Per-key order is what one owner per partition is for (windows, hysteresis).
          ordered: true,
          admit: () => o.lease.valid(),
          deriveIds: true,
        }));
      }
    } catch (err) {
      await worker.abort();
      throw err;
    }
    o.logger.info('partition worker started', { checkpoint: o.checkpointName, from: record.position, restored: saved !== undefined });
    if (o.checkpointIntervalMs > 0) {
      worker.timer = setInterval(() => { void worker.checkpoint(); }, o.checkpointIntervalMs);
      worker.timer.unref();
    }
    return worker;
  }

  /** Saves state and input position at a settled point (skipped when one is running or the lease lapsed). */
  checkpoint(): Promise<void> {
    this.checkpointing ??= this.saveCheckpoint().finally(() => { this.checkpointing = undefined; });
    return this.checkpointing;
  }

  private async saveCheckpoint(): Promise<void> {
    if (this.ended || !this.o.lease.valid()) return;
    const timeoutMs = this.o.pauseTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const paused = Promise.all(this.subscriptions.map((s) => s.pause()));
      const positions = await Promise.race([paused, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), timeoutMs); })]);
      // A message still retrying holds its key: no settled point this round; try again next time.
      if (positions === undefined || this.ended || !this.o.lease.valid()) return;
      await this.save(positions);
    } catch (err) {
      if (err instanceof CheckpointFencedError) {
        this.o.logger.warn('partition checkpoint fenced off: a newer owner wrote it; stopping this partition', { checkpoint: this.o.checkpointName });
        this.o.onFenced?.();
        await this.abort();
        return;
      }
      this.o.logger.warn('partition checkpoint failed; the next one retries', { checkpoint: this.o.checkpointName, err });
    } finally {
      clearTimeout(timer);
      if (!this.ended) for (const s of this.subscriptions) s.resume();
    }
  }

  /** Gives the partition up on purpose: drains what it took in, saves a last checkpoint, stops the service. */
  async release(): Promise<void> {
    if (this.ended) return;
    if (this.timer) clearInterval(this.timer);
    await this.checkpointing;
    await this.saveFinal();
    this.ended = true;
    await Promise.all(this.subscriptions.map((s) => s.unsubscribe()));
    await this.def.stop?.();
  }

  /** State and positions, compare-and-set on the revision this worker last read or wrote. */
  private async save(paused: Array<number | undefined>): Promise<void> {
    const positions = paused.map((p, i) => p ?? this.startedAfter[i] ?? 0);
    const state: WorkerState = { state: this.def.state?.snapshot(), positions };
    const position = positions.length > 0 ? Math.min(...positions) : 0;
    this.revision = await this.o.checkpoints.save(this.o.checkpointName, { position, state, owner: this.o.member, savedAt: Date.now() }, this.revision);
  }

  private async saveFinal(): Promise<void> {
    const paused = await Promise.all(this.subscriptions.map((s) => s.pause()));
    if (!this.o.lease.valid()) return;
    try {
      await this.save(paused);
    } catch (err) {
      this.o.logger.warn('last partition checkpoint failed: the next owner replays from the one before', { checkpoint: this.o.checkpointName, err });
    }
  }

  /** The partition is lost: stop touching it at once and save nothing. */
  async abort(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.subscriptions.map((s) => s.unsubscribe().catch((err: unknown) => this.o.logger.warn('unsubscribe failed', { err }))));
    await this.def.stop?.();
  }
}
