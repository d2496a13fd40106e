import { ErrorCode, NatsError } from 'nats';
import {
  MessageTooLargeError, NoRespondersError, RequestTimeoutError, SignalbusError, TransportAuthError, TransportClosedError,
  TransportConnectError, TransportPermissionError,
} from '../../core/index.js';

/** JetStream refused a publish or a stream/consumer operation (limits reached, bad config, server error). */
export class NatsJetStreamError extends SignalbusError { readonly code = 'SB_ERR_NATS_JETSTREAM'; }

/** JetStream API error codes signalbus reacts to. */
export const JS_ERR = { streamNotFound: 10059 } as const;

/** The JetStream error code of a nats.js error, if it is one. */
export function jetStreamErrorCode(err: unknown): number | undefined {
  return err instanceof NatsError ? err.api_error?.err_code : undefined;
}

/** True when nats.js failed because the server refused the credentials. */
export function isNatsAuthError(err: unknown): boolean {
  return err instanceof NatsError && (err.isAuthError() || err.code === 'AUTHENTICATION_EXPIRED' || /authori[sz]ation/i.test(err.message));
}

/**
 * A failed first connect as a signalbus error. Besides nats.js' own errors, Node's socket and TLS
 * errors surface here unwrapped (a refused server certificate, a handshake the server aborted),
 * and a caller must still get a TransportConnectError.
 */
export function fromConnectError(err: unknown, context: string): Error {
  if (err instanceof NatsError) {
    const details = { natsCode: err.code, context };
    if (err.code === ErrorCode.ServerOptionNotAvailable && err.message === 'tls') {
      return new TransportConnectError(`nats: the server does not offer TLS, which the options require (${context})`, { cause: err, details });
    }
    // Certificate or key files Node could not use; nats.js keeps the reason in chainedError.
    if (err.code === ErrorCode.Tls) {
      return new TransportConnectError(`nats: TLS setup failed (${context}): ${err.chainedError?.message ?? err.message}`, { cause: err, details });
    }
    // The server closed the link before answering the handshake's PING (e.g. it refused the TLS
    // client certificate after the handshake, as TLS 1.3 allows); nats.js only sees its timer expire.
    if (err.code === ErrorCode.Timeout) {
      return new TransportConnectError(`nats: the server did not complete the connection in time (${context}); a server refusing a missing TLS client certificate looks like this too`, { cause: err, details });
    }
  }
  if (err instanceof SignalbusError || err instanceof NatsError) return fromNatsError(err, context);
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const tls = typeof code === 'string' && (TLS_VERIFY_CODES.has(code) || /^ERR_(TLS|SSL)_/.test(code));
  return new TransportConnectError(
    tls ? `nats: the TLS handshake failed (${context}): ${message}` : `nats: cannot connect (${context}): ${message}`,
    { cause: err, details: { context, ...(typeof code === 'string' ? { code } : {}) } },
  );
}

// OpenSSL's certificate verification results, as Node reports them in `err.code`.
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH', 'INVALID_CA', 'INVALID_PURPOSE',
]);

/** A nats.js error as the signalbus error class a caller can branch on. */
export function fromNatsError(err: unknown, context: string): Error {
  if (err instanceof SignalbusError) return err;
  if (!(err instanceof NatsError)) return err instanceof Error ? err : new Error(String(err));
  const details = { natsCode: err.code, context };
  if (isNatsAuthError(err)) return new TransportAuthError(`nats: authentication failed (${context}): ${err.message}`, { cause: err, details });
  if (err.isPermissionError()) return permissionError(err.permissionContext, context, err);
  switch (err.code) {
    case 'CONNECTION_REFUSED': case 'CONNECTION_TIMEOUT': case 'CONNECTION_DRAINING': case 'DISCONNECT':
      return new TransportConnectError(`nats: cannot reach the server (${context}): ${err.message}`, { cause: err, details });
    case 'CONNECTION_CLOSED':
      return new TransportClosedError(`nats: the connection is closed (${context})`, { cause: err, details });
    case 'MAX_PAYLOAD_EXCEEDED':
      return new MessageTooLargeError(`nats: message is larger than the server's max_payload (${context})`, { cause: err, details });
    case 'TIMEOUT':
      return new RequestTimeoutError(`nats: timed out (${context})`, { cause: err, details });
    case '503':
      return new NoRespondersError(`nats: no responders (${context})`, { cause: err, details });
    default:
      if (err.isJetStreamError()) return new NatsJetStreamError(`nats: JetStream refused (${context}): ${err.message}`, { cause: err, details: { ...details, jsCode: err.api_error?.err_code } });
      return new TransportConnectError(`nats: ${context}: ${err.message}`, { cause: err, details });
  }
}

/**
 * The server refused a publish or a subscription these credentials are not permitted
 * (`-ERR 'Permissions Violation for Publish to "…"'`), as the error a caller can branch on.
 */
export function permissionError(refused: { operation: string; subject: string } | undefined, context: string, cause?: unknown): TransportPermissionError {
  // nats.js says `subscription`; signalbus says `publish` or `subscribe` on every transport.
  const operation = refused?.operation === 'publish' ? 'publish' : 'subscribe';
  const what = refused ? `${operation === 'publish' ? 'publishing to' : 'subscribing to'} ${refused.subject}` : context;
  return new TransportPermissionError(`nats: the server's permissions refuse ${what} for these credentials`,
    { cause, details: { context, ...(refused ? { operation, subject: refused.subject } : {}) } });
}
