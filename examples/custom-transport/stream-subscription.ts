/**
 * One subscription: a reader that follows one or more streams (one per matching subject) with
 * XREAD (ungrouped) or XREADGROUP (grouped), hands entries to the Bus, and settles them.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  compilePattern, hasWildcards, type Envelope, type EnvelopeInvalidError, type InboundHandler, type InboundMessage, type SubjectMatcher,
} from '../../core/index.js';
import { fromRedisEntry, scanGlob, subjectOfKey, type DecodedEntry } from './binding.js';

/** What a subscription needs from its transport: commands and the few things only it knows. */
export interface SubscriptionHost {
  readonly keyPrefix: string;
  readonly claimIdleMs: number;
  readonly patternRefreshMs: number;
  /** Sends a command on the shared connection; bulk replies as Buffers. */
  command<T>(args: ReadonlyArray<string | Buffer>): Promise<T>;
  /** A new connection of its own (a blocking read occupies its connection). */
  dedicatedConnection(): Promise<Connection>;
  sendReply(replyTo: string, requestId: string, reply: Envelope): Promise<void>;
  /** The subscription has stopped. */
  forget(sub: StreamSubscription): void;
}

export interface Connection {
  command<T>(args: ReadonlyArray<string | Buffer>): Promise<T>;
  close(): Promise<void>;
}

/** XREAD/XREADGROUP reply (RESP2, bulk strings as Buffers): per stream, its entries. */
type ReadReply = Array<[key: Buffer, entries: Array<[id: Buffer, fields: Buffer[] | null]>]> | null;

/** How long one blocking read waits before it looks around again, ms. Stops and new streams cut it short. */
const BLOCK_MS = '5000';
/** When the Bus refuses an entry (its queue is full and set to reject), ask again this much later, ms. */
const REFUSED_RETRY_MS = 1000;

export interface StreamSubscriptionInit {
  pattern: string;
  /** Read this exact key instead of the pattern's streams (the request/reply inbox). */
  key?: string;
  group?: string;
  maxInFlight: number;
  /** The stream id to read after (ungrouped) or to create groups at: the server's time at subscribe. */
  startId: string;
}

export class StreamSubscription {
  readonly pattern: string;
  /** Followed streams: key → id of the last entry read (ungrouped) or `>` (grouped: the group remembers). */
  private readonly streams = new Map<string, string>();
  private readonly match: SubjectMatcher;
  private readonly consumer = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private reader?: Connection;
  private readerId = '';
  private inFlight = 0;
  private blocked = false;
  private wakeUp?: () => void;
  private loop?: Promise<void>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly nakTimers = new Set<NodeJS.Timeout>();
  private halted = false;
  private atOnce = false;
  private stopped?: Promise<void>;

  constructor(private readonly host: SubscriptionHost, private readonly init: StreamSubscriptionInit, private readonly onMessage: InboundHandler) {
    this.pattern = init.pattern;
    this.match = compilePattern(init.pattern);
  }

  async start(): Promise<void> {
    this.reader = await this.host.dedicatedConnection();
    // CLIENT UNBLOCK needs the reader's id: that is how stop() and new streams interrupt a blocking read.
    this.readerId = String(await this.reader.command<number>(['CLIENT', 'ID']));
    if (this.init.key !== undefined) await this.follow(this.init.key);
    else if (!hasWildcards(this.init.pattern)) await this.follow(this.host.keyPrefix + this.init.pattern);
    else {
      // Streams have no wildcards: find the matching streams by SCAN now and every patternRefreshMs.
      await this.discover();
      this.every(this.host.patternRefreshMs, () => this.discover());
    }
    if (this.init.group !== undefined) {
      // Entries a crashed member (or a nak timer that died with its process) left pending come back here.
      await this.reclaimIdle().catch(() => {});
      this.every(this.host.claimIdleMs, () => this.reclaimIdle());
    }
    this.loop = this.readLoop();
  }

