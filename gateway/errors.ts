/**
 * Failures of the gateway itself, added to core's and the HTTP protocol's (transports/http/errors.ts).
 * Each carries a stable `code`; `status` is the HTTP answer, where one is sent.
 *
 * @example
 * if (err instanceof ReplyUnencodableError) // the responder answered, but not in a form HTTP can carry
 */
import { SignalbusError } from '../core/index.js';

/**
 * The reply to a `POST /v1/requests/…` came back from the bus as a value (an object-carrying
 * transport such as memory) that no codec of the bus can turn into bytes under its content type:
 * 502, since the requester's input was fine and the fault is upstream of the gateway.
 */
export class ReplyUnencodableError extends SignalbusError {
  readonly code = 'SB_ERR_HTTP_REPLY_UNENCODABLE';
  readonly status = 502;
}

/**
 * The client closed its connection before it had sent the whole request body. Nobody is left to
 * answer, and nothing failed on the gateway's side: it is logged at debug level and not counted.
 */
export class ClientAbortedError extends SignalbusError {
  readonly code = 'SB_ERR_HTTP_CLIENT_ABORTED';
}
