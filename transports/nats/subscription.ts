/**
 * What a subscription hands the Bus: decoding a delivered message (from the bytes nats.js already
 * holds), the two kinds of inbound message (core: nothing to settle; JetStream: ack / nak / term on
 * the server) and the count of unsettled ones that `drain()` waits for.
 */
import type { JsMsg, Msg } from 'nats';
import type { Envelope, EnvelopeInvalidError, InboundMessage } from '../../core/index.js';
import { fromNatsHeaderBytes, fromNatsMessage, type DecodedNatsMessage, type HeaderShapes, type StoredAt } from './binding.js';

/** Where a reply to a request goes: the transport that received it. */
export interface ReplySender {
  /** `structured`: the request came in structured mode, and so goes its reply. */
  sendReply(subject: string, reply: Envelope, structured: boolean): Promise<void>;
}

/** nats.js' MsgImpl internals (2.x): the raw bytes and where the header block ends. */
interface RawMsg { _msg?: { hdr: number; reply?: Uint8Array }; _rdata?: Uint8Array; msg?: RawMsg }

/**
 * A core delivery's reply subject, or undefined. nats.js' `reply` getter runs a TextDecoder per
 * message, even for one without a reply subject (most events); its parsed protocol arguments
 * say so first. The getter where they are not there.
 */
export function replyOf(msg: Msg): string | undefined {
  const args = (msg as unknown as RawMsg)._msg;
  if (args !== undefined && 'reply' in args && args.reply === undefined) return undefined;
  return msg.reply || undefined;
}

/**
 * Decodes a delivered message. Reads the header block bytes nats.js already holds instead of
 * letting it build its header map (a regex and canonicalisation per header), and refuses a block
 * too large or not UTF-8 before decoding it; falls back to the
 * public API if the internals ever change. `storedAt` (JetStream) makes the id of a payload that
 * is not a CloudEvent deterministic; `shapes` is the subscription's (fromNatsHeaderText).
 */
export function decodeDelivery(msg: Msg | JsMsg, storedAt?: StoredAt, subject = msg.subject, shapes?: HeaderShapes): DecodedNatsMessage {
  const inner = (msg as unknown as RawMsg).msg ?? (msg as unknown as RawMsg);
  const hdr = inner._msg?.hdr;
  const bytes = inner._rdata;
  if (hdr !== undefined && bytes) return fromNatsHeaderBytes(subject, bytes, hdr, msg.data, storedAt, shapes);
  // Public API: without headers (`msg.headers` undefined) the body may still hold a structured-mode event.
  return fromNatsMessage(subject, msg.headers, msg.data, storedAt);
}
/** A core NATS delivery: nothing to settle; a reply subject makes it a request. */
export class CoreInbound implements InboundMessage {
  readonly attempt = 1;
  readonly reply?: (reply: Envelope) => Promise<void>;
  readonly notCloudEvent?: EnvelopeInvalidError;
  readonly envelope: Envelope;
  private readonly replyTo: string | undefined;
  private readonly structured: boolean;
  constructor(readonly subject: string, decoded: DecodedNatsMessage, private readonly transport: ReplySender, replyTo: string | undefined) {
    this.envelope = decoded.envelope;
    if (decoded.notCloudEvent) this.notCloudEvent = decoded.notCloudEvent;
    this.replyTo = replyTo;
    this.structured = decoded.structured === true;
    if (replyTo) this.reply = this.sendReply;
  }
  ack(): void {}
  private sendReply(reply: Envelope): Promise<void> { return this.transport.sendReply(this.replyTo!, reply, this.structured); }
}

/** A JetStream delivery: settled with ack / nak(delay) / term on the server; `position` = stream sequence. */
export class JetStreamInbound implements InboundMessage {
  readonly attempt: number;
  readonly position: number;
  readonly reply?: (reply: Envelope) => Promise<void>;
  readonly notCloudEvent?: EnvelopeInvalidError;
  readonly envelope: Envelope;
  private readonly replyTo: string | undefined;
  private readonly structured: boolean;
  constructor(readonly subject: string, decoded: DecodedNatsMessage, private readonly msg: JsMsg,
    private readonly tracker: InFlight, private readonly transport: ReplySender) {
    this.envelope = decoded.envelope;
    if (decoded.notCloudEvent) this.notCloudEvent = decoded.notCloudEvent;
    this.replyTo = decoded.replyTo;
    this.structured = decoded.structured === true;
    this.attempt = msg.info.redeliveryCount;
    this.position = msg.seq;
    if (this.replyTo) this.reply = this.sendReply;
  }
  ack(): void { this.msg.ack(); this.tracker.settled(); }
  nak(delayMs: number): void { this.msg.nak(delayMs); this.tracker.settled(); }
  /** Resets the ack wait: the Bus holds the message through an ordered retry's backoff. */
  inProgress(): void { this.msg.working(); }
  term(): void { this.msg.term(); this.tracker.settled(); }
  private sendReply(reply: Envelope): Promise<void> { return this.transport.sendReply(this.replyTo!, reply, this.structured); }
}

/** Counts messages handed to the Bus and not yet settled, so drain can wait for them. */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];
  started(): void { this.count++; }
  settled(): void {
    if (--this.count === 0 && this.waiters.length > 0) { const w = this.waiters; this.waiters = []; for (const f of w) f(); }
  }
  idle(): Promise<void> { return this.count <= 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r)); }
}
