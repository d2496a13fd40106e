import net from 'node:net';

/** True when something accepts TCP connections on host:port. */
export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export const BROKER_PORTS = { nats: 4222, rabbitmq: 5672, mosquitto: 1883, redis: 6379, postgres: 5432 } as const;

/**
 * Call from a suite's `before` (with `function () {}` so `this` is mocha's context). When the broker
 * is unreachable: under CI=true the suite fails; elsewhere it is skipped with the reason printed.
 */
export async function requireBroker(ctx: Mocha.Context, name: keyof typeof BROKER_PORTS): Promise<void> {
  const port = BROKER_PORTS[name];
  if (await portOpen(port)) return;
  missingPrerequisite(ctx, `${name} is not reachable on 127.0.0.1:${port}`);
}

/**
 * Something a test needs (a broker, a binary) is missing: under CI=true the test fails, saying
 * what; elsewhere it is skipped with that reason printed.
 */
export function missingPrerequisite(ctx: Mocha.Context, reason: string): never {
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: tests must not skip)`);
  console.warn(`      skipped: ${reason}`);
  return ctx.skip(); // reason: the `reason` argument, printed above
}
