import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { createEnvelope } from '../../core/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import { freePort, NATS_SERVER_BINARY, NatsServerProcess } from '../helpers/nats-server-process.js';
import { waitFor } from '../helpers/wait.js';

describe('nats connection', function () {
  this.timeout(30_000);
  before(function () {
    if (!existsSync(NATS_SERVER_BINARY)) missingPrerequisite(this, `${NATS_SERVER_BINARY} is missing (these cases start their own nats-server)`);
  });

  it('nats connection - a wrong token is a TransportAuthError, the right one connects', async () => {
    const server = await NatsServerProcess.start({ token: 's3cret' });
    try {
      const wrong = new NatsTransport({ servers: server.url, token: 'nope', reconnect: { maxAttempts: 0 } });
      const err = await wrong.connect().then(() => null, (e) => e);
      expect(err?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
      const missing = await new NatsTransport({ servers: server.url, reconnect: { maxAttempts: 0 } }).connect().then(() => null, (e) => e);
      expect(missing?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
      const right = new NatsTransport({ servers: server.url, token: 's3cret' });
      await right.connect();
      await right.close();
    } finally { await server.stop(); }
  });

  it('nats connection - an unreachable server is a TransportConnectError', async () => {
    const t = new NatsTransport({ servers: `nats://127.0.0.1:${await freePort()}`, connectTimeoutMs: 1000 });
    const err = await t.connect().then(() => null, (e) => e);
    expect(err?.code).to.equal('SB_ERR_TRANSPORT_CONNECT');
  });

  it('nats connection - buffers publishes during a disconnect up to the bound, then fails with BackpressureError, and delivers the buffered ones after reconnect', async () => {
    const server = await NatsServerProcess.start();
    const t = new NatsTransport({ servers: server.url, maxBufferedPublishes: 100, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    try {
      await t.connect();
      const got = new Set<number>();
      await t.subscribe('buffer.test', (m) => { got.add(Number(new TextDecoder().decode(m.envelope.data as Uint8Array))); return m.ack(); }, { maxInFlight: 1000 });
      await t.connection!.flush();
      const disconnected = new Promise<void>((resolve) => {
        void (async () => { for await (const s of t.connection!.status()) if (s.type === 'disconnect') return resolve(); })();
      });
      await server.halt('SIGKILL');
      await disconnected;
      const outcomes: Array<Promise<string>> = [];
      for (let i = 0; i < 150; i++) {
        const env = createEnvelope({ type: 't', source: 'test', data: new TextEncoder().encode(String(i)), datacontenttype: 'text/plain' });
        outcomes.push(t.publish('buffer.test', env).then(() => 'sent', (e) => e.code));
      }
      // Over the bound: rejected at once, while the server is still down.
      expect(await Promise.all(outcomes.slice(100))).to.deep.equal(Array(50).fill('SB_ERR_BACKPRESSURE'));
      await server.resume();
      expect(await Promise.all(outcomes.slice(0, 100)), 'the held ones are sent after the reconnect').to.deep.equal(Array(100).fill('sent'));
      await waitFor(() => got.size === 100, { timeoutMs: 10_000, what: 'the 100 held messages' });
      expect([...got].sort((a, b) => a - b)).to.deep.equal([...Array(100).keys()]);
    } finally {
      await t.close();
      await server.stop();
    }
  });
});
