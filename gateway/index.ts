/// <reference types="node" preserve="true" />
/**
 * The HTTP gateway and its companions: `HttpGateway` (hosts CloudEvents over HTTP on a port and
 * bridges it into a Bus), `hostGateway(url, bus)`, the per-client rate limiter, webhook
 * subscriptions (bus → HTTP endpoint) and the authenticator it shares with the WebSocket hub.
 * It speaks the protocol of the HTTP transport (`transports/http/`), whose client talks to it.
 *
 * @example
 * const gateway = await hostGateway('http://127.0.0.1:8080', bus);    // `signalbus sub http://…`
 */
export * from './gateway.js';
export * from './rate-limit.js';
export * from './errors.js';
export * from './console.js';
export * from './webhook.js';
export * from '../auth/index.js';
