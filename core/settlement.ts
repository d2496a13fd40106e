/**
 * What happens to a delivered message: decode, contracts, the handler through its middleware,
 * then ack, reply, retry or dead-letter (the contract written on `Handler`).
 */
import { holdThroughBackoff, reportInProgress, sleep, sleepUntilStopped } from './abortable-sleep.js';
import type { CodecRegistry } from './codec.js';
import type { ContractHooks } from './contract-hooks.js';
import type { Envelope } from './envelope.js';
import {
  CodecDecodeError, ContractInvalidError, ContractUnknownError, ContractVersionError, EnvelopeInvalidError, HeaderInvalidError,
  MessageTooLargeError, SignalbusError, SubjectInvalidError, errorCode, errorMessage,
} from './errors.js';
import type { HeaderLimits } from './headers.js';
import { deadLetterable, inboundProblem, publishedEnvelope, publishedUnder, withValidTrace } from './inbound-envelope.js';
import type { Logger } from './logger.js';
import { MessageContext, type ContextServices } from './message-context.js';
import type { MiddlewareContext } from './middleware.js';
import { deadLetterCopy, errorReplyEnvelope, loggable, replyEnvelope, truncatedDeadLetter } from './outbound-envelope.js';
import { retryDelay, type RetryPolicy } from './retry.js';
import type { StopNotice } from './stop-notice.js';
import type { SubjectCounters, SubjectTable } from './subject-table.js';
import { deadLetterSubject } from './subjects.js';
import type { TenantSubjects } from './tenant-subjects.js';
import type { Tracing } from './tracing.js';
import type { InboundMessage, Transport } from './transport.js';

/** What a reply's type adds to its request's: `.reply`. */
const REPLY_SUFFIX_ROOM = '.reply'.length;

/** Logged when settling a message failed. */
export const UNSETTLED_MESSAGE = 'a message could not be settled (its ack, nak, dead letter or error reply failed, usually because the transport lost its connection): '
  + 'a durable transport delivers it again, an at-most-once one has lost it; check the transport\'s connection';

/** What handling one subscription's messages needs, made once when it subscribes. */
export interface Handling {
  /** The handler through the middleware: what it returned (a request's reply data), or a promise of that. */
  chain: (ctx: MiddlewareContext) => unknown;
  retry: RetryPolicy;
  raw: boolean;
  accept: string | undefined;
  transport: Transport;
  /**
   * A failed try is handed back to the broker (`nak`) for a later redelivery, instead of being
   * retried here: the transport redelivers and the subscription is not ordered.
   */
  brokerRetries: boolean;
  /** The subscription's stop: when it is unsubscribed or the Bus' stop runs out of time. */
  stop: StopNotice;
  /** On an ordered subscription: calls `fn` for each message of `key` waiting behind the one handled. */
  forEachWaiting: ((key: string, fn: (msg: InboundMessage) => void) => void) | undefined;
  /** Salt of the ids derived for what the handler publishes (`SubscribeOptions.deriveIds`); undefined = random ids. */
  idSalt: string | undefined;
  /** The subscription's pattern and consumer group, for its spans. */
  pattern: string;
  group: string | undefined;
}

/** What settling needs from the Bus' options. */
export interface SettlementSettings {
  source: string;
  /** `app@container`, for `dlqservice`. */
  service: string;
  codecs: CodecRegistry;
  contracts: ContractHooks | undefined;
  logger: Logger;
  deadLetterPrefix: string;
  /** Tenant subject spaces deliveries must match (`BusOptions.tenantSubjects`); undefined = not checked. */
  tenantSubjects: TenantSubjects | undefined;
  /** Inbound envelopes are held to these (core/inbound-envelope.ts). */
  headerLimits: HeaderLimits;
}

/**
 * The lane an ordered subscription keeps a message in: its `partitionkey`, else its subject (a
 * device's raw payloads carry no key, but their subject names the device).
 */
export function orderingKey(msg: InboundMessage): string {
  return msg.envelope.partitionkey ?? msg.subject;
}

/**
 * How often, past `maxAttempts`, a message whose dead letter failed for a passing reason is handed
 * back to a transport that redelivers before it is settled without one (and logged whole).
 */
