/**
 * Errors <-> HTTP: the status and RFC 9457 problem body the gateway answers a failure with, and
 * the typed error the client rebuilds from such an answer (by `code`, so a 503 from a full bus
 * becomes a BackpressureError again on the caller's side).
 *
 * @example
 * const { status, body } = problemOf(new BackpressureError('full')); // 503, application/problem+json
 */
import {
  BackpressureError, BusStoppedError, CapabilityMissingError, CodecDecodeError, CodecTooDeepError, CodecUnknownError, ContractInvalidError, ContractUnknownError,
  ContractVersionError, EnvelopeInvalidError, HeaderInvalidError, MessageTooLargeError, NoRespondersError, OptionsInvalidError,
  PatternInvalidError, RequestTimeoutError, SignalbusError, SubjectInvalidError, TraceparentInvalidError, TransportAuthError, TransportClosedError,
  TransportConnectError, TransportPermissionError, TenantMismatchError, errorMessage, AuthForbiddenError, AuthUnauthorizedError,
} from '../../core/index.js';
import {
  BodyInvalidError, HttpStatusError, RateLimitedError, RouteNotFoundError,
  UnsupportedMediaTypeError,
} from './errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** An RFC 9457 problem document plus signalbus' `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [member: string]: unknown;
}

type ErrorClass = new (message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) => SignalbusError;

const STATUS_BY_CLASS: Array<[ErrorClass, number]> = [
  [SubjectInvalidError, 400], [PatternInvalidError, 400], [HeaderInvalidError, 400], [EnvelopeInvalidError, 400], [TraceparentInvalidError, 400],
  [CodecTooDeepError, 400], [CodecDecodeError, 400], [ContractInvalidError, 400], [ContractVersionError, 400], [ContractUnknownError, 400],
  [OptionsInvalidError, 400], [CodecUnknownError, 415], [MessageTooLargeError, 413], [BackpressureError, 503],
  [TransportClosedError, 503], [TransportConnectError, 503], [BusStoppedError, 503], [NoRespondersError, 503],
  [TransportAuthError, 503], [RequestTimeoutError, 504], [CapabilityMissingError, 501],
  // Not permitted, whoever asks again: the event's tenant does not fit the subject, or the broker refuses these credentials there.
  [TenantMismatchError, 403], [TransportPermissionError, 403],
];

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 413: 'Content Too Large',
  415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** The HTTP status for an error. */
export function statusOf(err: unknown): number {
  const own = (err as { status?: unknown })?.status;
  if (err instanceof SignalbusError && typeof own === 'number') return own;
  for (const [cls, status] of STATUS_BY_CLASS) if (err instanceof cls) return status;
  return 500;
}

/** The problem document for an error. Internal errors keep their message out of the answer. */
export function problemOf(err: unknown): Problem {
  const status = statusOf(err);
  const known = err instanceof SignalbusError;
  const code = known ? err.code : 'SB_ERR_INTERNAL';
  const problem: Problem = {
    type: `urn:signalbus:error:${code}`, title: TITLES[status] ?? 'Error', status, code,
    detail: known ? errorMessage(err) : 'internal error',
  };
  if (known && err.details) {
    // Only plain scalar details go out: field names, limits, headers; never causes or objects.
    for (const [k, v] of Object.entries(err.details)) {
      if ((typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && !(k in problem)) problem[k] = v;
    }
  }
  return problem;
}

const CLASS_BY_CODE = new Map<string, ErrorClass>([
  ...STATUS_BY_CLASS.map(([cls]) => [codeOfClass(cls), cls] as [string, ErrorClass]),
  ...([AuthUnauthorizedError, AuthForbiddenError, RateLimitedError, UnsupportedMediaTypeError, RouteNotFoundError, BodyInvalidError] as ErrorClass[])
    .map((cls) => [codeOfClass(cls), cls] as [string, ErrorClass]),
]);

function codeOfClass(cls: ErrorClass): string {
  return new cls('').code;
}

/** The typed error for a gateway's error answer (by problem `code`, else HttpStatusError). */
export function errorFromProblem(status: number, body: string): SignalbusError {
  let problem: Partial<Problem> | undefined;
  try { problem = JSON.parse(body) as Partial<Problem>; } catch { /* not a problem document */ }
  const code = typeof problem?.code === 'string' ? problem.code : undefined;
  const detail = typeof problem?.detail === 'string' ? problem.detail : `HTTP ${status}`;
  const cls = code === undefined ? undefined : CLASS_BY_CODE.get(code);
  if (cls) return new cls(detail, { details: { status, remote: true } });
  return new HttpStatusError(detail, status, code);
}
