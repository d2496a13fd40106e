/**
 * An in-process MQTT broker (aedes) for the demo and for users with no broker. Any MQTT 3.1.1
 * client (mosquitto_pub, a device's firmware, signalbus with `?protocolVersion=4&sharedSubscriptions=false`)
 * connects to it. aedes speaks MQTT 3.1.1 only and has no shared subscriptions, so consumer
 * groups are not available on it; messages live in memory and are gone when the process ends.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { OptionsInvalidError, TransportConnectError } from '../../core/index.js';

export interface EmbeddedBrokerOptions {
  /** TCP port. Default 18830; 0 picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Accept only these credentials, when given. */
  username?: string;
  password?: string;
}

export interface EmbeddedBroker {
  readonly port: number;
  readonly host: string;
  /** A signalbus transport URL for this broker (MQTT 3.1.1, no shared subscriptions). */
  readonly url: string;
  /** Disconnects every client and stops listening. Idempotent. */
  stop(): Promise<void>;
}

export const EMBEDDED_BROKER_PORT = 18830;

/**
 * Starts an aedes broker listening on `host:port`.
 * @example
 * const broker = await startEmbeddedBroker({ port: 18830 });
 * const bus = new Bus({ service: 'demo', transport: await transportFromUrl(broker.url) });
 * // mosquitto_pub -h 127.0.0.1 -p 18830 -t devices/sensor-7/telemetry -m '{"temperature":21.5}'
 * await broker.stop();
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const port = options.port ?? EMBEDDED_BROKER_PORT;
  const host = options.host ?? '127.0.0.1';
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new OptionsInvalidError(`embedded broker option "port" must be an integer 0-65535, got ${port}`, { details: { field: 'port' } });
  }
  if ((options.username === undefined) !== (options.password === undefined)) {
    throw new OptionsInvalidError('embedded broker options "username" and "password" go together', { details: { field: 'password' } });
  }
  // Loaded here, not at import: only the demo and broker-less users pay for it.
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker({
    // Generous buffers: the default (42 queued packets per client) stalls fast publishers.
    queueLimit: 10_000,
    concurrency: 1000,
    ...(options.username !== undefined ? {
      authenticate: (_client, username, password, done) => {
        const ok = username === options.username && password?.toString() === options.password;
        if (ok) return done(null, true);
        done(Object.assign(new Error('bad user name or password'), { returnCode: 4 }) as never, false);
      },
    } : {}),
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TransportConnectError(`embedded MQTT broker cannot listen on ${host}:${port}: ${err.message}`,
      { cause: err, details: { host, port } })));
    server.listen(port, host, () => resolve());
  }).catch(async (err) => { await new Promise<void>((r) => aedes.close(() => r())); throw err; });
  const actual = (server.address() as { port: number }).port;
  let stopping: Promise<void> | undefined;
  return {
    port: actual,
    host,
    url: `mqtt://${host}:${actual}?protocolVersion=4&sharedSubscriptions=false`,
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => aedes.close(() => r()));
        await closed;
      })();
      return stopping;
    },
  };
}
