import { readFile } from 'node:fs/promises';
import { OptionsInvalidError } from '../../core/index.js';

/** What a PEM file named by a TLS option must hold. */
export const PEM_CERTIFICATE = { label: 'certificate', pattern: /-----BEGIN (TRUSTED |X509 )?CERTIFICATE-----/ };
export const PEM_PRIVATE_KEY = { label: 'private key', pattern: /-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----/ };

/**
 * Reads a file named by an option, as text. A file that is missing or unreadable is an
 * OptionsInvalidError naming the field (nats.js would report a bare "doesn't exist" at the TLS
 * handshake); with `pem`, so are contents holding no PEM block of that kind (say, swapped
 * certificate and key files), which Node would only report as a failed handshake.
 *
 * @example const ca = await readOptionFile('/etc/nats/ca.pem', 'tls.caFile', PEM_CERTIFICATE);
 */
export async function readOptionFile(path: string, field: string, pem?: { label: string; pattern: RegExp }): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    throw new OptionsInvalidError(`nats option ${field}: ${path} ${why}`, { cause: err, details: { field, path } });
  }
  if (pem && !pem.pattern.test(text)) throw new OptionsInvalidError(`nats option ${field}: ${path} holds no PEM ${pem.label}`, { details: { field, path } });
  return text;
}