  /** Runs `task` every `ms` after the previous run finished (a slow SCAN never overlaps itself). */
  private every(ms: number, task: () => Promise<void>): void {
    const run = () => {
      this.timers.delete(timer);
      if (this.halted) return;
      void task().catch(() => {}).then(() => { if (!this.halted) { timer = setTimeout(run, ms).unref(); this.timers.add(timer); } });
    };
    let timer = setTimeout(run, ms).unref();
    this.timers.add(timer);
  }

  /** Stops new deliveries and waits until delivered messages are settled. */
  drain(): Promise<void> { return this.stop(false); }

  /** Stops at once; unsettled grouped entries stay pending and a member reclaims them after claimIdleMs. */
  unsubscribe(): Promise<void> { return this.stop(true); }

  private async follow(key: string): Promise<void> {
    if (this.streams.has(key)) return;
    if (this.init.group !== undefined) {
      try {
        await this.host.command(['XGROUP', 'CREATE', key, this.init.group, this.init.startId, 'MKSTREAM']);
      } catch (err) {
        // The group exists already (another member, or an earlier run): it keeps its position. That is durability.
        if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
      }
    }
    this.streams.set(key, this.init.group !== undefined ? '>' : this.init.startId);
  }

  private async discover(): Promise<void> {
    const glob = scanGlob(this.host.keyPrefix, this.init.pattern);
    let cursor = '0';
    let added = false;
    do {
      const [next, keys] = await this.host.command<[Buffer, Buffer[]]>(['SCAN', cursor, 'MATCH', glob, 'COUNT', '1000', 'TYPE', 'stream']);
      cursor = next.toString();
      for (const k of keys) {
        const key = k.toString();
        const subject = subjectOfKey(this.host.keyPrefix, key);
        if (subject === undefined || !this.match(subject) || this.streams.has(key) || this.halted) continue;
        // A stream found late is read from the subscription's start, so its first entries are not missed.
        await this.follow(key);
        added = true;
      }
    } while (cursor !== '0');
    if (added) void this.interrupt();
  }

  private async readLoop(): Promise<void> {
    const { group, maxInFlight } = this.init;
    while (!this.halted) {
      if (this.inFlight >= maxInFlight || this.streams.size === 0) {
        await new Promise<void>((r) => { this.wakeUp = r; });
        continue;
      }
      const keys = [...this.streams.keys()];
      // COUNT is per stream, so a wildcard read may hand over more; deliver() then waits for the Bus' room.
      const count = String(maxInFlight - this.inFlight);
      let reply: ReadReply;
      this.blocked = true;
      try {
        reply = group !== undefined
          ? await this.reader!.command<ReadReply>(['XREADGROUP', 'GROUP', group, this.consumer, 'COUNT', count, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...keys.map(() => '>')])
          : await this.reader!.command<ReadReply>(['XREAD', 'COUNT', count, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...keys.map((k) => this.streams.get(k)!)]);
      } catch (err) {
        if (this.halted) break;
        // NOGROUP: someone deleted the stream and its group with it; make them again. Else: connection trouble, back off.
        if (String((err as Error).message).startsWith('NOGROUP')) await this.recreateGroups().catch(() => {});
        else await new Promise((r) => setTimeout(r, 500));
        continue;
      } finally {
        this.blocked = false;
      }
      if (!reply) continue;
      for (const [k, entries] of reply) {
        const key = k.toString();
        for (const [id, fields] of entries) {
          const entryId = id.toString();
          if (group === undefined) this.streams.set(key, entryId);
          // Stopping at once: grouped entries read but not handed over stay pending for a member to reclaim.
          if (this.atOnce) return;
          // A failed XACK must not end the loop; the entry stays pending and is reclaimed.
          if (fields) await this.deliver(key, entryId, fields, 1).catch(() => {});
        }
      }
    }
  }

  private async recreateGroups(): Promise<void> {
    for (const key of this.streams.keys()) {
      await this.host.command(['XGROUP', 'CREATE', key, this.init.group!, '0', 'MKSTREAM']).catch(() => {});
    }
  }

