/**
 * Reads the server's bytes in the socket's `'data'` handler instead of through nats.js' reader.
 *
 * nats.js (2.x) pushes each chunk the socket gives into a queue and resolves a promise; an async
 * generator (compiled to tslib's `__asyncGenerator`, read with `for await`) then hands the chunk
 * to the protocol parser, several promise turns later. A message that arrives alone (a request
 * or reply made one at a time) pays those turns on the round trip's critical path: measured in
 * one process, alternating, 3-6 µs a leg from the socket's `'data'` to the next publish, and a
 * round trip's p50 9-19 µs lower with the parse done in `'data'` (bench/RESULTS.md, stop 33).
 * Throughput with many messages a chunk does not change.
 *
 * This reaches into nats.js' private fields (`protocol.transport.socket`, `yields`,
 * `protocol.parser`), as frames.ts does on the write side. Each is checked first; when anything
 * differs from the layout this was written against, nothing is changed and nats.js reads as it
 * always did. nats.js makes a new transport (and socket) on every reconnect: install again then.
 */
import { Socket } from 'node:net';
import type { NatsConnection } from 'nats';

interface TransportInternals {
  socket?: unknown;
  /** Chunks nats.js' reader has been handed and not yet taken. */
  yields?: unknown;
  options?: { debug?: boolean };
}

interface ProtocolInternals {
  transport?: TransportInternals;
  parser?: { parse?: unknown };
}

interface Parser { parse(chunk: Chunk): void }

type Chunk = Uint8Array;

/** The sockets this module reads: a socket is read directly at most once. */
const installed = new WeakSet<Socket>();

/**
 * Makes `nc`'s current socket hand its chunks straight to the protocol parser. Returns whether
 * the socket is read directly now. A chunk the parser throws on (a protocol error, or a nats.js
 * subscription callback that threw: nats.js calls them unguarded) leaves the parser mid-stream,
 * so the socket is destroyed with that error and nats.js reconnects (its own reader would stop
 * reading, and the connection would stay deaf until heartbeats found it stale); `onError` hears
 * of it first.
 */
export function readDirectly(nc: NatsConnection, onError: (err: unknown) => void): boolean {
  const protocol = (nc as unknown as { protocol?: ProtocolInternals }).protocol;
  if (protocol === undefined) return false;
  const { transport, parser } = protocol;
  if (transport === undefined || parser === undefined || typeof parser.parse !== 'function') return false;
  const socket = transport.socket;
  if (!(socket instanceof Socket) || socket.destroyed || !Array.isArray(transport.yields) || transport.options?.debug === true) return false;
  if (installed.has(socket)) return true;
  const listeners = socket.listeners('data');
  if (listeners.length !== 1) return false; // not nats.js' one reader: leave it alone
  const natsReader = listeners[0] as (chunk: Chunk) => void;
  socket.removeListener('data', natsReader);
  socket.on('data', (chunk: Chunk) => {
    // Chunks nats.js' reader still holds come first: hand it this one too, in order, until it has none.
    if ((transport.yields as unknown[]).length !== 0) { natsReader(chunk); return; }
    try {
      // Looked up per chunk, as nats.js' reader does: nats.js makes a new parser on each dial.
      (protocol.parser as Parser).parse(chunk);
    } catch (err) {
      onError(err);
      socket.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  });
  installed.add(socket);
  return true;
}

/** @internal Whether `nc`'s current socket is read directly (tests). */
export function readsDirectly(nc: NatsConnection): boolean {
  const socket = (nc as unknown as { protocol?: ProtocolInternals }).protocol?.transport?.socket;
  return socket instanceof Socket && installed.has(socket);
}
