import { randomFillSync } from 'node:crypto';

// Trace and span ids are needed on every publish; slicing them from a pooled random buffer
// costs a fraction of a randomBytes() call per id.
const POOL_SIZE = 8192;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

/** `bytes` random bytes as lowercase hex, never all zeros (W3C forbids zero ids). */
export function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL_SIZE) { randomFillSync(pool); offset = 0; }
    const hex = pool.toString('hex', offset, offset + bytes);
    offset += bytes;
    for (let i = 0; i < hex.length; i++) if (hex.charCodeAt(i) !== 48) return hex;
  }
}
