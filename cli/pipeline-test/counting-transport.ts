import type { Envelope, InboundHandler, InboundMessage, Transport, TransportSubscribeOptions, TransportSubscription } from '../../core/index.js';

/** Deliveries handed to a subscriber and not yet settled, across every transport of one test case. */
export class InFlight {
  count = 0;
}

/**
 * A transport that counts each delivery from hand-over to its ack, so the test runner knows when
 * the pipeline has nothing left to do (every handler settled, every publish it made delivered)
 * instead of guessing with a sleep. The Bus acks every delivery it settles, dead letters included.
 */
export class CountingTransport implements Transport {
  readonly name: string;
  readonly capabilities: Transport['capabilities'];

  constructor(private readonly inner: Transport, private readonly inFlight: InFlight) {
    this.name = inner.name;
    this.capabilities = inner.capabilities;
  }

  connect(): Promise<void> { return this.inner.connect(); }

  publish(subject: string, envelope: Envelope): Promise<void> { return this.inner.publish(subject, envelope); }

  subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription> {
    const inFlight = this.inFlight;
    return this.inner.subscribe(pattern, (msg: InboundMessage) => {
      inFlight.count++;
      let settled = false;
      const ack = msg.ack;
      msg.ack = () => {
        if (!settled) { settled = true; inFlight.count--; }
        return ack.call(msg);
      };
      return onMessage(msg);
    }, options);
  }

  close(): Promise<void> { return this.inner.close(); }
}
