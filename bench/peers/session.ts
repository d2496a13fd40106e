/**
 * What a peers-* scenario needs from a framework: one connected pair of endpoints on the same
 * NATS server, a counted event handler and an echo handler. signalbus, Moleculer and NestJS each
 * open one (bench/peers/<name>.ts); bench/scenarios/peers.ts times them the same way.
 */
export interface PeerSession {
  /** Sends one event the framework's usual way; resolves when its API says the event is sent. */
  emit(data: Record<string, unknown>): Promise<unknown>;
  /** Events the receiving handler has run for so far. */
  received(): number;
  /** One request/reply round trip to the echo handler, in whatever form the API returns it. */
  call(data: Record<string, unknown>): Promise<unknown>;
  /** Closes every connection and broker the session opened, so the process can exit. */
  close(): Promise<void>;
}

/** A session that echoes something other than what it was sent measures the wrong thing: refuse it. */
export function assertEchoes(framework: string, sent: unknown, got: unknown): void {
  if (JSON.stringify(got) !== JSON.stringify(sent)) {
    throw new Error(`${framework} echo returned ${JSON.stringify(got)?.slice(0, 120)} for ${JSON.stringify(sent).slice(0, 120)}`);
  }
}

/** Runs `open`'s own check on a new session and closes the session when the check throws. */
export async function checked(session: PeerSession, check: () => Promise<void>): Promise<PeerSession> {
  try {
    await check();
    return session;
  } catch (err) {
    await session.close().catch(() => undefined);
    throw err;
  }
}
