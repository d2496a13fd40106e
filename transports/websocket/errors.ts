/**
 * Close codes the hub uses and the rebuilding of errors that crossed the wire in `error` frames.
 */
import {
  BackpressureError, BusStoppedError, CapabilityMissingError, CodecDecodeError, CodecEncodeError, CodecUnknownError,
  ContractInvalidError, ContractUnknownError, ContractVersionError, EnvelopeInvalidError, HeaderInvalidError,
  MessageTooLargeError, NoRespondersError, OptionsInvalidError, PatternInvalidError, RequestTimeoutError, SignalbusError,
  SubjectInvalidError, TransportAuthError, TransportClosedError, TransportConnectError,
} from '../../core/errors.js';
import { AuthForbiddenError, AuthUnauthorizedError } from '../../core/auth-errors.js';

/** WebSocket close codes the hub sends (README.md lists them with what a client should do). */
export const CLOSE_CODES = {
  /** Normal closure (client or hub closed on purpose). */
  normal: 1000,
  /** The hub is shutting down; reconnect later. */
  goingAway: 1001,
  /** A frame exceeded the hub's `maxPayloadBytes` (sent by `ws` itself). */
  messageTooBig: 1009,
  /**
   * Slow consumer: the connection's held-back and unsent bytes went over `maxBufferedBytes`, or a
   * subscription held back more than `maxQueuedPerSubscription` deliveries. It reads (or acks) too slowly.
   */
  slowConsumer: 4008,
} as const;

/** A `sub` frame over the hub's `maxSubscriptionsPerConnection`: end one, or open another connection. */
export class SubscriptionLimitError extends SignalbusError { readonly code = 'SB_ERR_HUB_SUBSCRIPTION_LIMIT'; }

/** An error frame whose code has no class on this side; `code` is the hub's code unchanged. */
export class RemoteHubError extends SignalbusError {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message, { details: { remoteCode: code } });
    this.code = code;
  }
}

type ErrorClass = new (message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) => SignalbusError;

const BY_CODE = new Map<string, ErrorClass>();
for (const cls of [
  BackpressureError, BusStoppedError, CapabilityMissingError, CodecDecodeError, CodecEncodeError, CodecUnknownError,
  ContractInvalidError, ContractUnknownError, ContractVersionError, EnvelopeInvalidError, HeaderInvalidError,
  MessageTooLargeError, NoRespondersError, OptionsInvalidError, PatternInvalidError, RequestTimeoutError,
  SubjectInvalidError, TransportAuthError, TransportClosedError, TransportConnectError, AuthForbiddenError, AuthUnauthorizedError,
  SubscriptionLimitError,
] as ErrorClass[]) {
  BY_CODE.set(new cls('').code, cls);
}

/** The typed error for an `error` frame: the class with that code, else a RemoteHubError carrying it. */
export function errorFromFrame(code: unknown, message: unknown): SignalbusError {
  const text = typeof message === 'string' ? message : 'the hub reported an error';
  const cls = typeof code === 'string' ? BY_CODE.get(code) : undefined;
  return cls ? new cls(text, { details: { remote: true } }) : new RemoteHubError(text, typeof code === 'string' ? code : 'SB_ERR_UNKNOWN');
}
