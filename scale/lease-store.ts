import { OptionsInvalidError } from '../core/index.js';

export interface LeaseEntry { key: string; value: string; revision: number }

/** A monotonic time source in ms (performance.now by default); tests pass a virtual one. */
export interface Clock { now(): number }

/**
 * A key-value store whose entries vanish when not written for ttlMs; all writes compare-and-set.
 * Revisions grow with every write to the store (like a stream sequence), so a revision is also a
 * fencing token: a later holder of a key always sees a larger one.
 */
export interface LeaseStore {
  readonly ttlMs: number;
  get(key: string): Promise<LeaseEntry | undefined>;
  /** Creates key; undefined when it exists (not expired/deleted). Returns the new revision. */
  create(key: string, value: string): Promise<number | undefined>;
  /** Writes key only if its current revision is `revision`; undefined otherwise (someone else wrote, or it expired). */
  update(key: string, value: string, revision: number): Promise<number | undefined>;
  /** Deletes key (only at `revision` when given); false when the revision did not match. */
  delete(key: string, revision?: number): Promise<boolean>;
  /** Live entries whose key starts with prefix. */
  list(prefix: string): Promise<LeaseEntry[]>;
}

// NATS KV's own rule (nats.js validKeyRe): these characters, no empty token between dots.
const KEY = /^[-/=\w]+(\.[-/=\w]+)*$/;
const PREFIX = /^[-/=.\w]*$/;

/** Throws OptionsInvalidError naming `key` unless it is a valid KV key. Both stores apply it, so memory and NATS agree. */
export function assertKey(key: string, field = 'key'): void {
  if (!KEY.test(key)) {
    throw new OptionsInvalidError(`${field} "${key}" is not a valid key: use letters, digits and - / _ = separated by single dots`, { details: { field, key } });
  }
}

/** Throws OptionsInvalidError unless `prefix` holds only key characters (it may be empty or end in a dot). */
export function assertPrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) {
    throw new OptionsInvalidError(`prefix "${prefix}" may hold only letters, digits and - / _ = .`, { details: { field: 'prefix', prefix } });
  }
}
