import { createHash } from 'node:crypto';
import { createLogger, errorMessage, OptionsInvalidError, type Logger } from '../core/index.js';
import { assertKey, type Clock, type LeaseStore } from './lease-store.js';

/** Ownership of one partition, as handed to `onAcquired`. */
export interface Lease {
  readonly partition: number;
  /** Fencing token: the lease entry's revision at acquisition. A later owner always holds a larger one. */
  readonly revision: number;
  /**
   * False once the local deadline passed (renewedAt + ttlMs - safetyMs, monotonic clock) or the
   * partition was revoked or lost; never true again after that. The holder must then stop
   * touching the partition.
   */
  valid(): boolean;
}

/** One ownership change, for logs and metric fields. */
export interface OwnershipEvent {
  kind: 'acquired' | 'revoked' | 'lost' | 'failed';
  group: string;
  member: string;
  partition: number;
  /** The lease's fencing revision. */
  revision: number;
  /** revoked: rebalance | stopping; lost: expired | taken; failed: onAcquired threw and the lease was released. */
  reason?: 'rebalance' | 'stopping' | 'expired' | 'taken' | 'acquire-failed';
}

export interface PartitionCoordinatorOptions {
  /** Where leases and membership live (MemoryLeaseStore, or NatsCoordination's `leases`). */
  store: LeaseStore;
  /** The work being shared, e.g. `iot.aggregate`: a KV key (letters, digits, - / _ =, dot-separated). */
  group: string;
  /** This instance's id, unique among running instances; reuse it only on a restart. Letters, digits, - / _ =, no dots. */
  member: string;
  /** Partition count (fixed per pipeline): partitions are 0 … partitions-1. */
  partitions: number;
  /** Time between rounds, ms. Must be below ttlMs - safetyMs. Default ttlMs/4. */
  renewIntervalMs?: number;
  /**
   * How long before the store's TTL a lease counts as lost locally, ms: room for a write the
   * holder has in flight to land before anyone else can acquire. Default ttlMs/10.
   */
  safetyMs?: number;
  /** Monotonic time source, ms. Default performance.now. */
  clock?: Clock;
  /** Default: core createLogger(). */
  logger?: Logger;
  /** Run rounds on a timer after start(). False = only when tick() is called (tests). Default true. */
  autoTick?: boolean;
  /** A partition became ours: start working on it (load checkpoint, subscribe). A throw releases the lease and logs. */
  onAcquired(partition: number, lease: Lease): Promise<void> | void;
  /** We give the partition up on purpose (rebalance or stop): finish and checkpoint, then resolve; the coordinator then deletes the lease. */
  onRevoked(partition: number, reason: 'rebalance' | 'stopping'): Promise<void> | void;
  /** We lost it (local deadline passed, or the lease was taken / renewal refused): stop touching it at once, save nothing. */
  onLost(partition: number, reason: 'expired' | 'taken'): void;
  /** Every ownership change, after it is logged (for metric fields). A throw is logged and ignored. */
  onChange?(event: OwnershipEvent): void;
}

const MEMBER = /^[-/=\w]+$/;

/** The partition's weight for a member: first 4 bytes of sha256(member|partition). */
function weight(member: string, partition: number): number {
  return createHash('sha256').update(`${member}|${partition}`).digest().readUInt32BE(0);
}

/**
 * Rendezvous (highest-random-weight) owner of a partition among members: each member's weight
 * depends only on (member, partition), so a member joining takes only the partitions it now
 * wins and a member leaving hands out only its own. Ties go to the smaller member id.
 *
 * @example rendezvousOwner(3, ['a', 'b', 'c']) // the same answer on every instance
 */
export function rendezvousOwner(partition: number, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const m of members) {
    const w = weight(m, partition);
    if (w > bestWeight || (w === bestWeight && best !== undefined && m < best)) { best = m; bestWeight = w; }
  }
  return best;
}

class HeldLease implements Lease {
  /** The entry's latest revision (moves with each renewal; `revision` stays the fencing token). */
  current: number;
  private ended = false;

  constructor(readonly partition: number, readonly revision: number, public renewedAt: number, private readonly span: number, private readonly clock: Clock) {
    this.current = revision;
  }

  get deadline(): number { return this.renewedAt + this.span; }

  valid(): boolean {
    if (this.ended) return false;
    // Latched: a holder that once saw "invalid" stopped, so a later renewal must not revive it.
    if (this.clock.now() >= this.deadline) this.ended = true;
    return !this.ended;
  }

  end(): void { this.ended = true; }
}

