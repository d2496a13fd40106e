/**
 * WebSocket transport: `WebSocketTransport`, the client of a WebSocket hub (the server side,
 * `WebSocketHub` and `hostHub(url, bus)`, lives in `hub/`). Registers `ws:` and `wss:` with
 * `transportFromUrl`; URL query parameters become client options (`maxPendingPublishes`,
 * `connectTimeoutMs`, `heartbeatMs`, `reconnectDelayMs`, `reconnectMaxDelayMs`, `maxMessageBytes`);
 * `access_token` is passed to the hub as a bearer token.
 *
 * @example
 * const t = await transportFromUrl('ws://127.0.0.1:8080/');   // a WebSocketTransport
 */
import { numberParam, registerTransport } from '../../core/index.js';
import { WebSocketTransport } from './websocket-transport.js';

export * from './binding.js';
export { CLOSE_CODES, RemoteHubError, errorFromFrame } from './errors.js';
export type { WebSocketTransportOptions, WebSocketConstructor, WebSocketLike } from './options.js';
export { WebSocketTransport } from './websocket-transport.js';

function fromUrl(url: URL): WebSocketTransport {
  const n = (name: string) => (url.searchParams.has(name) ? numberParam(url, name, 0) : undefined);
  const hubUrl = new URL(url.href);
  for (const name of ['maxPendingPublishes', 'connectTimeoutMs', 'heartbeatMs', 'reconnectDelayMs', 'reconnectMaxDelayMs', 'maxMessageBytes']) {
    hubUrl.searchParams.delete(name);
  }
  return new WebSocketTransport({
    url: hubUrl.href, maxPendingPublishes: n('maxPendingPublishes'), connectTimeoutMs: n('connectTimeoutMs'), heartbeatMs: n('heartbeatMs'),
    reconnectDelayMs: n('reconnectDelayMs'), reconnectMaxDelayMs: n('reconnectMaxDelayMs'), maxMessageBytes: n('maxMessageBytes'),
  });
}

registerTransport('ws', fromUrl);
registerTransport('wss', fromUrl);