export const DEAD_LETTER_HANDBACKS = 8;

/** Errors that will fail the same way on every retry: dead-letter at once. */
function isPermanent(err: unknown): boolean {
  return err instanceof ContractInvalidError || err instanceof ContractVersionError || err instanceof ContractUnknownError
    || err instanceof CodecDecodeError || err instanceof EnvelopeInvalidError || err instanceof HeaderInvalidError
    || (err instanceof SignalbusError && (err as { permanent?: boolean }).permanent === true);
}

/** A publish that fails the same way however often it is tried (too large, refused as invalid). */
function neverSends(err: unknown): boolean {
  return err instanceof MessageTooLargeError || err instanceof SubjectInvalidError || isPermanent(err);
}

/** A copy of `envelope` carrying `tenant` (none when undefined). */
function withTenant(envelope: Envelope, tenant: string | undefined): Envelope {
  const copy = { ...envelope };
  if (tenant === undefined) delete copy.tenant; else copy.tenant = tenant;
  return copy;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== undefined && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Runs delivered messages through their handling and settles each exactly once. */
export class Settlement {
  /** Set when the Bus starts with a tracer (core/tracing.ts); undefined = no spans. */
  tracing: Tracing | undefined;
  private readonly logger: Logger;

  constructor(private readonly settings: SettlementSettings, private readonly subjects: SubjectTable,
    private readonly send: (subject: string, envelope: Envelope) => Promise<unknown>, private readonly services: ContextServices) {
    this.logger = settings.logger;
  }

  /**
   * One message through decode, contracts, middleware and handler, then settlement. When all of
   * it finishes synchronously (a handler that returned no promise, a transport that acks without
   * one), so does this: no promise is made and nothing waits for a microtask.
   */
  process(msg: InboundMessage, h: Handling): Promise<void> | void {
    const tracing = this.tracing;
    return tracing === undefined ? this.handle(msg, h) : this.handleTraced(tracing, msg, h);
  }

  /** `handle` inside the delivery's process span, which ends once the message is settled. */
  private handleTraced(tracing: Tracing, msg: InboundMessage, h: Handling): Promise<void> | void {
    tracing.startProcess(msg, h.transport.name, h.pattern, h.group);
    let handled: Promise<void> | void;
    try {
      handled = this.handle(msg, h);
    } catch (err) {
      tracing.endProcess(msg, err);
      throw err;
    }
    if (handled === undefined) { tracing.endProcess(msg); return; }
    return handled.then(() => tracing.endProcess(msg), (err: unknown) => { tracing.endProcess(msg, err); throw err; });
  }

  private handle(msg: InboundMessage, h: Handling): Promise<void> | void {
    const m = this.subjects.entry(msg.subject);
    m.delivered.add();
    let envelope = msg.envelope;
    // `replyError` counts the message invalid itself; only the dead-letter branches count here.
    // The inbound rules come first and hold for raw subscriptions too: no handler sees a refused envelope.
    // (An envelope this process' Buses published under the same limits passed them on the way out.)
    const limits = this.settings.headerLimits;
    if (!publishedUnder(envelope, limits)) {
      const refusal = inboundProblem(envelope, limits);
      if (refusal !== undefined) {
        if (msg.reply) return this.replyError(msg, refusal);
        m.invalid.add();
        return this.deadLetter(msg, deadLetterable(envelope, limits), refusal, msg.attempt, h.retry);
      }
      envelope = withValidTrace(envelope);
    }
    if (msg.notCloudEvent !== undefined && !h.raw) {
      if (msg.reply) return this.replyError(msg, msg.notCloudEvent);
      m.invalid.add();
      return this.deadLetter(msg, envelope, msg.notCloudEvent, msg.attempt, h.retry);
    }
    const tenants = this.settings.tenantSubjects;
    if (tenants !== undefined) {
      // A raw payload names no tenant of its own: the space it arrived in, which the broker guards, does.
      if (msg.notCloudEvent !== undefined) envelope = withTenant(envelope, tenants.tenantOf(msg.subject));
      else {
        const refused = tenants.mismatch(msg.subject, envelope.tenant);
        if (refused !== undefined) {
          if (msg.reply) return this.replyError(msg, refused);
          m.invalid.add();
          // The copy stays in the space it was refused from, so it carries that space's tenant; the claim goes in `dlqtenant`.
          const copy = withTenant(envelope, tenants.tenantOf(msg.subject));
          if (typeof envelope.tenant === 'string') copy.dlqtenant = envelope.tenant;
          return this.deadLetter(msg, copy, refused, msg.attempt, h.retry);
        }
      }
    }
    try {
      if (!h.raw && envelope.data instanceof Uint8Array && envelope.datacontenttype !== 'application/octet-stream') {
        envelope = { ...envelope, data: this.settings.codecs.get(envelope.datacontenttype).decode(envelope.data, envelope.type) };
      }
      if (!h.raw && this.settings.contracts) envelope = this.settings.contracts.inbound(envelope, h.accept);
    } catch (err) {
      if (msg.reply) return this.replyError(msg, err);
      m.invalid.add();
      return this.deadLetter(msg, msg.envelope, err, msg.attempt, h.retry);
    }
    if (this.tracing !== undefined) envelope = this.tracing.handled(msg, envelope);
    return this.attempt(msg, envelope, msg.attempt, h, m);
  }

  /** One try: the chain, then settlement; a throw and a rejection both go to `failed`. */
  private attempt(msg: InboundMessage, envelope: Envelope, attempt: number, h: Handling, m: SubjectCounters): Promise<void> | void {
    const ctx = new MessageContext(this.services, msg.subject, envelope, attempt, h.stop, h.idSalt);
    let result: unknown;
    try {
      result = this.tracing === undefined ? h.chain(ctx) : this.tracing.run(msg, () => h.chain(ctx));
    } catch (err) {
      ctx.finished();
      return this.failed(msg, envelope, err, attempt, h, m);
    }
    if (isThenable(result)) return this.settleWhenHandled(result, msg, envelope, ctx, h, m);
    ctx.finished();
    ctx.result = result;
    return this.settleOrFail(msg, envelope, ctx, h, m);
  }

  // Plain `then` rather than an async function: a couple of hundred bytes less per message.
  private settleWhenHandled(result: PromiseLike<unknown>, msg: InboundMessage, envelope: Envelope, ctx: MessageContext, h: Handling, m: SubjectCounters): Promise<void> {
    return Promise.resolve(result).then(
      (value) => { ctx.finished(); ctx.result = value; return this.settleOrFail(msg, envelope, ctx, h, m); },
      (err: unknown) => { ctx.finished(); return this.failed(msg, envelope, err, ctx.attempt, h, m); });
  }

  /** Settles a handled message; a reply or ack that fails makes the try a failed one. */
  private settleOrFail(msg: InboundMessage, envelope: Envelope, ctx: MessageContext, h: Handling, m: SubjectCounters): Promise<void> | void {
    let settled: Promise<void> | void;
    try {
      settled = this.settle(msg, envelope, ctx, h.transport, m);
    } catch (err) {
      return this.failed(msg, envelope, err, ctx.attempt, h, m);
    }
    if (settled !== undefined) return this.failedIfRejected(settled, msg, envelope, ctx.attempt, h, m);
  }

  // Its own method, so the closure's captured context is made only when a settlement is asynchronous.
  private failedIfRejected(settled: Promise<void>, msg: InboundMessage, envelope: Envelope, attempt: number, h: Handling, m: SubjectCounters): Promise<void> {
    return settled.then(undefined, (err: unknown) => this.failed(msg, envelope, err, attempt, h, m));
  }

  /** Replies to a request, acks and counts the message handled; a promise only when the transport needs one. */
  private settle(msg: InboundMessage, envelope: Envelope, ctx: MessageContext, transport: Transport, m: SubjectCounters): Promise<void> | void {
    if (msg.reply) return this.replyAndAck(msg, envelope, ctx, transport, m);
    const acked = msg.ack();
    if (acked) return acked.then(() => { m.acked.add(); });
    m.acked.add();
  }

  private async replyAndAck(msg: InboundMessage, envelope: Envelope, ctx: MessageContext, transport: Transport, m: SubjectCounters): Promise<void> {
    // Replies travel on the transport the request came from; encoded when it carries bytes.
    const encodes = transport.capabilities.encodesData;
    // Built from the request's attributes, which passed the inbound rules under these limits: a
    // requester handed this very object (memory) need not check it again, as for a publish. (Its
    // type gains ".reply": one that then runs over the value limit is left unmarked.)
    const limits = this.settings.headerLimits;
    const into = !encodes && envelope.type.length + REPLY_SUFFIX_ROOM <= limits.maxValueLength ? publishedEnvelope(limits) : undefined;
    await msg.reply!(replyEnvelope(this.settings.source, envelope, ctx.result, encodes ? this.settings.codecs : undefined, into));
    const acked = msg.ack();
    if (acked) await acked;
    m.acked.add();
  }

  /**
   * After a failed try: an error reply, a dead letter, a redelivery the broker does later, or the
   * next try here after a backoff (holding the message's key when the subscription is ordered).
   */
  private async failed(msg: InboundMessage, envelope: Envelope, err: unknown, attempt: number, h: Handling, m: SubjectCounters): Promise<void> {
    this.tracing?.tryFailed(msg, err, attempt);
    if (msg.reply) return this.replyError(msg, err);
    if (isPermanent(err)) { m.invalid.add(); return this.deadLetter(msg, envelope, err, attempt, h.retry); }
    if (attempt >= h.retry.maxAttempts) return this.deadLetter(msg, envelope, err, attempt, h.retry);
    const delay = retryDelay(h.retry, attempt);
    m.retried.add();
    this.logger.debug('handler failed, retrying', { subject: msg.subject, id: envelope.id, attempt, delay, err });
    if (h.brokerRetries && msg.nak) { this.tracing?.failed(msg, err, 'handed-back'); await msg.nak(delay); return; }
    // A transport's messages all have `inProgress` or none do: without it there is nothing to report.
    if (msg.inProgress === undefined) await sleepUntilStopped(delay, h.stop);
    else await holdThroughBackoff(delay, h.stop, this.inProgressReport(msg, h));
    // Stopped during the backoff: a broker that redelivers gets the message back rather than a hurried try.
    if (h.stop.aborted && h.transport.capabilities.redelivery && msg.nak) { this.tracing?.failed(msg, err, 'handed-back'); await msg.nak(delay); return; }
    return this.attempt(msg, envelope, attempt + 1, h, m);
  }

  /**
   * Reports a message held through a backoff still in progress, and on an ordered subscription
   * the messages of its key waiting behind it, which are held as long.
   */
  private inProgressReport(msg: InboundMessage, h: Handling): () => void {
    const key = orderingKey(msg);
    const forEachWaiting = h.forEachWaiting;
    if (forEachWaiting === undefined || key === undefined) return () => reportInProgress(msg);
    return () => { reportInProgress(msg); forEachWaiting(key, reportInProgress); };
  }

  private async replyError(msg: InboundMessage, err: unknown): Promise<void> {
    this.tracing?.failed(msg, err, 'error-replied');
    try { await msg.reply!(errorReplyEnvelope(this.settings.source, msg.envelope, err)); } catch (replyErr) {
      this.logger.warn('could not send an error reply', { subject: msg.subject, err: replyErr });
    }
    await msg.ack();
    this.subjects.entry(msg.subject).invalid.add();
  }

  /**
   * Publishes a copy with `dlq*` headers to the dead-letter subject, then settles the original.
   * A copy too large for the transport goes truncated (`truncatedDeadLetter`). If the copy cannot
   * be published for a passing reason (a lost connection, a JetStream subject no stream captures)
   * a transport that redelivers gets the original back, after the retry policy's delay, until it
   * was delivered `maxAttempts + DEAD_LETTER_HANDBACKS` times; if the copy never can be published,
   * or that budget is spent, the original is settled all the same (`term`) and logged at error
   * level with its reason: a poison message must not come back forever and hold its key.
   */
  private async deadLetter(msg: InboundMessage, envelope: Envelope, err: unknown, attempts: number, retry: RetryPolicy): Promise<void> {
    // A dead letter is one on the dead-letter subjects: a `dlqreason` anyone may put on a message
    // elsewhere does not spare it its own dead letter (a redriven dead letter that fails again gets one too).
    if (typeof msg.envelope.dlqreason === 'string' && msg.subject.startsWith(`${this.settings.deadLetterPrefix}.`)) {
      this.tracing?.failed(msg, err, 'dropped');
      // A dead letter that fails again is not dead-lettered again: a `dlq.>` consumer would
      // otherwise feed itself forever. It is logged whole, so it is not lost silently.
      this.logger.error('handling a dead letter failed; it is not dead-lettered again', {
        subject: msg.subject, id: envelope.id, reason: errorCode(err), message: errorMessage(err), envelope: loggable(msg.envelope),
      });
      this.subjects.entry(msg.subject).dropped.add();
      await (msg.term ?? msg.ack).call(msg);
      return;
    }
    this.tracing?.failed(msg, err, 'dead-lettered');
    let copy = deadLetterCopy(envelope, err, attempts, msg.subject, this.settings.service);
    const subject = deadLetterSubject(msg.subject, this.settings.deadLetterPrefix);
    // Where the transport redelivers, handing the original back is the retry: one try here each time.
    const tries = msg.nak ? 1 : 5;
    let sendErr = await this.sendDeadLetter(subject, copy, tries);
    if (sendErr instanceof MessageTooLargeError) {
      copy = truncatedDeadLetter(copy, this.dataBytes(copy));
      sendErr = await this.sendDeadLetter(subject, copy, tries);
    }
    if (sendErr !== undefined) {
      const handbacks = msg.attempt - retry.maxAttempts;
      if (!neverSends(sendErr) && msg.nak && handbacks < DEAD_LETTER_HANDBACKS) {
        const delay = retryDelay(retry, Math.max(1, handbacks + 1));
        this.tracing?.failed(msg, err, 'handed-back');
        this.logger.error('message could not be dead-lettered; it is handed back to the transport', {
          subject: msg.subject, id: envelope.id, reason: copy.dlqreason, err: sendErr, delivery: msg.attempt, delay,
        });
        await msg.nak(delay);
        return;
      }
      this.tracing?.failed(msg, err, 'dropped');
      this.logger.error('message could not be dead-lettered; it is settled without a dead letter', {
        subject: msg.subject, id: envelope.id, reason: copy.dlqreason, deadLetterReason: errorCode(sendErr), err: sendErr, position: msg.position,
        envelope: loggable(copy.dlqtruncated === undefined ? copy : { ...copy, data: undefined }),
      });
      this.subjects.entry(msg.subject).dropped.add();
      await (msg.term ?? msg.ack).call(msg);
      return;
    }
    await (msg.term ?? msg.ack).call(msg);
    this.subjects.entry(msg.subject).deadlettered.add();
    const fields: Record<string, unknown> = { subject: msg.subject, id: envelope.id, reason: copy.dlqreason, attempts };
    if (copy.dlqtruncated !== undefined) fields.truncated = Number(copy.dlqtruncated);
    this.logger.warn('message dead-lettered', fields);
  }

  /** Publishes a dead letter, up to `tries` times on a passing failure; the last failure, or undefined once sent. */
  private async sendDeadLetter(subject: string, copy: Envelope, tries: number): Promise<unknown> {
    for (let i = 1; ; i++) {
      try {
        await this.send(subject, copy);
        return undefined;
      } catch (sendErr) {
        if (neverSends(sendErr)) return sendErr;
        if (i >= tries) return sendErr;
        this.logger.error('dead-lettering failed', { subject, id: copy.id, attempt: i, err: sendErr });
        await sleep(100 * 2 ** i);
      }
    }
  }

  /** A dead letter's data as bytes, for truncating it; undefined when there is none or it cannot be encoded. */
  private dataBytes(copy: Envelope): Uint8Array | undefined {
    if (copy.data === undefined || copy.data instanceof Uint8Array) return copy.data;
    try { return this.settings.codecs.get(copy.datacontenttype).encode(copy.data, copy.type); } catch { return undefined; }
  }
}
