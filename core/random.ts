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

const IDS_PER_BATCH = 512;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const idRandom = new Uint8Array(16 * IDS_PER_BATCH);
const idText = Buffer.alloc(36 * IDS_PER_BATCH);
let idsUsed = IDS_PER_BATCH;

/**
 * A UUID v4 for an envelope id. `crypto.randomUUID()` concatenates each id from 20 pieces (about
 * 600 bytes of garbage per id, and a pipeline makes two or more ids per reading); here the ids
 * are formatted 512 at a time into one buffer from one random fill, and each is read off it as
 * one flat string.
 */
export function newEventId(): string {
  if (idsUsed === IDS_PER_BATCH) {
    randomFillSync(idRandom);
    let o = 0;
    for (let r = 0; r < idRandom.length; r += 16) {
      idRandom[r + 6] = (idRandom[r + 6]! & 0x0f) | 0x40; // version 4
      idRandom[r + 8] = (idRandom[r + 8]! & 0x3f) | 0x80; // RFC 4122 variant
      for (let b = 0; b < 16; b++) {
        if (b === 4 || b === 6 || b === 8 || b === 10) idText[o++] = 0x2d; // '-'
        const v = idRandom[r + b]!;
        idText[o++] = HEX_DIGITS[v >> 4]!;
        idText[o++] = HEX_DIGITS[v & 15]!;
      }
    }
    idsUsed = 0;
  }
  const at = 36 * idsUsed++;
  return idText.toString('latin1', at, at + 36);
}
