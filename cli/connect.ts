import { Bus, createLogger, transportFromUrl, type Transport } from '../core/index.js';
import '../transports/index.js';

/** A bus for a one-shot command on the transport a URL names, quiet unless SIGNALBUS_LOG_LEVEL says otherwise. */
export async function busFor(url: string, service = 'signalbus-cli'): Promise<{ bus: Bus; transport: Transport }> {
  const transport = await transportFromUrl(url);
  const bus = new Bus({ service, transport, metrics: false, logger: createLogger({ level: (process.env.SIGNALBUS_LOG_LEVEL as 'warn') ?? 'error' }) });
  await bus.start();
  return { bus, transport };
}

/** Server-hosted transports (`http://`, `ws://`): `sub` hosts the gateway or hub at the address. */
export function isHostedScheme(url: string): boolean {
  return /^(https?|wss?):/i.test(url);
}
