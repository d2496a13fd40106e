/**
 * The HTTP transport: `HttpGateway` (server, bridges HTTP into a Bus), `HttpTransport` (client,
 * lets a Bus use a remote gateway point to point), webhook subscriptions, the pure CloudEvents
 * HTTP binding and the authenticator the WebSocket hub shares. Importing this module registers
 * the `http:` and `https:` URL schemes: `transportFromUrl('http://127.0.0.1:8080')` is an
 * `HttpTransport` client to a gateway there. Query parameters: `token`, `apiKey`, `concurrency`,
 * `maxAttempts`, `timeoutMs`, `mode` (binary|structured).
 *
 * @example
 * const gateway = await hostGateway('http://127.0.0.1:8080', bus);    // `signalbus sub http://…`
 * const client = await transportFromUrl('http://127.0.0.1:8080');      // `signalbus pub http://…`
 */
import { numberParam, OptionsInvalidError, registerTransport, type Bus } from '../../core/index.js';
import { HttpGateway, type HttpGatewayOptions } from '../../gateway/gateway.js';
import { HttpTransport } from './http-transport.js';

export * from '../../auth/authenticator.js';
export * from './binding.js';
export * from './errors.js';
export * from '../../gateway/gateway.js';
export * from './http-transport.js';
export * from './problem.js';
export * from '../../gateway/rate-limit.js';
export * from './sse.js';
export * from '../../gateway/webhook.js';
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

/**
 * Hosts a gateway for `bus` at the host and port of `url` (`http://127.0.0.1:8080`; `https://`
 * needs `options.tls`) and resolves once it listens. Used by `signalbus sub http://…` to receive
 * what clients publish there. The caller closes the gateway (`gateway.close()`) and stops the bus.
 *
 * @example
 * const bus = new Bus({ service: 'cli', transport: new MemoryTransport() });
 * const gateway = await hostGateway('http://127.0.0.1:8080', bus);
 * await bus.subscribe('>', (m) => console.log(m));
 */
export async function hostGateway(url: string | URL, bus: Bus, options: Omit<HttpGatewayOptions, 'bus' | 'host' | 'port'> = {}): Promise<HttpGateway> {
  let parsed: URL;
  try { parsed = typeof url === 'string' ? new URL(url) : url; } catch (cause) {
    throw new OptionsInvalidError(`"${String(url)}" is not a URL`, { cause, details: { field: 'url' } });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new OptionsInvalidError('hostGateway needs an http:// or https:// URL', { details: { field: 'url' } });
  if (parsed.protocol === 'https:' && !options.tls) throw new OptionsInvalidError('hostGateway with https:// needs options.tls (key and cert)', { details: { field: 'tls' } });
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  const gateway = new HttpGateway({ ...options, bus, host: parsed.hostname.replace(/^\[|\]$/g, ''), port });
  await gateway.start();
  return gateway;
}

registerTransport('http', httpTransportFromUrl);
registerTransport('https', httpTransportFromUrl);
