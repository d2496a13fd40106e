import { expect } from 'chai';
import {
  Bus, ContractInvalidError, MessageTooLargeError,
  type Envelope, type InboundHandler, type InboundMessage, type Logger, type Transport, type TransportCapabilities,
} from '../../core/index.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A durable transport whose deliveries the test makes by hand, recording ack / nak / term, and
 * which refuses dead letters whose data is larger than `deadLetterLimit` bytes, the way a broker
 * refuses a message over its max_payload.
 */
class RefusingTransport implements Transport {
  readonly name = 'refusing';
  readonly capabilities: TransportCapabilities = { requestReply: false, queueGroups: false, durable: true, ordered: true, wildcards: true, redelivery: true, encodesData: false, maxMessageBytes: 1 << 20 };
  readonly published: Array<{ subject: string; envelope: Envelope }> = [];
  readonly settled: string[] = [];
  private onMessage?: InboundHandler;

  constructor(private readonly deadLetterLimit: number) {}

  async connect(): Promise<void> {}
  async publish(subject: string, envelope: Envelope): Promise<void> {
    const bytes = (envelope.data as Uint8Array | undefined)?.byteLength ?? 0;
    if (subject.startsWith('dlq.') && bytes > this.deadLetterLimit) throw new MessageTooLargeError(`refused ${bytes} bytes`);
    this.published.push({ subject, envelope });
  }
  async subscribe(pattern: string, onMessage: InboundHandler) {
    this.onMessage = onMessage;
    return { pattern, drain: async () => {}, unsubscribe: async () => {} };
  }
  async close(): Promise<void> {}

  deliver(id: string, data: Uint8Array, key: string): void {
    const envelope: Envelope = { specversion: '1.0', id, source: '/test', type: 'poison.test', datacontenttype: 'application/json', data, partitionkey: key };
    const msg: InboundMessage = {
      subject: 'poison.x', envelope, attempt: 1, position: 7,
      ack: () => { this.settled.push(`ack ${id}`); },
      nak: () => { this.settled.push(`nak ${id}`); },
      term: () => { this.settled.push(`term ${id}`); },
    };
    void this.onMessage!(msg);
  }
}

interface Line { level: string; msg: string; fields: Record<string, unknown> | undefined }

function recordingLogger(lines: Line[]): Logger {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>): void => { lines.push({ level, msg, fields }); };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

describe('settlement - a dead letter the transport refuses', () => {
  const buses: Bus[] = [];
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  async function setUp(deadLetterLimit: number) {
    const t = new RefusingTransport(deadLetterLimit);
    const lines: Line[] = [];
    const bus = new Bus({ service: 'refuse@t', transport: t, metrics: false, logger: recordingLogger(lines) });
    buses.push(bus);
    const handled: string[] = [];
    await bus.subscribe('poison.x', (m) => {
      if (m.id === 'poison') throw new ContractInvalidError('not what the contract says');
      handled.push(m.id);
    }, { ordered: true, raw: true });
    return { t, lines, bus, handled };
  }

  it('settlement - a dead letter too large for the transport goes truncated, with its original size, and the message is settled', async () => {
    const { t, lines, handled } = await setUp(1 << 16);
    const body = new Uint8Array(1 << 17).fill(0x42);
    t.deliver('poison', body, 'k');
    t.deliver('next', new Uint8Array([1]), 'k');
    await waitFor(() => handled.length === 1, { what: 'the next message of the key' });
    expect(t.settled).to.deep.equal(['term poison', 'ack next']);
    expect(t.published).to.have.length(1);
    const dl = t.published[0]!.envelope;
    expect(t.published[0]!.subject).to.equal('dlq.poison.x');
    expect(dl.dlqreason).to.equal('SB_ERR_CONTRACT_INVALID');
    expect(dl.dlqtruncated).to.equal(String(body.byteLength));
    expect(dl.datacontenttype, 'a prefix does not decode').to.equal('application/octet-stream');
    expect((dl.data as Uint8Array).byteLength).to.be.greaterThan(0).and.below(body.byteLength);
    expect(lines.filter((l) => l.level === 'warn' && l.msg === 'message dead-lettered').map((l) => l.fields?.truncated)).to.deep.equal([body.byteLength]);
  });

  it('settlement - a message that cannot be dead-lettered at all is termed at once and logged at error level with its reason, never handed back', async () => {
    const { t, lines, handled } = await setUp(0);
    const started = Date.now();
    t.deliver('poison', new Uint8Array(100_000), 'k');
    t.deliver('next', new Uint8Array([1]), 'k');
    await waitFor(() => handled.length === 1, { what: 'the next message of the key' });
    expect(Date.now() - started, 'no retries of a send that can never succeed').to.be.below(1000);
    expect(t.settled).to.deep.equal(['term poison', 'ack next']);
    expect(t.published).to.have.length(0);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).to.have.length(1);
    expect(errors[0]!.fields).to.include({ reason: 'SB_ERR_CONTRACT_INVALID', deadLetterReason: 'SB_ERR_MESSAGE_TOO_LARGE', id: 'poison', position: 7 });
  });
});
