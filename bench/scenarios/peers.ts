/**
 * signalbus against the frameworks a user would otherwise pick, on the same NATS server in the
 * same process run (issue 19): Moleculer and NestJS microservices. The peer is the scenario's
 * `raw()`, so `ratio` = signalbus / peer. Counts, windows and warm-ups are those of
 * bench/scenarios/nats.ts. How each side is configured: bench/peers/*.ts and bench/RESULTS.md
 * ("Peers").
 *
 * SIGNALBUS_BENCH_QUICK=1 cuts every count tenfold, to check that the scenarios run and exit;
 * its numbers mean nothing (run it with --no-write).
 */
import { latencies, percentile, sensorReading, until, windowed, type Measurement, type Scenario } from '../harness.js';
import type { PeerSession } from '../peers/session.js';

const SERVER = 'nats://127.0.0.1:4222';
const scale = (n: number) => (process.env.SIGNALBUS_BENCH_QUICK === '1' ? Math.ceil(n / 10) : n);
const N = scale(200_000);
const WARM = scale(20_000);
const WINDOW = 64;
const RR_N = scale(20_000);
const payloads = Array.from({ length: 1000 }, (_, i) => sensorReading(i));

// Loaded when a scenario runs: selecting other scenarios does not load Moleculer or NestJS.
const signalbus = async () => (await import('../peers/signalbus.js')).openSignalbus(SERVER, WINDOW);
const signalbusStructured = async () => (await import('../peers/signalbus.js')).openSignalbus(SERVER, WINDOW, 'structured');
const moleculer = async () => (await import('../peers/moleculer.js')).openMoleculer(SERVER);
const nestjs = async () => (await import('../peers/nestjs.js')).openNest(SERVER);
const leastWork = async () => (await import('../peers/nats-least-work.js')).openLeastWork(SERVER);

/** `n` events with WINDOW sends in flight, timed until the handler has run for all of them. */
async function events(open: () => Promise<PeerSession>): Promise<Measurement> {
  const session = await open();
  try {
    const timed = async (n: number): Promise<Measurement> => {
      const from = session.received();
      const t0 = performance.now();
      await windowed(n, WINDOW, (i) => session.emit(payloads[i % 1000]!));
      await until(() => session.received() - from >= n);
      return { msgs: n, seconds: (performance.now() - t0) / 1000 };
    };
    await timed(WARM);
    return await timed(N);
  } finally {
    await session.close();
  }
}

/** `n` echo round trips with `window` in flight after `warm` untimed ones: rate and p50/p99. */
async function requests(open: () => Promise<PeerSession>, window: number, n: number, warm: number): Promise<Measurement> {
  const session = await open();
  try {
    const roundTrip = (i: number) => session.call(payloads[i % 1000]!);
    await latencies(warm, window, roundTrip);
    const t0 = performance.now();
    const samples = await latencies(n, window, roundTrip);
    const seconds = (performance.now() - t0) / 1000;
    return { msgs: n, seconds, p50_us: percentile(samples, 50), p99_us: percentile(samples, 99) };
  } finally {
    await session.close();
  }
}

const SB = 'signalbus = two Buses on NatsTransport with their defaults (binary-mode CloudEvents headers, id, time and traceparent per message, inbound validation; metric publishing off, silent logger)';
const MOLECULER = 'Moleculer 0.15 = two brokers (caller, callee) in a namespace of their own, NATS transporter, JSON serializer, metrics, tracing and logger off, other options default';
const LEAST = 'least work = raw nats.js carrying fresh binary-mode CloudEvents (id, time, traceparent per message) with no checks, read back with a bare line split (bench/peers/nats-least-work.ts): the best any framework on nats.js\' public API can do';
const NEST = 'NestJS 12 = a Nest microservice (Transport.NATS, logger off) with @EventPattern/@MessagePattern handlers and a ClientNats, default JSON serializer; on nats 2.x unless @nats-io/transport-node is installed';

