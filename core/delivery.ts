import type { Envelope } from './envelope.js';
import type { SignalbusError } from './errors.js';
import type { InboundMessage } from './transport.js';

/**
 * An inbound message with nothing left to settle: the transport forgot it when it handed it over
 * (memory, MQTT, the gateway's HTTP relay), so `ack` does nothing.
 *
 * A class, where an object literal would do, for the garbage collector: V8 watches each literal
 * in the code for how many of its objects outlive a young-generation collection, and once a burst
 * keeps many alive (a subscription's queue filling up at start), it allocates every later one
 * straight into the old generation, where only a full collection frees it. After a 20k-publish
 * burst on the memory transport, `--trace-pretenuring` showed the literal these deliveries were
 * made from tenured; with the scheduler's queue entries (literals too, then: core/ordering.ts)
 * that left about one process in two at ~750k msg/s against 1.1M (bench/RESULTS.md, stop 30).
 * Objects made by `new` are not pretenured.
 *
 * @example transport handler: onMessage(new Delivery(subject, envelope))
 */
export class Delivery implements InboundMessage {
  readonly attempt = 1;
  /** Present on requests: sends the reply to the requester. */
  readonly reply: ((reply: Envelope) => Promise<void>) | undefined;
  /** Set when the payload was not a CloudEvent (see InboundMessage.notCloudEvent). */
  readonly notCloudEvent: SignalbusError | undefined;

  constructor(public subject: string, readonly envelope: Envelope, reply?: (reply: Envelope) => Promise<void>, notCloudEvent?: SignalbusError) {
    this.reply = reply;
    this.notCloudEvent = notCloudEvent;
  }

  ack(): void {}
}