  /** One entry to the Bus; resolves when the Bus has room for the next one. */
  async deliver(key: string, entryId: string, fields: Buffer[], attempt: number): Promise<void> {
    const subject = subjectOfKey(this.host.keyPrefix, key) ?? key.slice(this.host.keyPrefix.length);
    const decoded: DecodedEntry = fromRedisEntry(subject, entryId, fields);
    if (decoded.expires !== undefined && decoded.expires < Date.now()) {
      // A request whose requester stopped waiting (e.g. read by a group that was away): nobody wants the answer.
      if (this.init.group !== undefined) await this.host.command(['XACK', key, this.init.group, entryId]);
      return;
    }
    this.inFlight++;
    const msg = this.init.group !== undefined
      ? new GroupedInbound(this, subject, decoded, attempt, key, entryId)
      : new StreamInbound(this, subject, decoded);
    try {
      const room = this.onMessage(msg);
      if (room) await room;
    } catch {
      // The Bus refused it (a full queue with onFull 'reject'): a grouped entry comes back later, an ungrouped one is gone.
      if (msg instanceof GroupedInbound) msg.nak(REFUSED_RETRY_MS); else void msg.ack();
    }
  }

  /** @internal A message was settled: one more may be read. */
  settled(): void {
    this.inFlight--;
    this.wake();
  }

  /** @internal */
  ack(key: string, entryId: string): Promise<unknown> {
    return this.host.command(['XACK', key, this.init.group!, entryId]);
  }

  /** @internal */
  reply(replyTo: string, requestId: string, reply: Envelope): Promise<void> {
    return this.host.sendReply(replyTo, requestId, reply);
  }

  /**
   * @internal Redelivers a nak'd entry after `delayMs`. The entry is still on the group's pending
   * list; XCLAIM gives it back to this consumer and counts the delivery. The minimum idle time
   * makes the claim fail if another member took the entry over meanwhile.
   */
  redeliverLater(key: string, entryId: string, attempt: number, delayMs: number): void {
    if (this.halted) return; // it stays pending; a member reclaims it after claimIdleMs
    const timer = setTimeout(async () => {
      this.nakTimers.delete(timer);
      if (this.halted) return;
      try {
        const claimed = await this.host.command<Array<[Buffer, Buffer[] | null]>>(
          ['XCLAIM', key, this.init.group!, this.consumer, String(Math.floor(delayMs / 2)), entryId]);
        for (const [id, fields] of claimed) if (fields && !this.halted) await this.deliver(key, id.toString(), fields, attempt);
      } catch { /* still pending: reclaimed after claimIdleMs */ }
    }, delayMs);
    this.nakTimers.add(timer);
  }

  /** Takes over entries that sat unacknowledged longer than claimIdleMs, with their true delivery count. */
  private async reclaimIdle(): Promise<void> {
    const idle = String(this.host.claimIdleMs);
    for (const key of this.streams.keys()) {
      if (this.halted) return;
      const pending = await this.host.command<Array<[Buffer, Buffer, number, number]>>(
        ['XPENDING', key, this.init.group!, 'IDLE', idle, '-', '+', '100']);
      for (const [id, , , deliveries] of pending) {
        const claimed = await this.host.command<Array<[Buffer, Buffer[] | null]>>(['XCLAIM', key, this.init.group!, this.consumer, idle, id]);
        for (const [cid, fields] of claimed) if (fields && !this.halted) await this.deliver(key, cid.toString(), fields, Number(deliveries) + 1);
      }
      await this.pruneConsumers(key);
    }
  }

