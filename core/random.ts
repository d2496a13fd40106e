import { randomFillSync } from 'node:crypto';

// Trace and span ids are needed on every publish; drawing them from a pooled
// buffer costs a fraction of a randomBytes() call per id.
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** `bytes` random bytes as lowercase hex, never all zeros (W3C forbids zero ids). */
export function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL_SIZE) { randomFillSync(pool); offset = 0; }
    let out = '';
    let zero = true;
    for (let i = 0; i < bytes; i++) {
      const b = pool[offset + i]!;
      if (b !== 0) zero = false;
      out += HEX[b];
    }
    offset += bytes;
    if (!zero) return out;
  }
}
