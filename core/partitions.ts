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
