/**
 * A replay subscription (`subscribe(…, { startAfter })` in JetStream mode): an ephemeral consumer
 * reading the stream from a position, in stream order, that outlives the consumer itself. When the
 * consumer is lost (the node leading it died, the server deleted it, heartbeats stop and the
 * server no longer knows it), a new one is made starting after the lowest position the Bus still
 * owes a settlement for, and its deliveries are sorted against what was already handed over:
 *
 * - a position beyond the last one handed over is new: handed to the Bus;
 * - a position the Bus still holds is not handed again: its settlement goes to the newest copy;
 * - a position the Bus nak'd is handed again (a redelivery, same position, attempt + 1);
 * - a position the Bus already acked or termed is acked silently.
 *
 * A gap in the consumer's delivery sequence (a delivery lost on the way) also makes a new consumer,
 * so a lost delivery comes back in order rather than after ackWait behind later positions.
 * So the Bus sees every position once, in increasing order, except the redeliveries it asked for.
 */
import { ConsumerEvents, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from 'nats';
import type { Envelope, EnvelopeInvalidError, InboundHandler, InboundMessage } from '../../core/index.js';
import { HeaderShapes } from './binding.js';
import { fromNatsError } from './errors.js';
import { ensureConsumer, ephemeralName, replayConsumerConfig } from './jetstream.js';
import type { ResolvedNatsOptions } from './options.js';
import { decodeDelivery, InFlight, type ReplySender } from './subscription.js';

type JsOptions = NonNullable<ResolvedNatsOptions['jetstream']>;

/** Pull expiry of a replay consumer, ms: heartbeats come every half of it, so a lost consumer shows within about this long. */
const PULL_EXPIRES_MS = 5000;
/** Backoff between attempts to make a new consumer while the cluster has none to offer, ms. */
const RECREATE_DELAYS_MS = [100, 250, 500, 1000, 2000];

const noop = () => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a nak'd position is owed: redelivery not before `notBefore`, as attempt `attempt + 1`. */
interface Owed { notBefore: number; attempt: number }

export interface ReplaySettings {
  jsm: JetStreamManager;
  js: JetStreamClient;
  options: JsOptions;
  pattern: string;
  maxInFlight: number;
  startAfter: number;
  /** Replicas of the consumer (the stream's). */
  replicas: number;
  onMessage: InboundHandler;
  transport: ReplySender;
}

export class ReplaySubscription {
  /** Highest position handed to the Bus. */
  private lastHanded: number;
  /** Positions handed over and not yet settled. */
  private readonly held = new Map<number, ReplayInbound>();
  /** Positions nak'd by the Bus and not yet redelivered. */
  private readonly owed = new Map<number, Owed>();
  private readonly tracker = new InFlight();
  /** @internal What the header reader learnt of this subscription's blocks. */
  readonly shapes = new HeaderShapes();
  private messages?: ConsumerMessages;
  private name = '';
  /** Bumped for every consumer: deliveries of an older one are ignored. */
  private generation = 0;
  private recreating?: Promise<void>;
  private watchdog?: ReturnType<typeof setTimeout>;
  /** Deliveries seen (any consumer), so the watchdog knows whether the consumer is alive. */
  private deliveries = 0;
  /** Delivery sequence of the current consumer's last delivery. */
  private deliverySequence = 0;
  private stopped = false;
  /** Consumers made (1 + recreations), for tests and logs. */
  consumersMade = 0;

  constructor(private readonly s: ReplaySettings) {
    this.lastHanded = s.startAfter;
  }

  /** Makes the first consumer and starts consuming; rejects when that fails. */
  async start(): Promise<void> {
    await this.open(this.s.startAfter);
    this.armWatchdog(-1);
  }

  /**
   * nats.js reports a lost consumer only in some cases: after a reconnect it retries the consumer
   * lookup forever when the lookup times out (an R1 consumer on a dead node), silently. So every
   * PULL_EXPIRES_MS without a delivery the consumer is asked for; no answer = lost.
   */
  private armWatchdog(seen: number): void {
    this.watchdog = setTimeout(() => {
      void (async () => {
        const deliveries = this.deliveries;
        if (this.stopped) return;
        const name = this.name;
        if (deliveries === seen && !this.recreating && name && (await this.consumerStuck(name)) && this.name === name && !this.stopped) {
          await this.recreate();
        }
        if (!this.stopped) this.armWatchdog(this.deliveries);
      })();
    }, PULL_EXPIRES_MS);
  }

  private async open(startAfter: number): Promise<void> {
    const { jsm, js, options, pattern, maxInFlight, replicas } = this.s;
    const name = ephemeralName();
    await ensureConsumer(jsm, options.stream, replayConsumerConfig(options, pattern, name, maxInFlight, startAfter, replicas));
    let messages: ConsumerMessages;
    try {
      const consumer = await js.consumers.get(options.stream, name);
      const generation = ++this.generation;
      this.deliverySequence = 0;
      messages = await consumer.consume({
        max_messages: maxInFlight, expires: PULL_EXPIRES_MS,
        callback: (m) => this.deliver(m, generation),
      });
    } catch (err) {
      await jsm.consumers.delete(options.stream, name).catch(noop);
      throw fromNatsError(err, `consuming ${pattern} from stream ${options.stream}`);
    }
    this.name = name;
    this.messages = messages;
    this.consumersMade++;
    void this.watch(messages, name);
  }

  /** Recreates the consumer when nats.js reports it gone, or stops consuming on its own. */
  private async watch(messages: ConsumerMessages, name: string): Promise<void> {
    const ended = messages.closed().then(() => 'closed' as const, () => 'closed' as const);
    const statuses = (async () => {
      for await (const s of await messages.status()) {
        if (this.stopped || this.name !== name) return;
        if (s.type === ConsumerEvents.ConsumerDeleted || s.type === ConsumerEvents.ConsumerNotFound) return 'gone' as const;
        // nats.js re-pulls after missed heartbeats; the consumer may no longer exist, or be unreachable for good (R1 on a dead node).
        if (s.type === ConsumerEvents.HeartbeatsMissed && !(await this.consumerAnswers(name))) return 'gone' as const;
      }
      return 'closed' as const;
    })();
    const why = await Promise.race([ended, statuses]);
    if (this.stopped || this.name !== name || why === undefined) return;
    await this.recreate();
  }

  /**
   * Whether a consumer that delivered nothing for a while is lost: it does not answer, or it has
   * messages to deliver (pending, or out and unacked) while the Bus holds none of them. The latter
   * is a pull loop nats.js lost in a failover, or acks that went to a node that died: the
   * consumer then waits for its max-ack-pending to clear, which only ackWait would do.
   */
  private async consumerStuck(name: string): Promise<boolean> {
    try {
      const info = await this.s.jsm.consumers.info(this.s.options.stream, name);
      return this.held.size === 0 && (info.num_pending > 0 || info.num_ack_pending > 0);
    } catch {
      return true;
    }
  }

  private async consumerAnswers(name: string): Promise<boolean> {
    try { await this.s.jsm.consumers.info(this.s.options.stream, name); return true; } catch { return false; }
  }

  /** Closes the lost consumer and makes a new one after the lowest position still owed, until it works or the subscription stops. */
  private recreate(): Promise<void> {
    this.recreating ??= (async () => {
      const old = this.messages;
      const oldName = this.name;
      this.name = '';
      this.generation++;
      await old?.close().catch(noop);
      // Best effort: where its node is gone this cannot answer; the inactive threshold removes it later.
      void this.s.jsm.consumers.delete(this.s.options.stream, oldName).catch(noop);
      for (let attempt = 0; !this.stopped; attempt++) {
        try { await this.open(this.resumeAfter()); return; } catch {
          await sleep(RECREATE_DELAYS_MS[Math.min(attempt, RECREATE_DELAYS_MS.length - 1)]!);
        }
      }
    })().finally(() => { this.recreating = undefined; });
    return this.recreating;
  }

  /** The position a new consumer starts after: before everything the Bus still holds or is owed. */
  private resumeAfter(): number {
    let after = this.lastHanded;
    for (const p of this.held.keys()) if (p - 1 < after) after = p - 1;
    for (const p of this.owed.keys()) if (p - 1 < after) after = p - 1;
    return after;
  }

  private deliver(m: JsMsg, generation: number): void {
    // A late delivery of a consumer already replaced: the new one delivers it again.
    if (generation !== this.generation || this.stopped) return;
    this.deliveries++;
    // Every delivery of a consumer, redeliveries too, takes the next delivery sequence from 1. A
    // jump means a delivery was lost on the way (a dropped connection, a leader change): it would
    // come back only after ackWait, behind later positions. Start over after the last position
    // handed over instead, which keeps stream order.
    if (m.info.deliverySequence !== ++this.deliverySequence) {
      void this.recreate();
      return;
    }
    const position = m.seq;
    if (position > this.lastHanded) {
      this.lastHanded = position;
      this.hand(m, position, m.info.redeliveryCount);
      return;
    }
    const held = this.held.get(position);
    if (held) { held.msg = m; return; }
    const owed = this.owed.get(position);
    if (owed) {
      const wait = owed.notBefore - Date.now();
      // A new consumer redelivers at once; keep the delay the Bus asked for.
      if (wait > 50) { m.nak(wait); return; }
      this.owed.delete(position);
      this.hand(m, position, Math.max(m.info.redeliveryCount, owed.attempt + 1));
      return;
    }
    // Settled already, delivered again by a consumer that started before it.
    m.ack();
  }

  private hand(m: JsMsg, position: number, attempt: number): void {
    const inbound = new ReplayInbound(this, m, position, attempt, this.s.transport);
    this.held.set(position, inbound);
    this.tracker.started();
    void this.s.onMessage(inbound);
  }

  /** @internal ReplayInbound settles through here. */
  settled(inbound: ReplayInbound, nakDelayMs?: number): void {
    if (this.held.get(inbound.position) !== inbound) return; // settled twice
    this.held.delete(inbound.position);
    if (nakDelayMs !== undefined) this.owed.set(inbound.position, { notBefore: Date.now() + nakDelayMs, attempt: inbound.attempt });
    this.tracker.settled();
  }

  /** Stops consuming; `drain` waits (up to ackWait) for handed-over messages to be settled. Deletes the consumer. */
  async stop(drain: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.watchdog);
    await this.recreating?.catch(noop);
    await this.messages?.close().catch(noop);
    if (drain) await Promise.race([this.tracker.idle(), sleep(this.s.options.ackWaitMs)]);
    if (this.name) await this.s.jsm.consumers.delete(this.s.options.stream, this.name).catch(noop);
  }
}

