import { Bus, createLogger, transportFromUrl, TransportUnknownError, type Transport } from '../core/index.js';
import '../transports/index.js';

/**
 * `transportFromUrl` for the command line: an unknown scheme says which schemes the CLI knows,
 * not the library's advice (import 'signalbus/transports', registerTransport()) a CLI user cannot act on.
 */
export async function cliTransportFromUrl(url: string): Promise<Transport> {
  try {
    return await transportFromUrl(url);
  } catch (err) {
    const scheme = err instanceof TransportUnknownError ? err.details?.scheme : undefined;
    if (!(err instanceof TransportUnknownError) || typeof scheme !== 'string') throw err; // not a URL: its own message
    // tls:// is an alias of nats:// with TLS; the usage lists nats://.
    const known = ((err.details?.known as string[] | undefined) ?? []).filter((s) => s !== 'tls');
    throw new TransportUnknownError(`no transport for scheme "${scheme}:"; the signalbus CLI knows ${known.map((s) => `${s}://`).join(', ')}`, { cause: err, details: { ...err.details, known } });
  }
}

/** A bus for a one-shot command on the transport a URL names, quiet unless SIGNALBUS_LOG_LEVEL says otherwise. */
export async function busFor(url: string, service = 'signalbus-cli'): Promise<{ bus: Bus; transport: Transport }> {
  const transport = await cliTransportFromUrl(url);
  const bus = new Bus({ service, transport, metrics: false, logger: createLogger({ level: (process.env.SIGNALBUS_LOG_LEVEL as 'warn') ?? 'error' }) });
  await bus.start();
  return { bus, transport };
}

/** Server-hosted transports (`http://`, `ws://`): `sub` hosts the gateway or hub at the address. */
export function isHostedScheme(url: string): boolean {
  return /^(https?|wss?):/i.test(url);
}
