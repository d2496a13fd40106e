import { createHash } from 'node:crypto';

/**
 * A UUID-shaped event id derived from its parts (SHA-256, formatted as a version 8 UUID): the same
 * parts give the same id in every process. Outputs that a replay re-creates (after a crash, a
 * takeover, a retry) carry the id they had the first time, so the broker's duplicate window
 * (JetStream `Nats-Msg-Id`) and `dedupe()` absorb them instead of passing them on.
 *
 * @example derivedEventId('aggregate', 'sensor-7|temperature|1700000000000') // the same string every time
 */
export function derivedEventId(...parts: readonly string[]): string {
  const hash = createHash('sha256');
  // Length-prefixed, so ('ab', 'c') and ('a', 'bc') differ.
  for (const p of parts) hash.update(`${p.length}:${p}|`);
  const h = hash.digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
