import {
  compilePattern, NoRespondersError, RequestTimeoutError, TransportClosedError,
  type Envelope, type InboundHandler, type Transport, type TransportCapabilities,
  type TransportSubscribeOptions, type TransportSubscription,
} from '../../core/index.js';
import { toMemoryMessage } from './binding.js';
import { namedBroker, type MemoryBroker } from './broker.js';
import type { MemoryTransportOptions } from './options.js';
import { MemorySubscription } from './subscription.js';

const noop = () => {};

/**
 * The reference transport: in-process, no serialisation (the envelope object itself travels),
 * queue groups, request/reply and wildcards. At most once: nothing survives the process.
 * A publish waits while a subscriber's queue is full, so a fast publisher cannot outrun a slow
 * handler and nothing is dropped.
 *
 * @example const t = new MemoryTransport(); const bus = new Bus({ service: 'demo', transport: t });
 */
export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly capabilities: TransportCapabilities = {
    requestReply: true, queueGroups: true, durable: false, ordered: true, wildcards: true,
    redelivery: false, encodesData: false, maxMessageBytes: Number.MAX_SAFE_INTEGER,
  };
  readonly broker: MemoryBroker;
  private readonly mine = new Set<MemorySubscription>();
  private readonly forget = (sub: MemorySubscription) => { this.mine.delete(sub); };
  private closed = false;

  constructor(options: MemoryTransportOptions = {}) {
    this.broker = options.broker ?? namedBroker('default');
  }

  async connect(): Promise<void> {
    if (this.closed) throw new TransportClosedError('memory transport is closed');
  }

  publish(subject: string, envelope: Envelope): Promise<void> {
    if (this.closed) return Promise.reject(new TransportClosedError('memory transport is closed'));
    const targets = this.broker.route(subject);
    let waits: Array<void | Promise<void>> | undefined;
    for (let i = 0; i < targets.length; i++) {
      const s = targets[i]!;
      if (!s.active) continue;
      const r = s.handler(toMemoryMessage(subject, envelope));
      if (r) (waits ??= []).push(r);
    }
    return waits ? Promise.all(waits).then(noop) : Promise.resolve();
  }

  async subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    if (this.closed) throw new TransportClosedError('memory transport is closed');
    const sub = new MemorySubscription(pattern, compilePattern(pattern), options.group, onMessage, this.broker, this.forget);
    this.broker.add(sub);
    this.mine.add(sub);
    return sub;
  }

  request(subject: string, envelope: Envelope, options: { timeoutMs: number }): Promise<Envelope> {
    if (this.closed) return Promise.reject(new TransportClosedError('memory transport is closed'));
    const targets = this.broker.route(subject).filter((s) => s.active);
    if (targets.length === 0) return Promise.reject(new NoRespondersError(`no responders for ${subject}`, { details: { subject } }));
    return new Promise<Envelope>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new RequestTimeoutError(`no reply on ${subject} within ${options.timeoutMs} ms`, { details: { subject, timeoutMs: options.timeoutMs } }));
      }, options.timeoutMs);
      // Only the first responder answers, as with NATS request().
      const reply = async (r: Envelope) => { if (!done) { done = true; clearTimeout(timer); resolve(r); } };
      const msg = toMemoryMessage(subject, envelope, reply);
      for (const s of targets) void s.handler(msg);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.mine]) s.stop();
  }
}
