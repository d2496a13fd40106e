import type { Envelope } from './envelope.js';
import { OptionsInvalidError, TransportUnknownError, type SignalbusError } from './errors.js';
import { splitServerList } from './server-list.js';

/** What a transport can do; the Bus and the conformance suite decide behaviour from these. */
export interface TransportCapabilities {
  /** Native request/reply (`request()` is implemented). */
  requestReply: boolean;
  /** Subscribers sharing a group name share the messages (each message to one member). */
  queueGroups: boolean;
  /** Messages published while a grouped subscriber is away are kept for it. */
  durable: boolean;
  /** Messages from one publisher on one subject arrive in publish order. */
  ordered: boolean;
  /** Patterns with `*` and `>` are supported. */
  wildcards: boolean;
  /** `nak(delayMs)` asks the transport to redeliver later (retries survive a restart). */
  redelivery: boolean;
  /** Carries bytes: the Bus encodes `data` before publishing and decodes it on delivery. */
  encodesData: boolean;
  /** Largest message the transport accepts, in bytes (headers and body). */
  maxMessageBytes: number;
  /**
   * Messages are kept in an ordered log with positions: `subscribe` with `startAfter` replays
   * from a stored position and every delivery carries its `position` (JetStream: the stream
   * sequence). What scale-out checkpoints are made of; absent = false.
   */
  replay?: boolean;
  /**
   * Settled deliveries can be held unacknowledged until the subscription's `commit()`
   * (`TransportSubscribeOptions.holdAcks`), so the broker redelivers what a consumer that died
   * before its checkpoint had handled; absent = false.
   */
  holdAcks?: boolean;
}

/** A message as a transport hands it to the Bus. Settle it exactly once. */
export interface InboundMessage {
  /** The concrete subject it was published on. */
  subject: string;
  /** Its envelope; `data` is a Uint8Array while still encoded. */
  envelope: Envelope;
  /** 1 on first delivery; counts redeliveries where the transport knows them. */
  attempt: number;
  /**
   * Its position in the transport's log (JetStream: the stream sequence), where
   * `capabilities.replay`. Positions grow in delivery order within one subscription.
   */
  position?: number;
  /**
   * Set when the payload could not be read as a CloudEvent (a device's JSON, a foreign
   * publisher's bytes, a malformed header block): `envelope` was made up around the payload, its
   * bytes in `data`, and this says why. Transports never drop or refuse such a message themselves:
   * the Bus hands it to a `raw` subscription and dead-letters it, with this error's code, on any
   * other (one behaviour on every transport).
   */
  notCloudEvent?: SignalbusError;
  /** Done with it: the transport may forget it. */
  ack(): void | Promise<void>;
  /** Deliver it again after `delayMs` (only where `capabilities.redelivery`). */
  nak?(delayMs: number): void | Promise<void>;
  /**
   * Still being worked on: do not redeliver it yet (JetStream: resets the ack wait). The Bus calls
   * it once a second while it holds a message through a retry backoff on an ordered subscription,
   * for that message and the messages of its key waiting behind it; a transport's redelivery
   * deadline must be comfortably longer than that second.
   */
  inProgress?(): void | Promise<void>;
  /** Never deliver it again (after it was dead-lettered); defaults to ack. */
  term?(): void | Promise<void>;
  /** Present on requests: sends `reply` to the requester. */
  reply?(reply: Envelope): Promise<void>;
}

/**
 * Called for each message. The returned promise resolves when the Bus has room for the next one;
 * transports that can hold messages back (in-process queues, paused streams) await it, and read no
 * further message meanwhile. One that cannot (core NATS) passes its deliveries through a
 * `BoundedIntake` (core/bounded-intake.ts), which drops what arrives while the promise is pending
 * and reports it through `TransportSubscribeOptions.onDropped`.
 */
export type InboundHandler = (message: InboundMessage) => void | Promise<void>;

export interface TransportSubscribeOptions {
  /** Consumer group: members share messages; different groups each get all of them. */
  group?: string;
  /** Most messages handed over and not yet settled (broker prefetch / max ack pending). */
  maxInFlight: number;
  /**
   * Replay: deliver the stored messages after this position, in order, then new ones (0 = the
   * whole log). Only where `capabilities.replay`; such a subscription takes no `group` (the
   * position is its owner's, kept in a checkpoint) and leaves nothing behind on the broker
   * when it ends.
   */
  startAfter?: number;
  /**
   * When > 0 (only where `capabilities.holdAcks`): settling a message (ack, term) does not ack it
   * to the broker; the ack is held until `commit()`, so whatever the consumer built from it is
   * saved first. Up to this many held deliveries are allowed besides `maxInFlight`, so held
   * messages do not stall intake (AMQP: prefetch = maxInFlight + holdAcks). Requeues behave as
   * without it; a retry (`nak`) still parks its copy at once, and the ack of the original is held
   * like any other, so a consumer that dies before committing gets both the original and the copy
   * back: the dedupe middleware absorbs the second. Drain and unsubscribe ack nothing held: call
   * `commit()` first to keep it, else the broker redelivers it.
   */
  holdAcks?: number;
  /**
   * Called once per interruption, synchronously when the transport notices, when the consumer is
   * lost while the subscription is active (channel closed, connection lost, cancelled by the
   * broker): its unacked deliveries (held ones included) go back to the broker, so state built
   * from uncommitted messages is suspect. Always called before any delivery arrives on the
   * replacement consumer; never on drain or unsubscribe.
   */
  onInterrupted?: () => void;
  /**
   * Given by the Bus: its bound (`maxInFlight` above, which for a transport without redelivery is
   * the subscription's maxInFlight + maxPending) is to be kept. A transport that can hold its
   * sender back (stop reading a socket, a broker's prefetch) does so while `onMessage`'s promise is
   * pending and never calls this. One that cannot drops, newest first, what arrives while it is
   * pending, and calls this once per dropped message with its subject (the Bus counts and logs).
   * Absent (a caller that bounds its own queue: the hub, the gateway's streams), every message is
   * handed over.
   */
  onDropped?: (subject: string) => void;
}

