import { OptionsInvalidError } from './errors.js';
import { compilePattern, type SubjectMatcher } from './subjects.js';

/**
 * The partition of a key: FNV-1a (32-bit) of its UTF-16 code units, modulo `count`.
 * Stable across processes and versions, so every instance agrees on who owns a key.
 * A missing key is partition 0.
 */
export function partitionOf(key: string | undefined, count: number): number {
  if (key === undefined || count <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % count;
}

/**
 * How a Bus carries partitioned subjects (scale-out): a subject matching one of `subjects` travels
 * as `<prefix>.<partition>.<subject>`, the partition being `partitionOf(partitionkey, count)`, so
 * the broker routes each partition on its own and an instance subscribes only to the partitions
 * it owns (`SubscribeOptions.partition`). Handlers always see the subject without the prefix.
 */
export interface PartitionScheme {
  /** Partitions per subject; fixed for a pipeline's life (another count moves keys between partitions). */
  count: number;
  /** Subjects (patterns) carried partitioned. */
  subjects: string[];
  /** First token of the partitioned wire subjects. Default `part`. */
  prefix?: string;
}

const PREFIX = /^[A-Za-z0-9_-]+$/;
/** Subjects remembered as partitioned or not, at most (then the memory starts over). */
const MATCH_CACHE_LIMIT = 10_000;

/** A checked PartitionScheme: maps subjects to their wire form and back. */
export class PartitionedSubjects {
  readonly count: number;
  readonly prefix: string;
  private readonly matchers: SubjectMatcher[];
  private readonly cache = new Map<string, boolean>();

  constructor(scheme: PartitionScheme) {
    if (!(Number.isInteger(scheme.count) && scheme.count >= 1 && scheme.count <= 4096)) {
      throw new OptionsInvalidError('partitioning.count must be an integer from 1 to 4096', { details: { field: 'partitioning.count' } });
    }
    const prefix = scheme.prefix ?? 'part';
    if (!PREFIX.test(prefix)) throw new OptionsInvalidError('partitioning.prefix must be one subject token ([A-Za-z0-9_-])', { details: { field: 'partitioning.prefix' } });
    if (!Array.isArray(scheme.subjects)) throw new OptionsInvalidError('partitioning.subjects must list subject patterns', { details: { field: 'partitioning.subjects' } });
    this.count = scheme.count;
    this.prefix = prefix;
    this.matchers = scheme.subjects.map((s) => compilePattern(s));
  }

  /** Whether `subject` travels partitioned. */
  covers(subject: string): boolean {
    let hit = this.cache.get(subject);
    if (hit === undefined) {
      hit = this.matchers.some((matches) => matches(subject));
      if (this.cache.size >= MATCH_CACHE_LIMIT) this.cache.clear();
      this.cache.set(subject, hit);
    }
    return hit;
  }

  /** The subject as it travels: prefixed with its key's partition when covered. */
  wireSubject(subject: string, key: string | undefined): string {
    return this.covers(subject) ? `${this.prefix}.${partitionOf(key, this.count)}.${subject}` : subject;
  }

  /** The pattern that receives one partition of `pattern`. */
  partitionPattern(pattern: string, partition: number): string {
    if (!(Number.isInteger(partition) && partition >= 0 && partition < this.count)) {
      throw new OptionsInvalidError(`partition must be an integer from 0 to ${this.count - 1}`, { details: { field: 'partition', partition } });
    }
    return `${this.prefix}.${partition}.${pattern}`;
  }
}
