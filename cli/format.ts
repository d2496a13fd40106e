import type { Envelope } from '../core/index.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json(?:\s*;|$)/i;

/** Bytes that are UTF-8 JSON, parsed; undefined for anything else (text, binary, broken JSON). */
function jsonBytes(data: Uint8Array): { value: unknown } | undefined {
  try { return { value: JSON.parse(utf8.decode(data)) as unknown }; } catch { return undefined; }
}

/**
 * One event as a line of structured CloudEvents JSON. Bytes that are JSON (a device's payload
 * that `--raw` lets through arrives as bytes) are shown as JSON `data`; other bytes go to
 * `data_base64`, as the CloudEvents JSON format prescribes.
 */
export function structuredLine(envelope: Envelope): string {
  if (envelope.data instanceof Uint8Array) {
    const { data, ...rest } = envelope;
    const json = rest.datacontenttype === undefined || JSON_TYPE.test(rest.datacontenttype) ? jsonBytes(data) : undefined;
    if (json) return JSON.stringify({ ...rest, datacontenttype: rest.datacontenttype ?? 'application/json', data: json.value });
    return JSON.stringify({ ...rest, data_base64: Buffer.from(data).toString('base64') });
  }
  return JSON.stringify(envelope);
}

/**
 * What `signalbus sub` prints per message: the subject it arrived on, a space, the event
 * (as `mosquitto_sub -v` and `nats sub` show the topic first). `cut -d' ' -f2-` leaves the JSON.
 */
export function subLine(subject: string, envelope: Envelope): string {
  return `${subject} ${structuredLine(envelope)}`;
}
