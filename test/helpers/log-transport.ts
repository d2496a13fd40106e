import {
  compilePattern, type Envelope, type InboundHandler, type InboundMessage, type Transport, type TransportCapabilities, type TransportSubscribeOptions,
} from '../../core/index.js';

interface LogSubscription { pattern: string; handler: InboundHandler; options: TransportSubscribeOptions; next: number }

/**
 * An in-process ordered log with positions, as JetStream keeps one (`capabilities.replay`):
 * a subscription replays from `startAfter` and then gets new publishes, each delivery carrying its
 * position. With `manual`, nothing is delivered until the test calls `deliver(position)`.
 */
export class LogTransport implements Transport {
  readonly name = 'log';
  readonly capabilities: TransportCapabilities = {
    requestReply: false, queueGroups: false, durable: true, ordered: true, wildcards: true, redelivery: false, encodesData: false, maxMessageBytes: 1 << 20, replay: true,
  };
  readonly log: Array<{ subject: string; envelope: Envelope }> = [];
  /** Every subscribe call, with the pattern and options the transport got. */
  readonly subscribed: Array<{ pattern: string; options: TransportSubscribeOptions }> = [];
  /** Positions acked, in order. */
  readonly acked: number[] = [];
  private readonly subs = new Set<LogSubscription>();

  constructor(private readonly options: { manual?: boolean } = {}) {}

  async connect(): Promise<void> {}
  async publish(subject: string, envelope: Envelope): Promise<void> {
    this.log.push({ subject, envelope });
    if (!this.options.manual) for (const s of this.subs) this.pump(s);
  }
  async subscribe(pattern: string, handler: InboundHandler, options: TransportSubscribeOptions) {
    this.subscribed.push({ pattern, options });
    const sub: LogSubscription = { pattern, handler, options, next: (options.startAfter ?? this.log.length) + 1 };
    this.subs.add(sub);
    if (!this.options.manual) this.pump(sub);
    return { pattern, drain: async () => { this.subs.delete(sub); }, unsubscribe: async () => { this.subs.delete(sub); } };
  }
  async close(): Promise<void> { this.subs.clear(); }

  /** Manual mode: hands the entry at `position` (1-based) to every live subscription. */
  deliver(position: number): void {
    for (const s of this.subs) this.hand(s, position);
  }

  private pump(s: LogSubscription): void {
    while (s.next <= this.log.length && this.subs.has(s)) {
      const position = s.next++;
      if (compilePattern(s.pattern)(this.log[position - 1]!.subject)) this.hand(s, position);
    }
  }

  private hand(s: LogSubscription, position: number): void {
    const { subject, envelope } = this.log[position - 1]!;
    const msg: InboundMessage = { subject, envelope, attempt: 1, position, ack: () => { this.acked.push(position); } };
    void s.handler(msg);
  }
}
