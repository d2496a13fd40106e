import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Bus, dedupe } from '../../core/index.js';
import { NatsTransport, type NatsTransportOptions } from '../../transports/nats/index.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import { NATS_SERVER_BINARY, NatsServerProcess } from '../helpers/nats-server-process.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { sleep, waitFor } from '../helpers/wait.js';

const N = 20_000;
const RESTART_AT = 8_000;

describe('nats jetstream restart', function () {
  this.timeout(120_000);
  let server: NatsServerProcess | undefined;
  before(function () {
    if (!existsSync(NATS_SERVER_BINARY)) missingPrerequisite(this, `${NATS_SERVER_BINARY} is missing (the case kills and restarts its own nats-server)`);
  });
  after(async () => { await server?.stop(); });

  it('nats jetstream restart - a 20,000-message stream loses nothing when the server is killed (SIGKILL) and restarted mid-stream; dedupe removes the duplicates', async () => {
    server = await NatsServerProcess.start({ jetstream: true });
    const id = randomUUID().slice(0, 8);
    const subject = `reliability.${id}.readings`;
    const options: NatsTransportOptions = {
      servers: server.url, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, maxBufferedPublishes: N,
      jetstream: { stream: `SB_REL_${id}`, subjects: [`reliability.${id}.>`], storage: 'file', ackWaitMs: 5000, ackTimeoutMs: 2000, publishTimeoutMs: 60_000 },
    };
    let duplicates = 0;
    const handled = new Uint32Array(N);
    const sub = new Bus({ service: 'rel-sub@test', transport: new NatsTransport(options), metrics: false, logger: silentLogger,
      middleware: [dedupe({ window: N + 1000, onDuplicate: () => { duplicates++; } })] });
    const pub = new Bus({ service: 'rel-pub@test', transport: new NatsTransport(options), metrics: false, logger: silentLogger });
    try {
      await sub.subscribe(subject, async (m) => { handled[(m.data as { i: number }).i]!++; }, { group: 'rel', maxInFlight: 64 });
      await pub.start();
      let publishFailures = 0;
      let restarted: Promise<void> | undefined;
      let next = 0;
      // Each message keeps one id across retries, so JetStream's duplicate window and dedupe can recognise it.
      const send = async (i: number) => {
        for (;;) {
          try { await pub.publish(subject, { i }, { id: `${id}-${i}`, type: 'test.reading' }); return; } catch {
            publishFailures++;
            await sleep(200); // the server is down: try again shortly
          }
        }
      };
      await Promise.all(Array.from({ length: 128 }, async () => {
        while (next < N) {
          const i = next++;
          if (i === RESTART_AT) restarted = (async () => { await server!.halt('SIGKILL'); await sleep(500); /* down for a while */ await server!.resume(); })();
          await send(i);
        }
      }));
      await restarted;
      // What is still missing after this is counted below.
      await waitFor(() => !handled.some((c) => c === 0), { timeoutMs: 60_000, what: 'every message', intervalMs: 100 }).catch(() => undefined);
      const lost = handled.reduce((n, c) => n + (c === 0 ? 1 : 0), 0);
      const handledTwice = handled.reduce((n, c) => n + (c > 1 ? 1 : 0), 0);
      console.log(`      ${N} published, ${lost} lost, ${duplicates} duplicates removed by dedupe, ${publishFailures} publish retries by the test`);
      expect(lost, 'messages lost').to.equal(0);
      expect(handledTwice, 'messages the handler saw twice').to.equal(0);
    } finally {
      await Promise.all([pub.stop(), sub.stop()]);
    }
  });
});
