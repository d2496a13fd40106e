import {
  compilePattern, NoRespondersError, RequestTimeoutError, TransportClosedError,
  type Envelope, type InboundHandler, type InboundMessage, type SubjectMatcher, type Transport, type TransportCapabilities,
  type TransportSubscribeOptions, type TransportSubscription,
} from '../../core/index.js';

interface MemorySub {
  pattern: string;
  match: SubjectMatcher;
  group?: string;
  handler: InboundHandler;
  owner: MemoryTransport;
  active: boolean;
}

const noop = () => {};

/**
 * An in-process broker. Transports made on the same broker see each other's messages;
 * `memory://name` shares one broker per name within the process.
 */
export class MemoryBroker {
  private readonly subs: MemorySub[] = [];
  private readonly routeCache = new Map<string, { all: MemorySub[]; groups: Map<string, MemorySub[]> }>();
  private readonly roundRobin = new Map<string, number>();

  add(sub: MemorySub): void { this.subs.push(sub); this.routeCache.clear(); }

  remove(sub: MemorySub): void {
    const i = this.subs.indexOf(sub);
    if (i >= 0) this.subs.splice(i, 1);
    this.routeCache.clear();
  }

  /** The subscriptions one message on `subject` goes to: every ungrouped one and one per group. */
  route(subject: string): MemorySub[] {
    let r = this.routeCache.get(subject);
    if (!r) {
      r = { all: [], groups: new Map() };
      for (const s of this.subs) {
        if (!s.match(subject)) continue;
        if (s.group === undefined) r.all.push(s);
        else (r.groups.get(s.group) ?? r.groups.set(s.group, []).get(s.group)!).push(s);
      }
      if (this.routeCache.size > 10_000) this.routeCache.clear();
      this.routeCache.set(subject, r);
    }
    if (r.groups.size === 0) return r.all;
    const out = r.all.slice();
    for (const [group, members] of r.groups) {
      const n = (this.roundRobin.get(group) ?? 0) + 1;
      this.roundRobin.set(group, n);
      out.push(members[n % members.length]!);
    }
    return out;
  }
}

const brokers = new Map<string, MemoryBroker>();

/** The process-wide broker for a name (`memory://name`). */
export function namedBroker(name: string): MemoryBroker {
  let b = brokers.get(name);
  if (!b) { b = new MemoryBroker(); brokers.set(name, b); }
  return b;
}

export interface MemoryTransportOptions {
  /** The broker to share; default: the process-wide `default` broker. */
  broker?: MemoryBroker;
}

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
  private readonly mine = new Set<MemorySub>();
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
      const r = s.handler({ subject, envelope, attempt: 1, ack: noop });
      if (r) (waits ??= []).push(r);
    }
    return waits ? Promise.all(waits).then(noop) : Promise.resolve();
  }

  async subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    if (this.closed) throw new TransportClosedError('memory transport is closed');
    const sub: MemorySub = { pattern, match: compilePattern(pattern), group: options.group, handler: onMessage, owner: this, active: true };
    this.broker.add(sub);
    this.mine.add(sub);
    const stop = async () => { sub.active = false; this.broker.remove(sub); this.mine.delete(sub); };
    return { pattern, drain: stop, unsubscribe: stop };
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
      const msg: InboundMessage = { subject, envelope, attempt: 1, ack: noop, reply };
      for (const s of targets) void s.handler(msg);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.mine) { s.active = false; this.broker.remove(s); }
    this.mine.clear();
  }
}