  /**
   * Members that went away without a clean stop leave their (random) consumer names behind;
   * remove those that hold nothing and were not seen for a long time. A live consumer re-issues
   * its read every few seconds, and XREADGROUP would recreate it anyway.
   */
  private async pruneConsumers(key: string): Promise<void> {
    const threshold = Math.max(2 * this.host.claimIdleMs, 60_000);
    const consumers = await this.host.command<Buffer[][]>(['XINFO', 'CONSUMERS', key, this.init.group!]);
    for (const flat of consumers) {
      const info = new Map<string, string>();
      for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), String(flat[i + 1]));
      if (info.get('pending') === '0' && Number(info.get('idle')) > threshold) {
        await this.host.command(['XGROUP', 'DELCONSUMER', key, this.init.group!, info.get('name')!]);
      }
    }
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  /** Cuts a blocking read short (it returns as if it timed out). */
  private async interrupt(): Promise<void> {
    this.wake();
    if (this.blocked) await this.host.command(['CLIENT', 'UNBLOCK', this.readerId]).catch(() => {});
  }

  private stop(atOnce: boolean): Promise<void> {
    this.atOnce ||= atOnce;
    this.stopped ??= (async () => {
      this.halted = true;
      for (const t of this.timers) clearTimeout(t);
      for (const t of this.nakTimers) clearTimeout(t);
      this.nakTimers.clear();
      if (this.atOnce) {
        // Closing the reader fails a pending read; the loop sees `halted` and leaves without waiting for the Bus.
        await this.interrupt();
      } else {
        // UNBLOCK may reach the server just before the read it should cut short; repeat until the loop has left.
        let left = false;
        const loopDone = (this.loop ?? Promise.resolve()).then(() => { left = true; });
        while (!left) {
          await this.interrupt();
          await Promise.race([loopDone, new Promise((r) => setTimeout(r, 20))]);
        }
        while (this.inFlight > 0) await new Promise<void>((r) => { this.wakeUp = r; });
      }
      if (this.init.group !== undefined) await this.forgetConsumer().catch(() => {});
      await this.reader?.close().catch(() => {});
      this.host.forget(this);
    })();
    return this.stopped;
  }

  /** Consumer names are per subscription; remove ours when it holds nothing, so groups do not collect dead ones. */
  private async forgetConsumer(): Promise<void> {
    for (const key of this.streams.keys()) {
      const mine = await this.host.command<unknown[]>(['XPENDING', key, this.init.group!, '-', '+', '1', this.consumer]);
      if (mine.length === 0) await this.host.command(['XGROUP', 'DELCONSUMER', key, this.init.group!, this.consumer]);
    }
  }
}

/** An entry read without a group: nothing to acknowledge on the server, nothing to redeliver. */
class StreamInbound implements InboundMessage {
  readonly envelope: Envelope;
  readonly notCloudEvent?: EnvelopeInvalidError;
  readonly attempt: number = 1;
  /** The request a reply answers (read by the transport's reply inbox). */
  readonly inReplyTo?: string;
  reply?: (reply: Envelope) => Promise<void>;
  protected done = false;

  constructor(protected readonly sub: StreamSubscription, readonly subject: string, decoded: DecodedEntry) {
    this.envelope = decoded.envelope;
    if (decoded.notCloudEvent !== undefined) this.notCloudEvent = decoded.notCloudEvent;
    if (decoded.inReplyTo !== undefined) this.inReplyTo = decoded.inReplyTo;
    const replyTo = decoded.replyTo;
    // Only requests carry `reply`: the Bus treats a message with it as a request.
    if (replyTo !== undefined) this.reply = (r) => this.sub.reply(replyTo, this.envelope.id, r);
  }

  ack(): void | Promise<void> {
    if (this.done) return;
    this.done = true;
    this.sub.settled();
  }
}

/** An entry read through a consumer group: on the group's pending list until XACK. */
class GroupedInbound extends StreamInbound {
  constructor(sub: StreamSubscription, subject: string, decoded: DecodedEntry, override readonly attempt: number,
    private readonly key: string, private readonly entryId: string) {
    super(sub, subject, decoded);
  }

  override async ack(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try { await this.sub.ack(this.key, this.entryId); } finally { this.sub.settled(); }
  }

  /** Leaves the entry pending (not acked) and claims it back after the delay. */
  nak(delayMs: number): void {
    if (this.done) return;
    this.done = true;
    this.sub.settled();
    this.sub.redeliverLater(this.key, this.entryId, this.attempt + 1, delayMs);
  }

  term(): Promise<void> { return this.ack(); }
}
