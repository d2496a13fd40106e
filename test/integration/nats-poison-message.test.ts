import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { Bus, type Envelope, type Logger } from '../../core/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { durableName } from '../../transports/nats/jetstream.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';

const NATS = 'nats://127.0.0.1:4222';
const stream = `SB_POISON_${randomUUID().slice(0, 8)}`;
const prefix = `poison.${randomUUID().slice(0, 8)}`;

interface Line { level: string; msg: string; fields: Record<string, unknown> | undefined }

function recordingLogger(lines: Line[]): Logger {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>): void => { lines.push({ level, msg, fields }); };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

/** A body that is no CloudEvent, 100 bytes short of the server's max_payload, sent with no headers. */
async function publishPoison(nc: NatsConnection, subject: string): Promise<number> {
  const size = nc.info!.max_payload - 100;
  nc.publish(subject, new Uint8Array(size).fill(0x41));
  await nc.flush();
  return size;
}

describe('nats - a poison message (a near-max_payload body that is no CloudEvent)', function () {
  this.timeout(30_000);
  const buses: Bus[] = [];
  let nc: NatsConnection;
  before(async function () {
    await requireBroker(this, 'nats');
    nc = await connect({ servers: NATS });
  });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });
  after(async () => {
    if (!nc) return;
    try { await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false); } finally { await nc.close(); }
  });

  it('nats-jetstream - does not hold back the next messages of an ordered subscription, and is dead-lettered truncated', async () => {
    const lines: Line[] = [];
    const transport = new NatsTransport({ servers: NATS, jetstream: { stream, subjects: [`${prefix}.>`, `dlq.${prefix}.>`], storage: 'memory', ackWaitMs: 5000 } });
    const bus = new Bus({ service: 'poison@t', transport, metrics: false, logger: recordingLogger(lines) });
    buses.push(bus);
    const handled: unknown[] = [];
    const deadLetters: Envelope[] = [];
    // What `signalbus sub` does: ordered.
    await bus.subscribe(`${prefix}.js`, (m) => { handled.push(m.data); }, { ordered: true, group: 'poison' });
    await bus.subscribe(`dlq.${prefix}.js`, (m) => { deadLetters.push(m); }, { raw: true, group: 'poison-dlq' });
    const size = await publishPoison(nc, `${prefix}.js`);
    for (const n of [1, 2, 3]) await bus.publish(`${prefix}.js`, n);
    await waitFor(() => handled.length === 3, { timeoutMs: 10_000, what: () => `the three valid messages (got ${JSON.stringify(handled)}; log ${JSON.stringify(lines.map((l) => l.msg))})` });
    expect(handled).to.deep.equal([1, 2, 3]);
    await waitFor(() => deadLetters.length === 1, { timeoutMs: 5000, what: 'the dead letter' });
    const dl = deadLetters[0]!;
    expect(dl.dlqreason).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(dl.dlqsubject).to.equal(`${prefix}.js`);
    expect(dl.dlqtruncated, 'the original size').to.equal(String(size));
    expect((dl.data as Uint8Array).byteLength).to.be.greaterThan(0).and.below(size);
    expect(Buffer.from(dl.data as Uint8Array).every((b) => b === 0x41), 'a prefix of the original body').to.equal(true);
    expect(lines.some((l) => l.level === 'warn' && l.msg === 'message dead-lettered' && l.fields?.truncated === size), 'logged as dead-lettered, truncated').to.equal(true);
    // Settled once: the server delivers it no more.
    const info = await (await nc.jetstreamManager()).consumers.info(stream, durableName('poison', `${prefix}.js`));
    expect(info.num_ack_pending + info.num_pending).to.equal(0);
    expect(info.num_redelivered).to.equal(0);
  });

  it('nats-core - is dead-lettered truncated and logged, not lost without a word', async () => {
    const lines: Line[] = [];
    const bus = new Bus({ service: 'poison@t', transport: new NatsTransport({ servers: NATS }), metrics: false, logger: recordingLogger(lines) });
    buses.push(bus);
    const handled: unknown[] = [];
    const deadLetters: Envelope[] = [];
    await bus.subscribe(`${prefix}.core`, (m) => { handled.push(m.data); });
    await bus.subscribe(`dlq.${prefix}.core`, (m) => { deadLetters.push(m); }, { raw: true });
    const size = await publishPoison(nc, `${prefix}.core`);
    await bus.publish(`${prefix}.core`, 'after');
    await waitFor(() => deadLetters.length === 1, { timeoutMs: 10_000, what: () => `the dead letter (log ${JSON.stringify(lines.map((l) => l.msg))})` });
    expect(deadLetters[0]!.dlqreason).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(deadLetters[0]!.dlqtruncated).to.equal(String(size));
    await waitFor(() => handled.length === 1, { what: 'the valid message' });
    expect(handled).to.deep.equal(['after']);
    expect(lines.some((l) => l.level === 'warn' && l.msg === 'message dead-lettered'), 'logged').to.equal(true);
  });

  it('nats-jetstream - a message whose dead-letter subject no stream captures is handed back a bounded number of times, then settled and logged', async () => {
    // The stream captures the subject but not `dlq.<subject>`: every dead letter is refused (no responders).
    const lonely = `${prefix}-nodlq`;
    const lines: Line[] = [];
    const transport = new NatsTransport({ servers: NATS, jetstream: { stream: `${stream}_NODLQ`, subjects: [`${lonely}.>`], storage: 'memory', ackWaitMs: 5000 } });
    const bus = new Bus({ service: 'poison@t', transport, metrics: false, logger: recordingLogger(lines), retry: { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 40, jitter: 0 } });
    buses.push(bus);
    const handled: unknown[] = [];
    try {
      await bus.subscribe(`${lonely}.x`, (m) => { handled.push(m.data); }, { ordered: true, group: 'nodlq' });
      nc.publish(`${lonely}.x`, new TextEncoder().encode('{"not":"a cloudevent"}'));
      // Another connection publishes next: the flush makes the stream hold the poison first.
      await nc.flush();
      await bus.publish(`${lonely}.x`, 'after');
      await waitFor(() => handled.length === 1, { timeoutMs: 15_000, what: () => `the message behind it (log ${JSON.stringify(lines.map((l) => l.msg))})` });
      expect(handled).to.deep.equal(['after']);
      const isSettled = (l: Line): boolean => l.level === 'error' && l.msg === 'message could not be dead-lettered; it is settled without a dead letter';
      await waitFor(() => lines.some(isSettled), { timeoutMs: 15_000, what: () => `the poison settled (log ${JSON.stringify(lines.map((l) => l.msg))})` });
      const handedBack = lines.filter((l) => l.msg === 'message could not be dead-lettered; it is handed back to the transport');
      expect(handedBack.map((l) => l.fields?.delivery)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
      const settled = lines.filter(isSettled);
      expect(settled).to.have.length(1);
      expect(settled[0]!.fields).to.include({ reason: 'SB_ERR_ENVELOPE_INVALID', deadLetterReason: 'SB_ERR_REQUEST_NO_RESPONDERS' });
      const info = await (await nc.jetstreamManager()).consumers.info(`${stream}_NODLQ`, durableName('nodlq', `${lonely}.x`));
      expect(info.num_ack_pending + info.num_pending).to.equal(0);
    } finally {
      await bus.stop();
      await (await nc.jetstreamManager()).streams.delete(`${stream}_NODLQ`).catch(() => false);
    }
  });
});