export interface TransportSubscription {
  readonly pattern: string;
  /** Stops new deliveries and waits until delivered messages are settled (held acks stay unsent). */
  drain(): Promise<void>;
  /** Stops at once; unsettled messages go back to the broker where it keeps them (held ones too). */
  unsubscribe(): Promise<void>;
  /**
   * With `holdAcks`: acks every delivery settled so far and still held. False when some held
   * settled deliveries could not be acked because the channel they came from is gone (the
   * subscription was interrupted since they were delivered, or it ended): the broker redelivers
   * them. True otherwise, and always without `holdAcks`.
   */
  commit?(): boolean;
}

/**
 * The adapter contract. A transport moves envelopes; retries, validation and metrics live
 * above it, in the Bus. Every method may be called concurrently.
 */
export interface Transport {
  /** Short name used in logs and metric fields (`memory`, `nats`, …). */
  readonly name: string;
  readonly capabilities: TransportCapabilities;
  /** Connects (idempotent). Rejects with TransportConnectError / TransportAuthError. */
  connect(): Promise<void>;
  /** Resolves once the transport has taken the message (and, in durable modes, the broker confirmed it). */
  publish(subject: string, envelope: Envelope): Promise<void>;
  /**
   * Resolves only once the subscription is live: a message published after that (from anywhere)
   * reaches it. The conformance suite checks this with no wait between the two.
   */
  subscribe(pattern: string, onMessage: InboundHandler, options: TransportSubscribeOptions): Promise<TransportSubscription>;
  /** Sends a request and resolves with the reply; RequestTimeoutError / NoRespondersError otherwise. */
  request?(subject: string, envelope: Envelope, options: { timeoutMs: number }): Promise<Envelope>;
  /** Drains subscriptions, flushes publishes and disconnects. Idempotent. */
  close(): Promise<void>;
}

/** Builds a transport from a parsed URL; query parameters are its options. */
export type TransportFactory = (url: URL) => Transport | Promise<Transport>;

const factories = new Map<string, TransportFactory>();

/**
 * Makes `transportFromUrl` understand a URL scheme. Transports register themselves; core knows none.
 * @example registerTransport('redis', (url) => new RedisStreamsTransport(url))
 */
export function registerTransport(scheme: string, factory: TransportFactory): void {
  factories.set(scheme.replace(/:$/, '').toLowerCase(), factory);
}

export function registeredSchemes(): string[] {
  return [...factories.keys()].sort();
}

/**
 * A transport for a URL (`nats://…`, `mqtt://…`, `amqp://…`, `ws://…`, `http://…`, `memory://`). The
 * authority may list several servers, `nats://u:p@h1:4222,h2:4222,h3:4222?…` (see splitServerList).
 * Import `signalbus/transports` once to register the built-in ones.
 */
export async function transportFromUrl(url: string): Promise<Transport> {
  // A server list (`nats://h1:4222,h2:4222`) reaches the factory as the first host plus `servers=h2:4222`.
  const parsed = splitServerList(url).url;
  const scheme = parsed.protocol.replace(/:$/, '');
  const factory = factories.get(scheme);
  if (!factory) {
    // Core registers nothing itself (it imports no transport); say where the built-in ones come from.
    const known = registeredSchemes();
    const hint = "import 'signalbus/transports' once to register the built-in ones (memory, http, ws, mqtt, amqp, nats), or registerTransport() your own";
    throw new TransportUnknownError(`no transport for scheme "${scheme}:" (${known.length ? `known: ${known.join(', ')}` : 'no transports are registered'}); ${hint}`,
      { details: { url, scheme, known, hint } });
  }
  return factory(parsed);
}

/** Reads a numeric query parameter, rejecting junk with an error that names it. */
export function numberParam(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new OptionsInvalidError(`URL parameter "${name}" must be a number, got "${raw}"`, { details: { field: name } });
  return n;
}

/** Reads a boolean query parameter (`1`/`true`/`0`/`false`). */
export function booleanParam(url: URL, name: string, fallback: boolean): boolean {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new OptionsInvalidError(`URL parameter "${name}" must be true/false/1/0, got "${raw}"`, { details: { field: name } });
}
