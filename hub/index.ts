/// <reference types="node" preserve="true" />
/**
 * The WebSocket hub: a server speaking the WebSocket transport's subprotocol (`cloudevents.json`),
 * bridged to a Bus or standalone as a small broker, and `hostHub(url, bus)`. Clients are
 * `WebSocketTransport`s (`transports/websocket/`). Frames, close codes and guarantees:
 * transports/websocket/README.md; options and authentication: hub/README.md.
 *
 * @example
 * const hub = await hostHub('ws://127.0.0.1:8080/', bus, { auth: { jwt: { secret } } });
 */
export { WebSocketHub, hostHub, type HubConnectionStats } from './hub.js';
export { HUB_DEFAULTS, type WebSocketHubOptions } from './options.js';
export * from '../auth/index.js';
