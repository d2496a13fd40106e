import type { Logger } from '../../core/index.js';

/** A logger that drops everything, for buses and transports under test. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return silentLogger; } };