/** A replay delivery: settled on the newest copy of its position the subscription has. */
export class ReplayInbound implements InboundMessage {
  readonly subject: string;
  readonly envelope: Envelope;
  readonly notCloudEvent?: EnvelopeInvalidError;
  readonly reply?: (reply: Envelope) => Promise<void>;
  private readonly replyTo: string | undefined;
  private readonly structured: boolean;
  constructor(private readonly sub: ReplaySubscription, public msg: JsMsg, readonly position: number, readonly attempt: number,
    private readonly transport: ReplySender) {
    this.subject = msg.subject;
    const decoded = decodeDelivery(msg, msg.info, msg.subject, sub.shapes);
    this.envelope = decoded.envelope;
    if (decoded.notCloudEvent) this.notCloudEvent = decoded.notCloudEvent;
    this.replyTo = decoded.replyTo;
    this.structured = decoded.structured === true;
    if (this.replyTo) this.reply = this.sendReply;
  }
  ack(): void { this.msg.ack(); this.sub.settled(this); }
  nak(delayMs: number): void { this.msg.nak(delayMs); this.sub.settled(this, delayMs); }
  /** Resets the ack wait: the Bus holds the message through an ordered retry's backoff. */
  inProgress(): void { this.msg.working(); }
  term(): void { this.msg.term(); this.sub.settled(this); }
  private sendReply(reply: Envelope): Promise<void> { return this.transport.sendReply(this.replyTo!, reply, this.structured); }
}
