import { NatsError } from 'nats';
import {
  MessageTooLargeError, NoRespondersError, RequestTimeoutError, SignalbusError, TransportAuthError, TransportClosedError,
  TransportConnectError,
} from '../../core/index.js';

/** JetStream refused a publish or a stream/consumer operation (limits reached, bad config, server error). */
export class NatsJetStreamError extends SignalbusError { readonly code = 'SB_ERR_NATS_JETSTREAM'; }

/** JetStream API error codes signalbus reacts to. */
export const JS_ERR = { streamNotFound: 10059, consumerNotFound: 10014 } as const;

/** The JetStream error code of a nats.js error, if it is one. */
export function jetStreamErrorCode(err: unknown): number | undefined {
  return err instanceof NatsError ? err.api_error?.err_code : undefined;
}

/** True when nats.js failed because the server refused the credentials. */
export function isNatsAuthError(err: unknown): boolean {
  return err instanceof NatsError && (err.isAuthError() || err.code === 'AUTHENTICATION_EXPIRED' || /authori[sz]ation/i.test(err.message));
}

/** A nats.js error as the signalbus error class a caller can branch on. */
export function fromNatsError(err: unknown, context: string): Error {
  if (err instanceof SignalbusError) return err;
  if (!(err instanceof NatsError)) return err instanceof Error ? err : new Error(String(err));
  const details = { natsCode: err.code, context };
  if (isNatsAuthError(err)) return new TransportAuthError(`nats: authentication failed (${context}): ${err.message}`, { cause: err, details });
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
