// A custom transport as an adapter author writes one against the published `Transport` type:
// in-process pub/sub with wildcards, nothing more (no groups, no request/reply, not durable).
import {
  compilePattern, TransportClosedError,
  type Envelope, type InboundHandler, type SubjectMatcher, type Transport, type TransportCapabilities,
  type TransportSubscribeOptions, type TransportSubscription,
} from 'signalbus';

interface HubSubscription { match: SubjectMatcher; handler: InboundHandler }

/** Shared by the transports that should see each other's messages. */
export class Hub {
  readonly subscriptions = new Set<HubSubscription>();
}

export class HubTransport implements Transport {
  readonly name = 'hub';
  readonly capabilities: TransportCapabilities = {
    requestReply: false, queueGroups: false, durable: false, ordered: true, wildcards: true,
    redelivery: false, encodesData: false, maxMessageBytes: 1024 * 1024,
  };
  private readonly mine = new Set<HubSubscription>();
  private closed = false;

  constructor(private readonly hub: Hub) {}

  async connect(): Promise<void> {
    if (this.closed) throw new TransportClosedError('hub transport is closed');
  }

  async publish(subject: string, envelope: Envelope): Promise<void> {
    if (this.closed) throw new TransportClosedError('hub transport is closed');
    const waits: Array<void | Promise<void>> = [];
    for (const s of this.hub.subscriptions) {
      if (s.match(subject)) waits.push(s.handler({ subject, envelope, attempt: 1, ack() {} }));
    }
    await Promise.all(waits);
  }

  async subscribe(pattern: string, onMessage: InboundHandler, _options: TransportSubscribeOptions): Promise<TransportSubscription> {
    if (this.closed) throw new TransportClosedError('hub transport is closed');
    const sub: HubSubscription = { match: compilePattern(pattern), handler: onMessage };
    this.hub.subscriptions.add(sub);
    this.mine.add(sub);
    const stop = async (): Promise<void> => { this.hub.subscriptions.delete(sub); this.mine.delete(sub); };
    return { pattern, drain: stop, unsubscribe: stop };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.mine) this.hub.subscriptions.delete(s);
    this.mine.clear();
  }
}
