/**
 * Registers every built-in transport's URL scheme with `transportFromUrl`. Heavy clients load
 * only when their scheme is used.
 */
import { registerTransport } from '../core/index.js';
import './memory/index.js';

export { transportFromUrl, registerTransport, registeredSchemes } from '../core/index.js';
