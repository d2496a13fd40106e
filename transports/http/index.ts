/**
 * The HTTP transport: `HttpTransport` (client, lets a Bus use a remote gateway point to point),
 * the pure CloudEvents HTTP binding, the problem-body mapping of errors and the SSE parser. The
 * server side (the gateway, webhooks) lives in `gateway/`. Importing this module registers the
 * `http:` and `https:` URL schemes: `transportFromUrl('http://127.0.0.1:8080')` is an
 * `HttpTransport` client to a gateway there. Query parameters: `token`, `apiKey`, `concurrency`,
 * `maxAttempts`, `timeoutMs`, `mode` (binary|structured).
 *
 * @example
 * const client = await transportFromUrl('http://127.0.0.1:8080');      // `signalbus pub http://…`
 */
import { numberParam, OptionsInvalidError, registerTransport } from '../../core/index.js';
import { HttpTransport } from './http-transport.js';

export * from './binding.js';
export * from './errors.js';
export * from './http-transport.js';
export * from './problem.js';
export * from './sse.js';
export { HttpClient, HttpNetworkError, type ClientTlsOptions } from './http-client.js';

/** The client transport a `http(s)://` URL names. */
export function httpTransportFromUrl(url: URL): HttpTransport {
  const mode = url.searchParams.get('mode') ?? undefined;
  if (mode !== undefined && mode !== 'binary' && mode !== 'structured') {
    throw new OptionsInvalidError('URL parameter "mode" must be binary or structured', { details: { field: 'mode' } });
  }
  const base = new URL(url.href);
  base.search = '';
  base.hash = '';
  return new HttpTransport({
    url: base.href,
    token: url.searchParams.get('token') ?? undefined,
    apiKey: url.searchParams.get('apiKey') ?? undefined,
    maxConcurrency: numberParam(url, 'concurrency', 64),
    maxAttempts: numberParam(url, 'maxAttempts', 4),
    timeoutMs: numberParam(url, 'timeoutMs', 10_000),
    mode,
  });
}

registerTransport('http', httpTransportFromUrl);
registerTransport('https', httpTransportFromUrl);
