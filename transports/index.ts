/// <reference types="node" preserve="true" />
/**
 * Registers every built-in transport's URL scheme with `transportFromUrl`.
 */
import './memory/index.js';
import './amqp/index.js';
import './http/index.js';
import './nats/index.js';
import './mqtt/index.js';
import './websocket/index.js';

export { transportFromUrl, registerTransport, registeredSchemes } from '../core/index.js';
