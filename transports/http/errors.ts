/**
 * Errors of the HTTP protocol (gateway answers the client rebuilds) added to core's set. Each
 * carries a stable `code` and the HTTP status the gateway answers it with (`status`), so one
 * mapping turns any of them into an RFC 9457 problem body. The authentication errors (401, 403)
 * live in core (`core/auth-errors.ts`): the WebSocket transport rebuilds them too.
 *
 * @example
 * try { await client.publish(…) } catch (e) { if (e instanceof RateLimitedError) slowDown() }
 */
import { SignalbusError } from '../../core/index.js';

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
