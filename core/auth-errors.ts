/**
 * The two authentication failures an authenticated ingress (the HTTP gateway, the WebSocket hub)
 * answers with, and which the HTTP and WebSocket client transports rebuild from the wire by
 * `code`. They live in core because both client transports and both servers need them, and
 * transports depend on core only. `status` is the HTTP status they map to.
 *
 * @example
 * try { await authenticate(req.headers) } catch (e) { if (e instanceof AuthUnauthorizedError) reply(e.status) }
 */
import { SignalbusError } from './errors.js';

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
