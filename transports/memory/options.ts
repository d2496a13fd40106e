import { namedBroker, type MemoryBroker } from './broker.js';

/** Options of the memory transport. */
export interface MemoryTransportOptions {
  /** The broker to share; default: the process-wide `default` broker. */
  broker?: MemoryBroker;
}

/**
 * Options from a transport URL: `memory://<name>` shares the process-wide broker of that name
 * (`memory://` is the `default` one). There are no query parameters.
 *
 * @example memoryOptionsFromUrl(new URL('memory://tests')).broker === namedBroker('tests') // true
 */
export function memoryOptionsFromUrl(url: URL): MemoryTransportOptions {
  return { broker: namedBroker(url.hostname || 'default') };
}
