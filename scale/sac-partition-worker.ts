import type { Bus, Envelope, Handler, HandlerContext, Logger, NanoserviceDefinition, Subscription } from '../core/index.js';
import { OptionsInvalidError } from '../core/index.js';
import { PROBE_TYPE, type SacCheckpoint } from './amqp-coordination.js';

/** Where the worker keeps its checkpoints (`AmqpCoordination` on RabbitMQ). */
export interface SacCheckpointStore {
  loadCheckpoint(name: string): Promise<SacCheckpoint | undefined>;
  saveCheckpoint(name: string, checkpoint: SacCheckpoint): Promise<void>;
}

export interface SacPartitionWorkerOptions {
  bus: Bus;
  /** A fresh copy of the service (its own state). */
  create(): NanoserviceDefinition;
  store: SacCheckpointStore;
  /** Checkpoint name, e.g. `iot.aggregate.p3`. */
  checkpointName: string;
  /** Consumer group: with the input pattern it names the partition's single-active-consumer queue. */
  group: string;
  /** The partition consumed (`SubscribeOptions.partition`); undefined when the input is not partitioned. */
  partition: number | undefined;
  member: string;
  /** How often state is checkpointed and the inputs it covers acked, ms. */
  checkpointIntervalMs: number;
  /** Inputs handled and held unacked before a checkpoint is forced. Default 500. */
  holdLimit?: number;
  /** How long handled input ids are remembered (and checkpointed) to skip replays, ms. Default 30,000. */
  dedupeWindowMs?: number;
  logger: Logger;
  /** The worker found it is the active consumer and loaded the checkpoint. */
  onActive?(): void;
  /** The consumer was lost (channel or connection): state dropped, nothing saved. */
  onInterrupted?(): void;
}

/** Saves of a quiet partition still happen every this many intervals (timers change state too). */
const QUIET_SAVE_EVERY = 10;
const LOAD_RETRY_MS = 500;

/**
 * One partition of one service on RabbitMQ. Every member subscribes to every partition's quorum
 * queue with single active consumer, so RabbitMQ itself picks the one consumer that gets
 * deliveries and fails over to the next when that consumer's channel dies. The worker learns it
 * is active from its first delivery (a probe or an input) and only then loads the checkpoint, so
 * a standby never holds state. Acks are held until a checkpoint covering the inputs is confirmed
 * (`holdAcks`); a crash makes RabbitMQ redeliver exactly what no checkpoint covers. Input ids
 * handled recently travel in the checkpoint, so a redelivery, or an upstream's replay under the
 * same derived id, is skipped rather than counted twice.
 */
export class SacPartitionWorker {
  private subscriptions: Subscription[] = [];
  private timer?: NodeJS.Timeout;
  private loading?: Promise<void>;
  private loaded = false;
  private ended = false;
  private handingOver = false;
  private savedAt?: number;
  private epoch = 0;
  private seq = 0;
  private handledSinceSave = 0;
  private intervalsSinceSave = 0;
  private checkpointing?: Promise<void>;
  /** Handled input ids with when they were handled, oldest first. */
  private recent = new Map<string, number>();
  private readonly holdLimit: number;
  private readonly windowMs: number;

  private constructor(private readonly o: SacPartitionWorkerOptions, private readonly def: NanoserviceDefinition) {
    this.holdLimit = o.holdLimit ?? 500;
    this.windowMs = o.dedupeWindowMs ?? 30_000;
  }

  /** Subscribes (as the active consumer or a standby: RabbitMQ decides) with an empty state. */
  static async start(o: SacPartitionWorkerOptions): Promise<SacPartitionWorker> {
    const def = o.create();
    if (def.subscriptions.length !== 1) {
      // Each subscription is a queue of its own, each with its own active consumer: state split over members.
      throw new OptionsInvalidError(`scale: service ${def.name} has ${def.subscriptions.length} subscriptions; coordination "amqp" runs services with exactly one`, { details: { field: 'scale.coordination' } });
    }
    const worker = new SacPartitionWorker(o, def);
    await def.start?.(o.bus);
    const { pattern, handler, kind: _kind, group: _group, partitions: _partitions, ...options } = def.subscriptions[0]!;
    try {
      worker.subscriptions.push(await o.bus.subscribe(pattern, worker.wrap(handler), {
        ...options,
        group: o.group,
        ...(o.partition !== undefined ? { partition: o.partition } : {}),
        ordered: true,
        holdAcks: worker.holdLimit,
        onInterrupted: () => worker.interrupted(),
        // Once interrupted or ended, nothing more is handled: what was delivered goes back to the queue.
        admit: () => !worker.ended,
        deriveIds: true,
      }));
    } catch (err) {
      await worker.abort();
      throw err;
    }
    if (o.checkpointIntervalMs > 0) {
      worker.timer = setInterval(() => { void worker.checkpoint(); }, o.checkpointIntervalMs);
      worker.timer.unref();
    }
    return worker;
  }

  /** When its last checkpoint was saved and under which epoch (undefined until active). */
  get lastCheckpoint(): { savedAt: number; epoch: number } | undefined {
    return this.savedAt === undefined ? undefined : { savedAt: this.savedAt, epoch: this.epoch };
  }

  /** True once it has been the active consumer and loaded the checkpoint. */
  get active(): boolean { return this.loaded && !this.ended; }
  get stopped(): boolean { return this.ended; }

