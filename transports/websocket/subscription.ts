/**
 * The client side of a subscription: what the transport remembers of it (re-sent to the hub after
 * every reconnect) and the deliveries it hands to the Bus, which ack to the hub when settled.
 */
import { BoundedIntake } from '../../core/bounded-intake.js';
import type { Envelope } from '../../core/envelope.js';
import type { InboundHandler, InboundMessage, TransportSubscribeOptions } from '../../core/transport.js';
import type { WebSocketTransport } from './websocket-transport.js';

/**
 * One subscription as the hub knows it (`sid`), with its `inflight` window. The hub sends no more
 * than the window unacked, and the window is the Bus' bound, so the Bus never waits for room from
 * a hub that keeps to it. `intake` guards against one that does not: while the Bus waits, it lets
 * up to another window through (what a reconnect re-sends while the Bus still holds the old
 * connection's deliveries) and drops the rest.
 */
export class ClientSubscription {
  inflight = 0;
  onIdle?: () => void;
  /** Settles subscribe(): the hub confirmed the subscription, refused it, or the transport closed first. */
  live?: { resolve(): void; reject(err: Error): void };
  readonly maxInFlight: number;
  readonly intake: BoundedIntake;
  constructor(readonly sid: string, readonly pattern: string, readonly group: string | undefined, options: TransportSubscribeOptions,
    onMessage: InboundHandler) {
    this.maxInFlight = options.maxInFlight;
    this.intake = new BoundedIntake(onMessage, options, options.maxInFlight);
  }
}

/** A delivery handed to the Bus; settling it acks it to the hub (on the connection it came on). */
export class Delivery implements InboundMessage {
  readonly attempt = 1;
  settled = false;
  replied = false;
  constructor(readonly transport: WebSocketTransport, readonly sub: ClientSubscription, readonly epoch: number,
    readonly id: number | undefined, readonly subject: string, readonly envelope: Envelope) {}
  ack(): void { this.transport._settle(this); }
  term(): void { this.transport._settle(this); }
}

export class RequestDelivery extends Delivery {
  reply(reply: Envelope): Promise<void> { return this.transport._reply(this, reply); }
}
