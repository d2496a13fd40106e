/**
 * Errors the HTTP gateway and its authenticator add to core's set. Each carries a stable `code`
 * and the HTTP status the gateway answers it with (`status`), so one mapping turns any of them
 * into an RFC 9457 problem body.
 *
 * @example
 * try { await authenticate(req.headers) } catch (e) { if (e instanceof AuthUnauthorizedError) reply(e.status) }
 */
import { SignalbusError } from '../../core/index.js';

/** No credentials, or credentials that do not verify (bad signature, expired, unknown key): 401. */
export class AuthUnauthorizedError extends SignalbusError {
  readonly code = 'SB_ERR_AUTH_UNAUTHORIZED';
  readonly status = 401;
}

/** Valid credentials that may not do this (another tenant's subject, no tenant claim): 403. */
export class AuthForbiddenError extends SignalbusError {
  readonly code = 'SB_ERR_AUTH_FORBIDDEN';
  readonly status = 403;
}

/** The client sent more requests than its per-client rate limit allows: 429. */
export class RateLimitedError extends SignalbusError {
  readonly code = 'SB_ERR_RATE_LIMITED';
  readonly status = 429;
}

/** The request has a body of a media type the route does not take: 415. */
export class UnsupportedMediaTypeError extends SignalbusError {
  readonly code = 'SB_ERR_HTTP_MEDIA_TYPE';
  readonly status = 415;
}

/** No route for this method and path: 404 (405 is folded into it, the path space is tiny). */
export class RouteNotFoundError extends SignalbusError {
  readonly code = 'SB_ERR_HTTP_NOT_FOUND';
  readonly status = 404;
}

/** A body that is not what its content type says (bad JSON, not an event, bad batch): 400. */
export class BodyInvalidError extends SignalbusError {
  readonly code = 'SB_ERR_HTTP_BODY_INVALID';
  readonly status = 400;
}

/** The remote gateway answered with an error the client cannot map to a core error. */
export class HttpStatusError extends SignalbusError {
  readonly code = 'SB_ERR_HTTP_STATUS';
  constructor(message: string, readonly status: number, readonly remoteCode?: string) {
    super(message, { details: { status, remoteCode } });
  }
}
