/**
 * The memory "binding": there is no wire. The envelope object itself travels from publisher to
 * subscribers, without serialisation and without a copy (so handlers must treat it as read-only,
 * as they must on every transport). What remains is the in-process delivery a subscriber gets,
 * built here so the transport reads like the others. Pure: no I/O.
 *
 * @example toMemoryMessage('a.b', envelope) // a Delivery: { subject: 'a.b', envelope, attempt: 1, ack() {} }
 */
import { Delivery, type Envelope, type InboundMessage } from '../../core/index.js';

/**
 * The delivery of `envelope` published on `subject`; `reply` makes it a request. Nothing to
 * settle: a message lives only as long as the publish that carries it.
 */
export function toMemoryMessage(subject: string, envelope: Envelope, reply?: (reply: Envelope) => Promise<void>): InboundMessage {
  return new Delivery(subject, envelope, reply);
}

/**
 * The envelope a delivery carries: the very object that was published.
 * @example fromMemoryMessage(toMemoryMessage('a.b', envelope)) === envelope // true
 */
export function fromMemoryMessage(message: InboundMessage): Envelope {
  return message.envelope;
}
