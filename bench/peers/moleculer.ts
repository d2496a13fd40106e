/**
 * Moleculer 0.15 on the same NATS server, as the peers-* scenarios run it: two brokers in this
 * process (caller and callee, each its own node and NATS connection) in a namespace of their own,
 * so a broker of an earlier run is never discovered. Options are `moleculerOptions` below,
 * quoted in bench/RESULTS.md ("Peers"); everything not listed is Moleculer's default (built-in
 * balancer, no cacher, no bulkhead, no circuit breaker, no retries, validator on but no action
 * declares params, internal services on, heartbeats every 10 s).
 */
import { randomUUID } from 'node:crypto';
import { ServiceBroker, type BrokerOptions, type Context } from 'moleculer';
import { assertEchoes, checked, type PeerSession } from './session.js';

/** The broker options every Moleculer scenario uses. */
export function moleculerOptions(namespace: string, nodeID: string, server: string): BrokerOptions {
  return {
    namespace, nodeID,
    // Moleculer's transporter turns the URL into nats.js `servers`; it also sets
    // preserveBuffers and maxReconnectAttempts: -1 itself.
    transporter: { type: 'NATS', options: { url: server } },
    serializer: 'JSON',
    metrics: false,
    tracing: false,
    logger: false,
  };
}

export async function openMoleculer(server: string): Promise<PeerSession> {
  const namespace = `sbbench-${randomUUID().slice(0, 8)}`;
  const caller = new ServiceBroker(moleculerOptions(namespace, `caller-${namespace}`, server));
  const callee = new ServiceBroker(moleculerOptions(namespace, `callee-${namespace}`, server));
  let got = 0;
  callee.createService({
    name: 'bench',
    events: { 'sensor.reading': { handler(_ctx: Context) { got++; } } },
    actions: { echo: { handler(ctx: Context) { return ctx.params; } } },
  });
  const session: PeerSession = {
    // Fire and forget: resolves once the packet is handed to the NATS client.
    emit: (data) => caller.emit('sensor.reading', data),
    received: () => got,
    call: (data) => caller.call('bench.echo', data, { timeout: 5000 }),
    close: async () => { await Promise.all([caller.stop(), callee.stop()]); },
  };
  return checked(session, async () => {
    await Promise.all([callee.start(), caller.start()]);
    await caller.waitForServices('bench', 10_000);
    const probe = { probe: namespace };
    assertEchoes('moleculer', probe, await caller.call('bench.echo', probe, { timeout: 5000 }));
  });
}