  private wrap(handler: Handler): Handler {
    return async (msg: Envelope, ctx: HandlerContext) => {
      if (!this.loaded) await this.ensureLoaded();
      if (msg.type === PROBE_TYPE) return undefined;
      if (this.recent.has(msg.id)) {
        ctx.metric('duplicate', 'dropped');
        return undefined;
      }
      const result = await handler(msg, ctx);
      this.recent.set(msg.id, Date.now());
      if (++this.handledSinceSave >= this.holdLimit / 2) void this.checkpoint();
      return result;
    };
  }

  /** Loads the checkpoint once (retrying while the store is unreachable) and claims it under a new epoch. */
  private async ensureLoaded(): Promise<void> {
    this.loading ??= (async () => {
      for (;;) {
        if (this.ended) throw new Error('partition worker stopped before its checkpoint loaded');
        try {
          const cp = await this.o.store.loadCheckpoint(this.o.checkpointName);
          if (this.ended) continue;
          if (cp !== undefined && this.def.state) this.def.state.restore(cp.state);
          const now = Date.now();
          this.recent = new Map((cp?.ids ?? []).map((id) => [id, now]));
          this.epoch = (cp?.epoch ?? 0) + 1;
          this.seq = 0;
          // The claim: from here on this epoch is the highest, so a late save of the previous owner loses to ours.
          await this.o.store.saveCheckpoint(this.o.checkpointName, this.checkpointRecord());
          this.loaded = true;
          this.o.logger.info('partition active', { checkpoint: this.o.checkpointName, epoch: this.epoch, restored: cp !== undefined });
          this.o.onActive?.();
          return;
        } catch (err) {
          if (this.ended) throw err;
          this.o.logger.warn('loading a partition checkpoint failed; retrying', { checkpoint: this.o.checkpointName, err });
          await new Promise((r) => setTimeout(r, LOAD_RETRY_MS));
        }
      }
    })();
    return this.loading;
  }

  private checkpointRecord(): SacCheckpoint {
    const cutoff = Date.now() - this.windowMs;
    for (const [id, at] of this.recent) {
      if (at >= cutoff) break;
      this.recent.delete(id);
    }
    this.savedAt = Date.now();
    return {
      epoch: this.epoch, seq: this.seq++, owner: this.o.member, savedAt: this.savedAt,
      state: this.def.state?.snapshot(), ids: [...this.recent.keys()],
    };
  }

  /** Saves state at a settled point, then acks the inputs it covers. Skipped while one runs or nothing changed. */
  checkpoint(): Promise<void> {
    if (!this.loaded || this.ended || this.handingOver) return Promise.resolve();
    if (this.handledSinceSave === 0 && ++this.intervalsSinceSave < QUIET_SAVE_EVERY) return Promise.resolve();
    this.checkpointing ??= (async () => {
      try {
        await this.saveAndCommit();
      } finally {
        if (!this.ended && !this.handingOver) for (const s of this.subscriptions) s.resume();
      }
    })().finally(() => { this.checkpointing = undefined; });
    return this.checkpointing;
  }

  /**
   * Pauses intake until what was taken in is settled, saves state and handled ids, then acks the
   * inputs the save covers. False when it could not: the inputs stay unacked (the next one retries).
   */
  private async saveAndCommit(): Promise<boolean> {
    try {
      await Promise.all(this.subscriptions.map((s) => s.pause()));
      if (!this.loaded || this.ended) return false;
      await this.o.store.saveCheckpoint(this.o.checkpointName, this.checkpointRecord());
      this.handledSinceSave = 0;
      this.intervalsSinceSave = 0;
      if (!this.subscriptions.every((s) => s.commit())) {
        // Some inputs came from a channel that is gone: they are being redelivered, maybe elsewhere.
        this.interrupted();
        return false;
      }
      return true;
    } catch (err) {
      this.o.logger.warn('partition checkpoint failed; its inputs stay unacked and the next one retries', { checkpoint: this.o.checkpointName, err });
      return false;
    }
  }

  /**
   * Gives the partition up on purpose: a last checkpoint, the inputs it covers acked, then the
   * consumer cancelled so RabbitMQ activates the next one. If the save fails the inputs go back
   * unacked and the next owner replays them on the checkpoint before: nothing is lost either way.
   */
  async handOver(): Promise<void> {
    if (this.ended || this.handingOver) return;
    this.handingOver = true;
    if (this.timer) clearInterval(this.timer);
    await this.checkpointing;
    if (this.loaded && !this.ended) await this.saveAndCommit();
    this.ended = true;
    await this.close();
  }

  /** The consumer was lost: its inputs go back to the queue; the state built on them is dropped. */
  private interrupted(): void {
    if (this.ended) return;
    this.o.logger.warn('partition consumer interrupted: dropping its state; RabbitMQ redelivers what no checkpoint covered', { checkpoint: this.o.checkpointName, wasActive: this.loaded });
    const wasActive = this.loaded;
    void this.abort();
    if (wasActive) this.o.onInterrupted?.();
  }

  /** Stops at once and saves nothing. */
  async abort(): Promise<void> {
    if (this.ended && this.subscriptions.length === 0) return;
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    await this.close();
  }

  private async close(): Promise<void> {
    const subs = this.subscriptions.splice(0);
    await Promise.all(subs.map((s) => s.unsubscribe().catch((err: unknown) => this.o.logger.warn('unsubscribe failed', { checkpoint: this.o.checkpointName, err }))));
    await this.def.stop?.();
  }
}