/**
 * Shares `partitions` among the running members of a group through leases in a LeaseStore
 * (see scale/README.md for the rules). Each round: heartbeat membership, list live members, work
 * out this member's rendezvous share, renew or give up what it holds, acquire what is free.
 *
 * @example
 * const pc = new PartitionCoordinator({ store: coord.leases, group: 'iot.aggregate', member: 'host-1', partitions: 16,
 *   onAcquired: (p, lease) => runner.startPartition(p, lease), onRevoked: (p) => runner.drainPartition(p), onLost: (p) => runner.dropPartition(p) });
 * await pc.start(); … await pc.stop();
 */
export class PartitionCoordinator {
  private readonly o: PartitionCoordinatorOptions;
  private readonly store: LeaseStore;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly span: number;
  private readonly memberKey: string;
  private readonly memberPrefix: string;
  private readonly held = new Map<number, HeldLease>();
  private live: string[] = [];
  private memberRevision: number | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;

  constructor(o: PartitionCoordinatorOptions) {
    assertKey(o.group, 'group');
    if (!MEMBER.test(o.member)) throw new OptionsInvalidError(`member "${o.member}" may hold only letters, digits and - / _ = (no dots)`, { details: { field: 'member' } });
    if (!Number.isInteger(o.partitions) || o.partitions < 1) throw new OptionsInvalidError(`partitions must be an integer >= 1, got ${o.partitions}`, { details: { field: 'partitions' } });
    const ttl = o.store.ttlMs;
    const safety = o.safetyMs ?? ttl / 10;
    if (!(safety >= 0 && safety < ttl)) throw new OptionsInvalidError(`safetyMs must be >= 0 and below the store's ttlMs (${ttl}), got ${safety}`, { details: { field: 'safetyMs' } });
    const interval = o.renewIntervalMs ?? ttl / 4;
    if (!(interval > 0 && interval < ttl - safety)) {
      throw new OptionsInvalidError(`renewIntervalMs must be > 0 and below ttlMs - safetyMs (${ttl - safety}), got ${interval}`, { details: { field: 'renewIntervalMs' } });
    }
    this.o = o;
    this.store = o.store;
    this.clock = o.clock ?? performance;
    this.intervalMs = interval;
    this.span = ttl - safety;
    this.log = (o.logger ?? createLogger()).child({ group: o.group, member: o.member });
    this.memberPrefix = `${o.group}.m.`;
    this.memberKey = `${this.memberPrefix}${o.member}`;
  }

