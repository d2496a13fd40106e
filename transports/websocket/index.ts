/// <reference types="node" preserve="true" />
/**
 * WebSocket transport: `WebSocketTransport`, the client of a WebSocket hub (the server side,
 * `WebSocketHub` and `hostHub(url, bus)`, lives in `hub/`). Registers `ws:` and `wss:` with
 * `transportFromUrl`; URL query parameters that are option names become client options
 * (`webSocketOptionsFromUrl`); `access_token` is passed to the hub as a bearer token.
 *
 * @example
 * const t = await transportFromUrl('ws://127.0.0.1:8080/');   // a WebSocketTransport
 */
import { registerTransport } from '../../core/index.js';
import { webSocketOptionsFromUrl } from './options.js';
import { WebSocketTransport } from './websocket-transport.js';

export * from './binding.js';
export { CLOSE_CODES, RemoteHubError, SubscriptionLimitError, errorFromFrame } from './errors.js';
export { CLIENT_DEFAULTS, resolveWebSocketOptions, webSocketOptionsFromUrl } from './options.js';
export type { WebSocketTransportOptions, WebSocketConstructor, WebSocketLike } from './options.js';
export { WebSocketTransport } from './websocket-transport.js';

const fromUrl = (url: URL) => new WebSocketTransport(webSocketOptionsFromUrl(url));
registerTransport('ws', fromUrl);
registerTransport('wss', fromUrl);
