import { expect } from 'chai';
import {
  Bus, EnvelopeInvalidError, type Envelope, type InboundHandler, type InboundMessage, type Transport, type TransportCapabilities,
} from '../../core/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const NOT_A_CLOUDEVENT = new EnvelopeInvalidError('test message is not a CloudEvent');

/** A transport whose deliveries are made by hand; it records what is published and how each delivery is settled. */
class HandTransport implements Transport {
  readonly name = 'hand';
  readonly capabilities: TransportCapabilities = {
    requestReply: false, queueGroups: false, durable: false, ordered: true, wildcards: true, redelivery: false, encodesData: true, maxMessageBytes: 1 << 20,
  };
  readonly published: Array<{ subject: string; envelope: Envelope }> = [];
  readonly settled: string[] = [];
  readonly replies: Envelope[] = [];
  private readonly handlers = new Map<string, InboundHandler>();

  async connect(): Promise<void> {}
  async publish(subject: string, envelope: Envelope): Promise<void> { this.published.push({ subject, envelope }); }
  async subscribe(pattern: string, onMessage: InboundHandler) {
    this.handlers.set(pattern, onMessage);
    return { pattern, drain: async () => {}, unsubscribe: async () => {} };
  }
  async close(): Promise<void> {}

  /** A device's payload, wrapped the way transports wrap what is not a CloudEvent. */
  deliverForeign(pattern: string, subject: string, bytes: Uint8Array, request = false): void {
    const envelope: Envelope = { specversion: '1.0', id: `raw-${this.settled.length}`, source: `hand:${subject}`, type: 'hand.raw', datacontenttype: 'application/json', data: bytes };
    const msg: InboundMessage = {
      subject, envelope, attempt: 1, notCloudEvent: NOT_A_CLOUDEVENT,
      ack: () => { this.settled.push(`ack ${envelope.id}`); },
      term: () => { this.settled.push(`term ${envelope.id}`); },
    };
    if (request) msg.reply = async (r) => { this.replies.push(r); };
    void this.handlers.get(pattern)!(msg);
  }
}

describe('bus - payloads that are not CloudEvents', () => {
  const bytes = new TextEncoder().encode('{"temperature":21.5}');
  let transport: HandTransport;
  let bus: Bus;
  beforeEach(() => {
    transport = new HandTransport();
    bus = new Bus({ service: 'foreign@t', transport, metrics: false, logger: silentLogger });
  });
  afterEach(() => bus.stop());

  it('bus - a raw subscription gets the made-up envelope with its bytes undecoded', async () => {
    const got: Envelope[] = [];
    await bus.subscribe('devices.>', (m) => { got.push(m); }, { raw: true });
    transport.deliverForeign('devices.>', 'devices.d1.telemetry', bytes);
    await waitFor(() => got.length === 1, { timeoutMs: 1000, what: 'the raw delivery' });
    expect(got[0]!.data).to.equal(bytes);
    expect(transport.published, 'nothing dead-lettered').to.deep.equal([]);
    expect(transport.settled).to.deep.equal(['ack raw-0']);
  });

  it('bus - any other subscription dead-letters it with the transport\'s reason, the payload unchanged, and never calls the handler', async () => {
    const called: Envelope[] = [];
    await bus.subscribe('devices.>', (m) => { called.push(m); });
    transport.deliverForeign('devices.>', 'devices.d1.telemetry', bytes);
    await waitFor(() => transport.settled.length === 1, { timeoutMs: 1000, what: 'the settlement' });
    expect(called).to.deep.equal([]);
    expect(transport.published).to.have.length(1);
    const { subject, envelope } = transport.published[0]!;
    expect(subject).to.equal('dlq.devices.d1.telemetry');
    expect(envelope).to.include({ dlqreason: 'SB_ERR_ENVELOPE_INVALID', dlqsubject: 'devices.d1.telemetry', dlqattempts: '1', datacontenttype: 'application/json' });
    expect(envelope.data).to.equal(bytes);
    expect(transport.settled).to.deep.equal(['term raw-0']);
    expect(bus.metrics.totals().get('foreign@t:devices.> invalid deadlettered')?.count).to.equal(1);
  });

  it('bus - a request that is not a CloudEvent is answered with the error instead of being dead-lettered', async () => {
    await bus.subscribe('svc.*', () => 'never');
    transport.deliverForeign('svc.*', 'svc.add', bytes, true);
    await waitFor(() => transport.replies.length === 1, { timeoutMs: 1000, what: 'the error reply' });
    expect(transport.replies[0]!.sberrorcode).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(transport.published).to.deep.equal([]);
    await waitFor(() => transport.settled.length === 1, { timeoutMs: 1000, what: 'the ack' });
    expect(bus.metrics.totals().get('foreign@t:svc.* invalid deadlettered')?.count, 'counted once').to.equal(1);
  });
});