  /** Joins, runs a first round, then a round every renewIntervalMs (unless autoTick is false). */
  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    await this.tick();
    if (this.o.autoTick !== false && !this.stopped) {
      this.timer = setInterval(() => { this.tick().catch((err) => this.log.error('coordination round failed', { err })); }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** One round. A call while a round runs returns that round (rounds never overlap). */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.round().finally(() => { this.running = undefined; });
    return this.running;
  }

  /** Partitions held now, ascending (a lease may have passed its deadline since the last round: check lease(p).valid()). */
  owned(): number[] { return [...this.held.keys()].sort((a, b) => a - b); }

  /** Live members as of the last round, sorted. */
  members(): string[] { return [...this.live]; }

  lease(partition: number): Lease | undefined { return this.held.get(partition); }

  /** Revokes every held partition ('stopping'), deletes its leases and its membership key. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      clearInterval(this.timer);
      await this.running?.catch(() => undefined);
      for (const lease of [...this.held.values()]) await this.giveUp(lease, 'stopping');
      if (this.memberRevision !== undefined) {
        await this.store.delete(this.memberKey, this.memberRevision).catch((err) => this.log.warn('could not delete membership key; it expires by TTL', { err }));
      }
      this.live = [];
    })();
    return this.stopping;
  }

  private partitionKey(p: number): string { return `${this.o.group}.p.${p}`; }

  private async round(): Promise<void> {
    const members = await this.heartbeatAndList();
    // Without a member list (store unreachable) only renewals happen: no share is computed, nothing moves.
    const target = members && this.targetOf(members);
    for (const lease of [...this.held.values()]) {
      if (!lease.valid()) this.lose(lease, 'expired');
      else if (target && !target.has(lease.partition)) await this.giveUp(lease, 'rebalance');
      else await this.renew(lease);
    }
    if (!target) return;
    for (const p of target) if (!this.held.has(p) && !this.stopped) await this.tryAcquire(p);
  }

  private async heartbeatAndList(): Promise<string[] | undefined> {
    try {
      await this.heartbeat();
      const entries = await this.store.list(this.memberPrefix);
      // A key with more tokens belongs to another group whose name extends ours (group "a" vs "a.m").
      const members = entries.map((e) => e.key.slice(this.memberPrefix.length)).filter((m) => !m.includes('.'));
      if (!members.includes(this.o.member)) members.push(this.o.member);
      members.sort();
      if (members.join() !== this.live.join()) this.log.info('members changed', { members });
      this.live = members;
      return members;
    } catch (err) {
      this.log.warn('membership round failed; renewing held leases only', { err });
      return undefined;
    }
  }

  private async heartbeat(): Promise<void> {
    const { store, memberKey: key, o: { member } } = this;
    let rev = this.memberRevision === undefined ? undefined : await store.update(key, member, this.memberRevision);
    rev ??= await store.create(key, member);
    if (rev === undefined) {
      // Our key from before a restart (same member id) still lives: take it over.
      const e = await store.get(key);
      if (e) rev = await store.update(key, member, e.revision);
    }
    if (rev === undefined) throw new Error(`membership key ${key} changed under us (is another instance running as member "${member}"?)`);
    this.memberRevision = rev;
  }

  private targetOf(members: string[]): Set<number> {
    const target = new Set<number>();
    for (let p = 0; p < this.o.partitions; p++) if (rendezvousOwner(p, members) === this.o.member) target.add(p);
    return target;
  }

  /** Renews at the held revision. 'failed' = the store could not be asked; the local deadline still rules. */
  private async renew(lease: HeldLease): Promise<'renewed' | 'lost' | 'failed'> {
    const sentAt = this.clock.now(); // before the write: the server's TTL starts later, never earlier
    let rev: number | undefined;
    try {
      rev = await this.store.update(this.partitionKey(lease.partition), this.o.member, lease.current);
    } catch (err) {
      this.log.warn('lease renewal failed', { partition: lease.partition, err });
      return 'failed';
    }
    if (rev === undefined) { this.lose(lease, 'taken'); return 'lost'; }
    // The deadline passed while the write was in flight: the holder may already have stopped, so
    // this lease stays lost (the next acquisition will take the entry over with a new revision).
    if (!lease.valid()) { this.lose(lease, 'expired'); return 'lost'; }
    lease.current = rev;
    lease.renewedAt = sentAt;
    return 'renewed';
  }

  private async giveUp(lease: HeldLease, reason: 'rebalance' | 'stopping'): Promise<void> {
    const p = lease.partition;
    if (!lease.valid()) { this.lose(lease, 'expired'); return; }
    // Renew first so the handover work (flush, checkpoint) gets a whole TTL.
    if ((await this.renew(lease)) === 'lost') return;
    try {
      await this.o.onRevoked(p, reason);
    } catch (err) {
      this.log.error('onRevoked failed; releasing the partition anyway', { partition: p, reason, err });
    }
    lease.end();
    this.held.delete(p);
    try {
      await this.store.delete(this.partitionKey(p), lease.current);
    } catch (err) {
      this.log.warn('could not delete lease; it expires by TTL', { partition: p, err });
    }
    this.report('revoked', lease, reason);
  }

  private lose(lease: HeldLease, reason: 'expired' | 'taken'): void {
    lease.end();
    this.held.delete(lease.partition);
    this.report('lost', lease, reason);
    try {
      this.o.onLost(lease.partition, reason);
    } catch (err) {
      this.log.error('onLost threw', { partition: lease.partition, reason, err });
    }
  }

  private async tryAcquire(p: number): Promise<void> {
    const key = this.partitionKey(p);
    let rev: number | undefined;
    const sentAt = this.clock.now();
    try {
      const entry = await this.store.get(key);
      if (!entry) rev = await this.store.create(key, this.o.member);
      // Ours from before a restart with the same member id: take it over at its revision (a new fencing token).
      else if (entry.value === this.o.member) rev = await this.store.update(key, this.o.member, entry.revision);
      // Held by another member: it moves when that member revokes it or its lease lapses.
    } catch (err) {
      this.log.warn('lease acquisition failed', { partition: p, err });
      return;
    }
    if (rev === undefined) return;
    const lease = new HeldLease(p, rev, sentAt, this.span, this.clock);
    this.held.set(p, lease);
    this.report('acquired', lease);
    try {
      await this.o.onAcquired(p, lease);
    } catch (err) {
      this.log.error('onAcquired failed; releasing the partition', { partition: p, err });
      if (this.held.get(p) !== lease) return;
      lease.end();
      this.held.delete(p);
      await this.store.delete(key, lease.current).catch((e) => this.log.warn('could not delete lease; it expires by TTL', { partition: p, err: e }));
      this.report('failed', lease, 'acquire-failed');
    }
  }

  private report(kind: OwnershipEvent['kind'], lease: HeldLease, reason?: OwnershipEvent['reason']): void {
    const event: OwnershipEvent = { kind, group: this.o.group, member: this.o.member, partition: lease.partition, revision: lease.revision, ...(reason ? { reason } : {}) };
    this.log.info(`partition ${kind}`, { partition: lease.partition, revision: lease.revision, ...(reason ? { reason } : {}) });
    try {
      this.o.onChange?.(event);
    } catch (err) {
      this.log.error('onChange threw', { err });
    }
  }
}
