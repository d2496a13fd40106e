/**
 * Why a TLS connection to the broker failed, in words a user can act on. (The `tls` option itself
 * is the shared `TlsOptions`, resolved by core's `resolveTlsOptions`.)
 */
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
