import { randomFillSync } from 'node:crypto';

const HEX = Buffer.from('0123456789abcdef', 'latin1');
const DASH = 0x2d;
const ZERO = 0x30;
const ONE = 0x31;

/**
 * Ids of one fixed-length ASCII form, made many at a time: one random fill and one formatting
 * pass per batch, then each id is read off the buffer as one flat string. Every publish needs an
 * event id and a trace or span id; `crypto.randomUUID()` builds an id from ~20 string pieces
 * (~600 bytes of garbage) and hex-formatting a few random bytes is a native call per id.
 *
 * A batch has a spare, filled in a `setImmediate` after the current one is taken into use, so
 * the fill runs after the work that wanted the id (a request is on the wire by then) instead of
 * in it. Filled in place, every 128th to 256th round trip made one at a time paid 20-30 µs more
 * on its critical path, right at its p99 (bench/RESULTS.md, stop 33). A burst that uses both
 * buffers before the event loop turns fills the next one in place, as before.
 *
 * @internal Exported for its tests; use the functions below.
 */
export class IdBatch {
  /** Scratch for a fill: the random bytes are formatted into a text buffer at once. */
  private readonly random: Uint8Array;
  private text: Buffer;
  private spare: Buffer;
  private spareReady = false;
  private spareQueued = false;
  private used: number;
  /** Batches filled in place, while an id was wanted (tests). */
  fillsInPlace = 0;

  constructor(private readonly randomBytes: number, private readonly length: number,
    private readonly format: (random: Uint8Array, r: number, text: Buffer, t: number) => void, private readonly count = 256) {
    this.random = new Uint8Array(randomBytes * count);
    this.text = Buffer.alloc(length * count);
    this.spare = Buffer.alloc(length * count);
    this.used = count;
  }

  next(): string {
    if (this.used === this.count) this.turn();
    const at = this.used++ * this.length;
    return this.text.toString('latin1', at, at + this.length);
  }

  /** The current batch is used up: take the spare if it is filled, else fill in place; queue the spare's fill. */
  private turn(): void {
    if (this.spareReady) {
      [this.text, this.spare] = [this.spare, this.text];
      this.spareReady = false;
    } else {
      this.fill(this.text);
      this.fillsInPlace++;
    }
    this.used = 0;
    if (!this.spareQueued) {
      this.spareQueued = true;
      // unref: a spare nobody may need must not keep the process alive for a turn. (A test's fake
      // timers may hand back an object without unref, or never fire: then batches fill in place.)
      setImmediate(this.fillSpare).unref?.();
    }
  }

  private readonly fillSpare = (): void => {
    this.spareQueued = false;
    if (this.spareReady) return;
    this.fill(this.spare);
    this.spareReady = true;
  };

  private fill(text: Buffer): void {
    randomFillSync(this.random);
    for (let i = 0; i < this.count; i++) this.format(this.random, i * this.randomBytes, text, i * this.length);
  }
}

/** Writes byte `v` as two lowercase hex digits at `t`; returns the end. */
function writeHexByte(text: Buffer, t: number, v: number): number {
  text[t] = HEX[v >> 4]!;
  text[t + 1] = HEX[v & 15]!;
  return t + 2;
}

/** Writes `n` random bytes from `r` as lowercase hex at `t`, never all zeros (W3C forbids zero ids); returns the end. */
function writeHex(random: Uint8Array, r: number, n: number, text: Buffer, t: number): number {
  let any = 0;
  for (let b = 0; b < n; b++) {
    any |= random[r + b]!;
    t = writeHexByte(text, t, random[r + b]!);
  }
  if (any === 0) text[t - 1] = ONE; // all zero: …01 instead
  return t;
}

const uuids = new IdBatch(16, 36, (random, r, text, t) => {
  for (let b = 0; b < 16; b++) {
    if (b === 4 || b === 6 || b === 8 || b === 10) text[t++] = DASH;
    let v = random[r + b]!;
    if (b === 6) v = (v & 0x0f) | 0x40; // version 4
    else if (b === 8) v = (v & 0x3f) | 0x80; // RFC 4122 variant
    t = writeHexByte(text, t, v);
  }
});

const traceparents = new IdBatch(24, 55, (random, r, text, t) => {
  text[t++] = ZERO; text[t++] = ZERO; text[t++] = DASH;
  t = writeHex(random, r, 16, text, t);
  text[t++] = DASH;
  t = writeHex(random, r + 16, 8, text, t);
  text[t++] = DASH; text[t++] = ZERO; text[t] = ONE;
});

const spanIds = new IdBatch(8, 16, (random, r, text, t) => { writeHex(random, r, 8, text, t); });

/** A random RFC 4122 version-4 UUID, for an envelope id. */
export function newEventId(): string {
  return uuids.next();
}

/** A W3C traceparent of a new sampled root trace: `00-<trace id>-<span id>-01`. */
export function randomTraceparent(): string {
  return traceparents.next();
}

/** A random span id: 16 lowercase hex digits, never all zeros. */
export function randomSpanId(): string {
  return spanIds.next();
}
