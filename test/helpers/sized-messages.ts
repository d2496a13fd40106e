/**
 * Messages of mixed sizes for tests of how a transport reads the server's bytes: a few large ones
 * split over many socket chunks, empty ones, and many small ones that share a chunk. Each body is
 * filled with its index (mod 251), so a message cut short, joined to its neighbour or delivered
 * out of order shows in its first or last byte.
 */
import { expect } from 'chai';
import type { Envelope } from '../../core/index.js';

/** `count` sizes: every `bigEvery`th `big` + i bytes, every 7th empty, the others `small` + (i % 300) or less. */
export function mixedSizes(count: number, bigEvery: number, big: number, small = 20): number[] {
  return Array.from({ length: count }, (_, i) => (i % bigEvery === 0 ? big + i : i % 7 === 0 ? 0 : small + (i % 300)));
}

/** Message `i`'s body: `size` bytes of i % 251. */
export function sizedBody(i: number, size: number): Uint8Array {
  return new Uint8Array(size).fill(i % 251);
}

/** Expects `got` to be the messages of `sizes` in order: ids `idOf(i)`, each body whole (sizedBody). */
export function expectSizedInOrder(got: Envelope[], sizes: number[], idOf: (i: number) => string): void {
  expect(got.map((e) => e.id)).to.deep.equal(sizes.map((_, i) => idOf(i)));
  got.forEach((e, i) => {
    const data = e.data as Uint8Array;
    expect(data.byteLength, `message ${i}`).to.equal(sizes[i]);
    if (data.byteLength > 0) expect([data[0], data[data.byteLength - 1]], `message ${i}`).to.deep.equal([i % 251, i % 251]);
  });
}
