/**
 * The signalbus side of the peers-* scenarios, configured as bench/scenarios/nats.ts runs it:
 * two Buses (publisher/caller and subscriber/server), NatsTransport with its defaults, no
 * metric publishing, a silent logger. Everything else is the default: binary-mode CloudEvents
 * headers, an id, time and traceparent per message, inbound envelope validation. The handlers
 * have the shape of the peers' (Moleculer's action and event handlers, Nest's @MessagePattern and
 * @EventPattern methods): synchronous, returning the data or nothing.
 */
import { randomUUID } from 'node:crypto';
import { Bus } from '../../core/index.js';
import { NatsTransport, type NatsTransportOptions } from '../../transports/nats/index.js';
import { assertEchoes, checked, type PeerSession } from './session.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };

/** `contentMode`: the NATS content mode, binary (the default) or structured (the *-structured scenarios). */
export async function openSignalbus(server: string, window: number, contentMode: NatsTransportOptions['contentMode'] = 'binary'): Promise<PeerSession> {
  const id = randomUUID().slice(0, 8);
  const events = `bench.peers.sb.${id}.reading`;
  const echo = `bench.peers.sb.${id}.echo`;
  const makeBus = (service: string) => new Bus({ service: `${service}@bench`, transport: new NatsTransport({ servers: server, contentMode }), metrics: false, logger: quiet });
  const pub = makeBus('pub'); const sub = makeBus('sub');
  let got = 0;
  const session: PeerSession = {
    emit: (data) => pub.publish(events, data, { type: 'sensor.reading' }),
    received: () => got,
    call: (data) => pub.request(echo, data, { timeoutMs: 5000 }),
    close: async () => { await Promise.all([pub.stop(), sub.stop()]); },
  };
  return checked(session, async () => {
    await sub.subscribe(events, () => { got++; }, { maxInFlight: window, maxPending: 10_000 });
    await sub.subscribe(echo, (m) => m.data, { maxInFlight: window });
    await pub.start();
    const probe = { probe: id };
    assertEchoes('signalbus', probe, (await pub.request(echo, probe, { timeoutMs: 5000 })).data);
  });
}
