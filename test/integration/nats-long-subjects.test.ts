/**
 * A foreign publisher's subject near nats-server's 4 KiB protocol line: the dead letter of a bad
 * message on it used to be published to `dlq.<subject>`, over that line, and the server closed
 * the Bus' connection (every other message on it lost, on JetStream again at every redelivery).
 * Now the dead letter goes to a cut `dlq.` subject with the whole subject in `dlqsubject`, and a
 * publish that would overrun the line is refused with SubjectInvalidError before anything is sent.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, headers, type NatsConnection } from 'nats';
import { Bus, MAX_SUBJECT_LENGTH, SubjectInvalidError, type Envelope } from '../../core/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

const NATS = 'nats://127.0.0.1:4222';

describe('nats - subjects near the server\'s protocol line limit', function () {
  this.timeout(20_000);
  const buses: Bus[] = [];
  let nc: NatsConnection;
  before(async function () {
    await requireBroker(this, 'nats');
    nc = await connect({ servers: NATS });
  });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });
  after(async () => { await nc?.close(); });

  it('nats - a bad message on a 4,086-character subject is dead-lettered to a cut dlq subject and the connection stays up', async () => {
    const prefix = `longsubj.${randomUUID().slice(0, 8)}`;
    const transport = new NatsTransport({ servers: NATS });
    const bus = new Bus({ service: 'long@t', transport, metrics: false, logger: silentLogger });
    buses.push(bus);
    const handled: unknown[] = [];
    const deadLetters: Envelope[] = [];
    await bus.subscribe(`${prefix}.>`, (m) => { handled.push(m.data); });
    await bus.subscribe(`dlq.${prefix}.>`, (m) => { deadLetters.push(m); }, { raw: true });
    let disconnects = 0;
    void (async () => { for await (const s of transport.connection!.status()) if (s.type === 'disconnect') disconnects++; })();

    const long = `${prefix}.${'x'.repeat(4086 - prefix.length - 1)}`;
    const h = headers();
    for (const [k, v] of Object.entries({ 'ce-specversion': '1.0', 'ce-id': 'bad-1', 'ce-source': '/peer', 'ce-type': 't', 'ce-time': 'yesterday' })) h.set(k, v);
    nc.publish(long, new TextEncoder().encode('{"n":0}'), { headers: h });
    await nc.flush();
    await bus.publish(`${prefix}.after`, 1);

    await waitFor(() => deadLetters.length === 1 && handled.length === 1, { timeoutMs: 5000, what: () => `the dead letter and the good message (got ${deadLetters.length}, ${handled.length})` });
    const dl = deadLetters[0]!;
    expect(dl.id).to.equal('bad-1');
    expect(dl.dlqreason).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(dl.dlqsubject).to.equal(long);
    expect(handled).to.deep.equal([1]);
    expect(disconnects, 'the Bus\' connection was never closed').to.equal(0);
  });

  it('nats - a publish whose subject would overrun the protocol line is SubjectInvalidError, and nothing is sent', async () => {
    const transport = new NatsTransport({ servers: NATS });
    await transport.connect();
    try {
      const envelope: Envelope = { specversion: '1.0', id: randomUUID(), source: '/t', type: 't' };
      const refused = await transport.publish(`long.${'y'.repeat(5000)}`, envelope).then(() => null, (e: unknown) => e);
      expect(refused).to.be.instanceOf(SubjectInvalidError);
      // The connection is fine: the next publish goes.
      await transport.publish(`long.${'y'.repeat(MAX_SUBJECT_LENGTH - 5)}`, envelope);
      await transport.connection!.flush();
      expect(transport.connection!.isClosed()).to.equal(false);
    } finally {
      await transport.close();
    }
  });
});