const scenarios: Scenario[] = [
  {
    name: 'peers-nats-events',
    description: `${N} ~200-byte JSON readings as events, ${WINDOW} sends in flight, timed to the last delivery: signalbus bus.publish (resolves when the NATS client has the message) → subscriber handler vs Moleculer broker.emit (fire and forget: resolves when the packet is handed to the NATS client) → event handler. ${SB}; ${MOLECULER}. ratio = signalbus / Moleculer`,
    run: () => events(signalbus),
    raw: () => events(moleculer),
  },
  {
    name: 'peers-nats-request-64',
    description: `${RR_N * 2} echo round trips, ${WINDOW} in flight — p50/p99 in µs: signalbus bus.request vs Moleculer broker.call (timeout 5 s each). ${SB}; ${MOLECULER}. ratio = signalbus / Moleculer`,
    run: () => requests(signalbus, WINDOW, RR_N * 2, scale(5000)),
    raw: () => requests(moleculer, WINDOW, RR_N * 2, scale(5000)),
  },
  {
    name: 'peers-nats-request-seq',
    description: `as peers-nats-request-64, one round trip at a time (latency), ${RR_N} requests — p50/p99 in µs. ratio = signalbus / Moleculer`,
    run: () => requests(signalbus, 1, RR_N, scale(2000)),
    raw: () => requests(moleculer, 1, RR_N, scale(2000)),
  },
  {
    name: 'peers-nats-events-least-work',
    description: `as peers-nats-events, with the least work in signalbus's place: ${LEAST}. Its ratio is the ceiling of peers-nats-events' ratio for code that carries fresh CloudEvents through nats.js' public API (signalbus's NATS transport writes whole frames past nats.js' publish, transports/nats/frames.ts, which that API cannot). ratio = least work / Moleculer`,
    run: () => events(leastWork),
    raw: () => events(moleculer),
  },
  {
    name: 'peers-nats-request-seq-least-work',
    description: `as peers-nats-request-seq, with the least work in signalbus's place: ${LEAST}. ratio = least work / Moleculer`,
    run: () => requests(leastWork, 1, RR_N, scale(2000)),
    raw: () => requests(moleculer, 1, RR_N, scale(2000)),
  },
  {
    name: 'peers-nats-events-structured',
    description: `as peers-nats-events, signalbus with NatsTransport contentMode 'structured' (the whole CloudEvent as JSON in the body, no NATS header block; Moleculer's packets carry no headers either). ratio = signalbus / Moleculer`,
    run: () => events(signalbusStructured),
    raw: () => events(moleculer),
  },
  {
    name: 'peers-nats-request-64-structured',
    description: `as peers-nats-request-64, signalbus with contentMode 'structured'. ratio = signalbus / Moleculer`,
    run: () => requests(signalbusStructured, WINDOW, RR_N * 2, scale(5000)),
    raw: () => requests(moleculer, WINDOW, RR_N * 2, scale(5000)),
  },
  {
    name: 'peers-nats-request-seq-structured',
    description: `as peers-nats-request-seq, signalbus with contentMode 'structured'. ratio = signalbus / Moleculer`,
    run: () => requests(signalbusStructured, 1, RR_N, scale(2000)),
    raw: () => requests(moleculer, 1, RR_N, scale(2000)),
  },
  {
    name: 'peers-nestjs-nats-events',
    description: `as peers-nats-events against NestJS: ClientNats.emit (its Observable completes when the packet is handed to the NATS client; awaited, ${WINDOW} in flight) → @EventPattern handler. ${NEST}. ratio = signalbus / NestJS`,
    run: () => events(signalbus),
    raw: () => events(nestjs),
  },
  {
    name: 'peers-nestjs-nats-request-64',
    description: `as peers-nats-request-64 against NestJS: ClientNats.send with rxjs timeout(5 s) (a new inbox subscription per request, as Nest does it) → @MessagePattern handler returning the data, ${WINDOW} in flight, ${RR_N * 2} requests — p50/p99 in µs. ${NEST}. ratio = signalbus / NestJS`,
    run: () => requests(signalbus, WINDOW, RR_N * 2, scale(5000)),
    raw: () => requests(nestjs, WINDOW, RR_N * 2, scale(5000)),
  },
];

export default scenarios;
