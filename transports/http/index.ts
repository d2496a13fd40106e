/// <reference types="node" preserve="true" />
/**
 * The HTTP transport: `HttpTransport` (client, lets a Bus use a remote gateway point to point),
 * the pure CloudEvents HTTP binding, the problem-body mapping of errors and the SSE parser. The
 * server side (the gateway, webhooks) lives in `gateway/`. Importing this module registers the
 * `http:` and `https:` URL schemes: `transportFromUrl('http://127.0.0.1:8080')` is an
 * `HttpTransport` client to a gateway there; query parameters are the option names
 * (`httpOptionsFromUrl`).
 *
 * @example
 * const client = await transportFromUrl('http://127.0.0.1:8080');      // `signalbus pub http://…`
 */
import { registerTransport } from '../../core/index.js';
import { HttpTransport } from './http-transport.js';
import { httpOptionsFromUrl } from './options.js';

export * from './binding.js';
export * from './errors.js';
export * from './http-transport.js';
export * from './options.js';
export * from './problem.js';
export * from './sse.js';
export { HttpClient, HttpNetworkError } from './http-client.js';

const fromUrl = (url: URL) => new HttpTransport(httpOptionsFromUrl(url));
registerTransport('http', fromUrl);
registerTransport('https', fromUrl);
