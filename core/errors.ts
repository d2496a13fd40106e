/**
 * Every failure signalbus reports is one class here, with a stable `code`
 * (`SB_ERR_<AREA>_<WHAT>`) that tests, logs and dead-letter headers rely on.
 * Messages are for people; codes are for programs.
 *
 * @example
 * try { validateSubject('a..b') } catch (e) { if (e instanceof SubjectInvalidError) … }
 */
export abstract class SignalbusError extends Error {
  abstract readonly code: string;
  /** Extra structured detail (field name, path, limits) for logs and problem bodies. */
  readonly details?: Record<string, unknown>;

  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.details) this.details = options.details;
  }
}

export class SubjectInvalidError extends SignalbusError { readonly code = 'SB_ERR_SUBJECT_INVALID'; }
export class PatternInvalidError extends SignalbusError { readonly code = 'SB_ERR_PATTERN_INVALID'; }
export class HeaderInvalidError extends SignalbusError { readonly code = 'SB_ERR_HEADER_INVALID'; }
export class EnvelopeInvalidError extends SignalbusError { readonly code = 'SB_ERR_ENVELOPE_INVALID'; }
export class TraceparentInvalidError extends SignalbusError { readonly code = 'SB_ERR_TRACEPARENT_INVALID'; }
export class OptionsInvalidError extends SignalbusError { readonly code = 'SB_ERR_OPTIONS_INVALID'; }
export class TransportUnknownError extends SignalbusError { readonly code = 'SB_ERR_TRANSPORT_UNKNOWN'; }
export class TransportClosedError extends SignalbusError { readonly code = 'SB_ERR_TRANSPORT_CLOSED'; }
export class TransportConnectError extends SignalbusError { readonly code = 'SB_ERR_TRANSPORT_CONNECT'; }
export class TransportAuthError extends SignalbusError { readonly code = 'SB_ERR_TRANSPORT_AUTH'; }
/**
 * The broker refused an operation the credentials are not permitted (a publish or subscribe
 * outside the subjects its permissions or ACLs allow). `details.subject` and `details.operation`
 * say what was refused.
 */
export class TransportPermissionError extends SignalbusError { readonly code = 'SB_ERR_TRANSPORT_PERMISSION'; }
export class CapabilityMissingError extends SignalbusError { readonly code = 'SB_ERR_TRANSPORT_CAPABILITY'; }
export class MessageTooLargeError extends SignalbusError { readonly code = 'SB_ERR_MESSAGE_TOO_LARGE'; }
export class BackpressureError extends SignalbusError { readonly code = 'SB_ERR_BACKPRESSURE'; }
export class RequestTimeoutError extends SignalbusError { readonly code = 'SB_ERR_REQUEST_TIMEOUT'; }
export class NoRespondersError extends SignalbusError { readonly code = 'SB_ERR_REQUEST_NO_RESPONDERS'; }
export class HandlerTimeoutError extends SignalbusError { readonly code = 'SB_ERR_HANDLER_TIMEOUT'; }
/** A handler on the far side of a request failed; `remoteCode` is the code it failed with. */
export class RemoteHandlerError extends SignalbusError {
  readonly code = 'SB_ERR_HANDLER_REMOTE';
  constructor(message: string, readonly remoteCode: string) { super(message, { details: { remoteCode } }); }
}
export class CodecUnknownError extends SignalbusError { readonly code = 'SB_ERR_CODEC_UNKNOWN'; }
export class CodecDecodeError extends SignalbusError { readonly code: string = 'SB_ERR_CODEC_DECODE'; }
/**
 * JSON nested deeper than MAX_JSON_DEPTH (core/json-depth.ts). A decode failure like any other
 * (dead-lettered at once, 400 at the gateway) with its own code: deep nesting overflows the stack
 * of whatever walks the value next (JSON.stringify, structuredClone, a handler).
 */
export class CodecTooDeepError extends CodecDecodeError { override readonly code = 'SB_ERR_CODEC_TOO_DEEP'; }
export class CodecEncodeError extends SignalbusError { readonly code = 'SB_ERR_CODEC_ENCODE'; }
export class MetricFieldInvalidError extends SignalbusError { readonly code = 'SB_ERR_METRIC_INVALID'; }
export class BusStoppedError extends SignalbusError { readonly code = 'SB_ERR_BUS_STOPPED'; }
export class DefinitionInvalidError extends SignalbusError { readonly code = 'SB_ERR_DEFINITION_INVALID'; }
export class ContractInvalidError extends SignalbusError { readonly code = 'SB_ERR_CONTRACT_INVALID'; }
export class ContractUnknownError extends SignalbusError { readonly code = 'SB_ERR_CONTRACT_UNKNOWN'; }
export class ContractVersionError extends SignalbusError { readonly code = 'SB_ERR_CONTRACT_VERSION'; }
/**
 * An event's `tenant` does not match the tenant subject space it travels in (`BusOptions.
 * tenantSubjects`): a publish is refused with it, a delivery is dead-lettered with it at once.
 */
export class TenantMismatchError extends SignalbusError { readonly code = 'SB_ERR_TENANT_MISMATCH'; readonly permanent = true; }
export class ContractLoadError extends SignalbusError { readonly code = 'SB_ERR_CONTRACT_LOAD'; }

/** The code of any thrown value: a remote failure's original code, a SignalbusError's own code, else a generic one. */
export function errorCode(err: unknown): string {
  // A relayed remote failure keeps the code it failed with on the far side.
  if (err instanceof RemoteHandlerError) return err.remoteCode;
  if (err instanceof SignalbusError) return err.code;
  return 'SB_ERR_HANDLER_FAILED';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
