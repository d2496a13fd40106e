/**
 * Remembers the last `window` values seen per key (e.g. a device's `ts`), to drop repeats of a
 * reading a device sent twice. Bounded: at most `window` values per key and `maxKeys` keys
 * (the longest-unused key is forgotten first).
 *
 * @example
 * const seen = new KeyedDedupe(100); seen.has('d1', 5) // false
 * seen.add('d1', 5); seen.has('d1', 5) // true
 */
export class KeyedDedupe {
  private readonly keys = new Map<string, { set: Set<unknown>; ring: unknown[]; next: number }>();

  constructor(private readonly window: number, private readonly maxKeys = 100_000) {}

  has(key: string, value: unknown): boolean {
    return this.keys.get(key)?.set.has(value) === true;
  }

  add(key: string, value: unknown): void {
    let entry = this.keys.get(key);
    if (entry) {
      this.keys.delete(key); // re-insert: Map order is the LRU order
    } else {
      entry = { set: new Set(), ring: [], next: 0 };
      if (this.keys.size >= this.maxKeys) this.keys.delete(this.keys.keys().next().value!);
    }
    this.keys.set(key, entry);
    if (entry.set.has(value)) return;
    if (entry.ring.length < this.window) entry.ring.push(value);
    else {
      entry.set.delete(entry.ring[entry.next]);
      entry.ring[entry.next] = value;
      entry.next = (entry.next + 1) % this.window;
    }
    entry.set.add(value);
  }

  get size(): number { return this.keys.size; }
}
