import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { NATS_SERVER_BINARY, NatsServerProcess } from '../helpers/nats-server-process.js';
import { runConformance, type BrokerRestartTarget } from './suite.js';

// The suite publishes under `conf.<random>.…` and dead-letters to `dlq.conf.…`; one stream per run holds both.
const stream = `SB_CONF_${randomUUID().slice(0, 8)}`;
const subjects = ['conf.>', 'dlq.conf.>'];
const STALE_MS = 10 * 60_000;

/** Deletes this suite's streams left behind by a run that died more than STALE_MS ago (their subjects would overlap). */
async function removeStaleStreams(): Promise<void> {
  const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
  try {
    const jsm = await nc.jetstreamManager();
    for await (const s of jsm.streams.list()) {
      if (s.config.name.startsWith('SB_CONF_') && Date.now() - Date.parse(s.created) > STALE_MS) await jsm.streams.delete(s.config.name);
    }
  } finally { await nc.close(); }
}

async function deleteStream(): Promise<void> {
  const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
  try { await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false); } finally { await nc.close(); }
}

/** For the restart case: a nats-server of our own with a file-stored stream, restarted with SIGTERM. */
function ownServer(contentMode: 'binary' | 'structured' = 'binary'): BrokerRestartTarget {
  let server: NatsServerProcess | undefined;
  return {
    executable: NATS_SERVER_BINARY,
    start: async () => { server = await NatsServerProcess.start({ jetstream: true }); },
    create: () => new NatsTransport({ servers: server!.url, contentMode, jetstream: { stream, subjects, storage: 'file', ackWaitMs: 5000 } }),
    restart: async () => { await server!.halt('SIGTERM'); await server!.resume(); },
    stop: async () => { await server?.stop(); },
  };
}

describe('nats-jetstream', function () {
  before(async function () { await requireBroker(this, 'nats'); await removeStaleStreams(); });
  runConformance({
    name: 'nats-jetstream',
    create: () => new NatsTransport({ servers: 'nats://127.0.0.1:4222', jetstream: { stream, subjects, storage: 'memory', ackWaitMs: 10_000 } }),
    after: deleteStream,
    restart: ownServer(),
    replay: true,
  });
});

describe('nats-jetstream-structured', function () {
  // Its own stream over the same subjects, made after the suite above deleted its own (suites run one after another).
  const structuredStream = `SB_CONF_${randomUUID().slice(0, 8)}`;
  before(async function () { await requireBroker(this, 'nats'); await removeStaleStreams(); });
  runConformance({
    name: 'nats-jetstream-structured',
    create: () => new NatsTransport({ servers: 'nats://127.0.0.1:4222', contentMode: 'structured', jetstream: { stream: structuredStream, subjects, storage: 'memory', ackWaitMs: 10_000 } }),
    after: async () => {
      const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
      try { await (await nc.jetstreamManager()).streams.delete(structuredStream).catch(() => false); } finally { await nc.close(); }
    },
    restart: ownServer('structured'),
    replay: true,
  });
});
