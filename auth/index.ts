/// <reference types="node" preserve="true" />
/**
 * Authentication and tenant scoping shared by the HTTP gateway (`gateway/`) and the WebSocket hub
 * (`hub/`): `createAuthenticator(options)`, `checkSubjectAllowed(result, subject)`, and `mayRead` /
 * `groupFor`, which keep what a tenant reads to its own events and groups.
 *
 * @example
 * const authenticate = createAuthenticator({ apiKeys: { k1: 'acme' }, required: true });
 */
export * from './authenticator.js';
