import type { Envelope } from '../core/index.js';

/**
 * One event as a line of structured CloudEvents JSON; binary data goes to `data_base64`
 * as the CloudEvents JSON format prescribes.
 */
export function structuredLine(envelope: Envelope): string {
  if (envelope.data instanceof Uint8Array) {
    const { data, ...rest } = envelope;
    return JSON.stringify({ ...rest, data_base64: Buffer.from(data).toString('base64') });
  }
  return JSON.stringify(envelope);
}
