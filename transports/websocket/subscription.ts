/**
 * The client side of a subscription: what the transport remembers of it (re-sent to the hub after
 * every reconnect) and the deliveries it hands to the Bus, which ack to the hub when settled.
 */
import type { Envelope } from '../../core/envelope.js';
import type { InboundHandler, InboundMessage } from '../../core/transport.js';
import type { WebSocketTransport } from './websocket-transport.js';

/** One subscription as the hub knows it (`sid`), with its `inflight` window. */
export class ClientSubscription {
  inflight = 0;
  onIdle?: () => void;
  /** Settles subscribe(): the hub confirmed the subscription, refused it, or the transport closed first. */
  live?: { resolve(): void; reject(err: Error): void };
  constructor(readonly sid: string, readonly pattern: string, readonly group: string | undefined, readonly maxInFlight: number,
    readonly onMessage: InboundHandler) {}
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
