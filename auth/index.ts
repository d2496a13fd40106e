/// <reference types="node" preserve="true" />
/**
 * Authentication and tenant scoping shared by the HTTP gateway (`gateway/`) and the WebSocket hub
 * (`hub/`): `createAuthenticator(options)` and `checkSubjectAllowed(result, subject)`.
 *
 * @example
 * const authenticate = createAuthenticator({ apiKeys: { k1: 'acme' }, required: true });
 */
export * from './authenticator.js';
