/// <reference types="node" preserve="true" />
/**
 * Reading the TLS material named by the shared `tls` option (`TlsOptions`, core/transport-options.ts):
 * PEM contents or files, checked and read once, at construction. Node only (it reads files).
 */
import { readFileSync } from 'node:fs';
import { OptionsInvalidError } from './errors.js';
import { optionInvalid, type TlsOptions } from './transport-options.js';

/** TLS settings with the files read: what Node's `tls.connect` / `https.createServer` take. */
export interface ResolvedTlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

const PEM_ITEMS = ['ca', 'cert', 'key'] as const;
const TLS_KEYS = new Set<string>(['ca', 'caFile', 'cert', 'certFile', 'key', 'keyFile', 'rejectUnauthorized', 'servername']);

/**
 * Checks `tls` and reads its files (once, here, so a missing file is an OptionsInvalidError naming
 * the field at construction rather than a failed handshake later). Unknown fields are refused.
 * With `server`, `cert` and `key` are required.
 *
 * @example resolveTlsOptions('mqtt', { caFile: '/etc/ssl/ca.pem' }) // { ca: <Buffer …>, rejectUnauthorized: true }
 */
export function resolveTlsOptions(area: string, tls: TlsOptions, options: { server?: boolean } = {}): ResolvedTlsOptions {
  if (tls === null || typeof tls !== 'object' || Array.isArray(tls)) optionInvalid(area, 'tls', 'must be an object (ca, cert, key, caFile, certFile, keyFile, rejectUnauthorized, servername)');
  for (const key of Object.keys(tls)) {
    if (!TLS_KEYS.has(key)) optionInvalid(area, `tls.${key}`, 'is not a TLS option (ca, cert, key, caFile, certFile, keyFile, rejectUnauthorized, servername)');
  }
  const out: ResolvedTlsOptions = { rejectUnauthorized: tls.rejectUnauthorized ?? true };
  if (typeof out.rejectUnauthorized !== 'boolean') optionInvalid(area, 'tls.rejectUnauthorized', 'must be a boolean');
  if (tls.servername !== undefined) {
    if (typeof tls.servername !== 'string' || tls.servername === '') optionInvalid(area, 'tls.servername', 'must be a non-empty string');
    out.servername = tls.servername;
  }
  for (const item of PEM_ITEMS) {
    const fileField = `${item}File` as const;
    const given = tls[item];
    const file = tls[fileField];
    if (given !== undefined && file !== undefined) optionInvalid(area, `tls.${fileField}`, `cannot be combined with "tls.${item}": give the PEM or its file, not both`);
    if (given !== undefined && typeof given !== 'string' && !Buffer.isBuffer(given)) optionInvalid(area, `tls.${item}`, 'must be PEM text (a string or Buffer)');
    const pem = file !== undefined ? readPemFile(area, `tls.${fileField}`, file) : given;
    if (pem !== undefined) out[item] = pem;
  }
  if ((out.cert === undefined) !== (out.key === undefined) || (options.server && out.cert === undefined)) {
    const missing = out.cert === undefined ? 'cert' : 'key';
    optionInvalid(area, `tls.${missing}`, `(or "tls.${missing}File") is required: ${options.server ? 'a TLS server needs its certificate and key' : 'a client certificate and its key go together (mutual TLS)'}`);
  }
  return out;
}

/**
 * Reads a PEM file named by an option, or throws OptionsInvalidError naming the field: a file that
 * cannot be read, or one that holds no PEM block (say, a DER file or the wrong path).
 *
 * @example const ca = readPemFile('amqp', 'tls.caFile', '/etc/ssl/ca.pem');
 */
export function readPemFile(area: string, field: string, path: string): Buffer {
  if (typeof path !== 'string' || path.length === 0) optionInvalid(area, field, 'must name a PEM file');
  let pem: Buffer;
  try { pem = readFileSync(path); } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new OptionsInvalidError(`${area} option "${field}" names a file that cannot be read: ${path}${code ? ` (${code})` : ''}`,
      { cause, details: { field, path } });
  }
  if (!pem.includes('-----BEGIN ')) optionInvalid(area, field, `names a file that holds no PEM block: ${path}`);
  return pem;
}

