import net from 'node:net';

/**
 * Ports a test may listen on: below Linux's ephemeral range (32768-60999 here). A port the kernel
 * hands out for `listen(0)` is in that range, so any outgoing connection made before the test
 * binds it (npm ci's registry fetches, a client connecting somewhere) may take it as its local
 * port: CI once lost a demo run to exactly that ("127.0.0.1:33335 is already in use").
 */
const LISTEN_PORTS = { from: 20_000, to: 32_767 } as const;
/** Handed out by this process, so two calls awaiting together never get the same port. */
const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A TCP port nobody listens on right now, outside the range the kernel picks local ports from. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LISTEN_PORTS.from + Math.floor(Math.random() * (LISTEN_PORTS.to - LISTEN_PORTS.from + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canListen(port)) return port;
  }
  throw new Error(`freePort: no free port in ${LISTEN_PORTS.from}-${LISTEN_PORTS.to} after 200 tries`);
}
