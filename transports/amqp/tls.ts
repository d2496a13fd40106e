import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { OptionsInvalidError } from '../../core/index.js';

/** TLS material as file paths, so a URL or pipeline JSON can carry it (`?caFile=/etc/ssl/ca.pem`). */
export interface AmqpTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

const MATERIAL = [['caFile', 'ca'], ['certFile', 'cert'], ['keyFile', 'key']] as const;

/**
 * The Node TLS options for the connection: `tls` with `ca`/`cert`/`key` read from the `*File`
 * options (once, here, so a missing file is an OptionsInvalidError at construction rather than a
 * handshake failure later). Undefined when nothing was given.
 */
export function resolveTlsOptions(protocol: string, tls: TlsOptions | undefined, files: AmqpTlsFiles): TlsOptions | undefined {
  const out: TlsOptions = { ...tls };
  for (const [fileField, name] of MATERIAL) {
    const path = files[fileField];
    if (path === undefined) continue;
    if (tls?.[name] !== undefined) invalid(fileField, `cannot be combined with "tls.${name}": give the PEM or its file, not both`);
    out[name] = readPem(fileField, path);
  }
  if ((out.cert === undefined) !== (out.key === undefined)) {
    const missing = out.cert === undefined ? 'certFile' : 'keyFile';
    invalid(missing, `(or "tls.${missing.replace('File', '')}") is required for mutual TLS: a client certificate and its key go together`);
  }
  const given = MATERIAL.find(([fileField]) => files[fileField] !== undefined)?.[0] ?? (tls ? 'tls' : undefined);
  if (given === undefined) return undefined;
  // amqplib ignores TLS options on amqp://: the user would get clear text while expecting TLS.
  if (protocol !== 'amqps:') invalid(given, `needs an amqps:// URL (TLS), got ${protocol}//`);
  return out;
}

function readPem(field: string, path: string): Buffer {
  if (typeof path !== 'string' || path.length === 0) invalid(field, 'must name a PEM file');
  let pem: Buffer;
  try { pem = readFileSync(path); } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new OptionsInvalidError(`amqp option "${field}" names a file that cannot be read: ${path}${code ? ` (${code})` : ''}`,
      { cause, details: { field, path } });
  }
  if (!pem.includes('-----BEGIN ')) invalid(field, `names a file that holds no PEM block: ${path}`);
  return pem;
}

function invalid(field: string, rule: string): never {
  throw new OptionsInvalidError(`amqp option "${field}" ${rule}`, { details: { field } });
}

// OpenSSL's verdicts on the server's certificate, as Node reports them in `err.code`.
const CERTIFICATE_REFUSED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE',
  'INVALID_CA', 'INVALID_PURPOSE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH',
]);

/**
 * Why a TLS connection failed, in words a user can act on, or undefined when `err` is no TLS
 * failure. `code` is Node's error code (e.g. SELF_SIGNED_CERT_IN_CHAIN).
 */
export function describeTlsFailure(err: unknown): { code: string; text: string } | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  const reason = `${code}: ${opensslReason((err as Error).message)}`;
  if (CERTIFICATE_REFUSED.has(code)) {
    return { code, text: `TLS: the broker's certificate was refused (${reason}); give the CA that signed it with caFile (or tls.ca)` };
  }
  if (/CERTIFICATE_REQUIRED/.test(code)) {
    return { code, text: `TLS: the broker requires a client certificate (${reason}); give certFile and keyFile (or tls.cert and tls.key)` };
  }
  if (/BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED/.test(code)) {
    return { code, text: `TLS: the broker refused the client certificate (${reason})` };
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return { code, text: `TLS handshake failed (${reason}); is this a plain amqp:// port rather than a TLS one?` };
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { code, text: `TLS handshake failed (${reason})` };
  return undefined;
}

/** OpenSSL's reason out of its error line (`…:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:file:line:…`). */
function opensslReason(message: string): string {
  return /SSL routines:[^:]*:([^:]+)/.exec(message)?.[1] ?? message.trim();
}
