import { OptionsInvalidError } from '../core/index.js';
import { assertKey, assertPrefix, type Clock, type LeaseEntry, type LeaseStore } from './lease-store.js';

export interface MemoryLeaseStoreOptions {
  /** An entry vanishes this long after its last write, ms. */
  ttlMs: number;
  /** Time source for expiry; tests pass a virtual clock they advance. Default performance.now. */
  clock?: Clock;
}

interface Stored { value: string; revision: number; writtenAt: number }

/**
 * The LeaseStore in one process: for unit tests with a virtual clock, and for in-process
 * instances without a broker. Same rules as the NATS KV store: expiry `ttlMs` after the last
 * write, every write compare-and-set, revisions growing across the whole store.
 *
 * @example
 * const clock = { t: 0, now() { return this.t; } };
 * const store = new MemoryLeaseStore({ ttlMs: 1000, clock });
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Stored>();
  private sequence = 0;

  constructor(options: MemoryLeaseStoreOptions) {
    if (!(options.ttlMs > 0)) throw new OptionsInvalidError(`ttlMs must be > 0, got ${options.ttlMs}`, { details: { field: 'ttlMs' } });
    this.ttlMs = options.ttlMs;
    this.clock = options.clock ?? performance;
  }

  async get(key: string): Promise<LeaseEntry | undefined> {
    assertKey(key);
    const e = this.live(key);
    return e && { key, value: e.value, revision: e.revision };
  }

  async create(key: string, value: string): Promise<number | undefined> {
    assertKey(key);
    if (this.live(key)) return undefined;
    return this.write(key, value);
  }

  async update(key: string, value: string, revision: number): Promise<number | undefined> {
    assertKey(key);
    if (this.live(key)?.revision !== revision) return undefined;
    return this.write(key, value);
  }

  async delete(key: string, revision?: number): Promise<boolean> {
    assertKey(key);
    const e = this.live(key);
    if (revision !== undefined && e?.revision !== revision) return false;
    this.entries.delete(key);
    this.sequence++; // a delete is a write (NATS stores a marker), so later revisions stay larger
    return true;
  }

  async list(prefix: string): Promise<LeaseEntry[]> {
    assertPrefix(prefix);
    const out: LeaseEntry[] = [];
    for (const key of [...this.entries.keys()]) {
      if (!key.startsWith(prefix)) continue;
      const e = this.live(key);
      if (e) out.push({ key, value: e.value, revision: e.revision });
    }
    return out;
  }

  private live(key: string): Stored | undefined {
    const e = this.entries.get(key);
    if (e && this.clock.now() >= e.writtenAt + this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private write(key: string, value: string): number {
    const revision = ++this.sequence;
    this.entries.set(key, { value, revision, writtenAt: this.clock.now() });
    return revision;
  }
}
