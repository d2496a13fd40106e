import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  CodecDecodeError, Delivery, EnvelopeInvalidError, SignalbusError, reconnectDelayMs,
  type Envelope, type InboundHandler, type ResolvedReconnectOptions, type TransportSubscription,
} from '../../core/index.js';
import { fromJsonEvent } from './binding.js';
import type { HttpClient } from './http-client.js';
import { errorFromProblem } from './problem.js';
import { SseParser } from './sse.js';

/**
 * The longest stream event (or line) read: an event carries at most a gateway body (the client's
 * `maxMessageBytes`, base64 adds a third) plus its attributes. Past it the stream is broken.
 */
export function maxStreamEventChars(maxMessageBytes: number): number {
  return 2 * maxMessageBytes + 64 * 1024;
}

/**
 * One SSE stream from the gateway, reopened (with backoff) when it breaks. It pushes back rather
 * than drop: while the Bus has no room, no further event is parsed and the response is paused, so
 * what waits here is unread text (at most the chunk that was being read) and TCP holds the gateway
 * back, whose own stall limit decides about a reader that never catches up.
 */
export class StreamSubscription implements TransportSubscription {
  private controller = new AbortController();
  private response?: IncomingMessage;
  private parser: SseParser;
  private stopped = false;
  /** The Bus asked to wait for room: no event is handed over until it has. */
  private waiting = false;
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly settled: () => void;
  private readonly roomMade: () => void;

  constructor(private readonly client: HttpClient, private readonly path: string, readonly pattern: string,
    private readonly headers: Record<string, string>, private readonly onMessage: InboundHandler,
    private readonly reconnect: ResolvedReconnectOptions, private readonly onStop: () => void,
    private readonly sendReply: (token: string, reply: Envelope) => Promise<void>,
    private readonly maxEventChars = Number.POSITIVE_INFINITY) {
    this.parser = new SseParser(maxEventChars);
    this.settled = () => this.onSettled();
    this.roomMade = () => this.onRoom();
  }

  /** Opens the stream; resolves once the gateway has subscribed (its headers arrived). */
  async open(): Promise<void> {
    this.controller = new AbortController();
    const res = await this.client.get(this.path, this.headers, this.controller.signal);
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw errorFromProblem(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
    }
    this.response = res;
    res.setEncoding('utf8');
    // A new stream starts on an event boundary; whatever the broken one left half-read is gone with it.
    // (A wait for room the Bus asked for on the broken one still holds: `waiting` stays as it is.)
    this.parser = new SseParser(this.maxEventChars);
    res.on('data', (text: string) => {
      this.parser.feed(text);
      this.handOver();
      // Also a stream reopened while the Bus still has no room: it reads no further either.
      if (this.waiting) res.pause();
    });
    const broken = () => { if (!this.stopped) void this.reopen(); };
    res.on('end', broken);
    res.on('error', broken);
    res.on('aborted', broken);
    res.on('close', () => { if (this.response === res) broken(); });
  }

  /** Hands over parsed events until the text runs out or the Bus asks to wait. */
  private handOver(): void {
    while (!this.waiting && !this.stopped) {
      let ev;
      try { ev = this.parser.next(); } catch {
        // A line or event past the bound: this stream is broken. End it; its 'close' opens a new one.
        this.response?.destroy();
        return;
      }
      if (ev === undefined) return;
      this.deliver(ev.subject ?? this.pattern, ev.data, ev.reply, ev.id);
    }
  }

  private deliver(subject: string, data: string, replyToken: string | undefined, eventId: string | undefined): void {
    let envelope: Envelope;
    let notCloudEvent: SignalbusError | undefined;
    // No check for repeated member names (core/json-members.ts): the gateway writes every event
    // as JSON.stringify of an envelope object, which cannot repeat one.
    try { envelope = fromJsonEvent(parseEventJson(data)); } catch (err) {
      // An event this side cannot take (its gateway runs wider header limits, or it is not an
      // event at all) is not dropped: the Bus dead-letters it with the reason, as on every transport.
      notCloudEvent = err instanceof SignalbusError ? err : new EnvelopeInvalidError(`the stream's event is not a CloudEvent: ${String(err)}`);
      envelope = madeUpEnvelope(subject, data, eventId);
    }
    const msg = new Delivery(subject, envelope, replyToken === undefined ? undefined : (reply) => this.sendReply(replyToken, reply), notCloudEvent);
    this.pending++;
    let r: void | Promise<void>;
    try { r = this.onMessage(msg); } catch { r = undefined; }
    if (r) {
      // The bus is full: read nothing more (parsed or not) until it has room, so TCP holds the gateway back.
      this.waiting = true;
      this.response?.pause();
      r.then(this.roomMade, this.roomMade);
    } else this.onSettled();
  }

  private onRoom(): void {
    this.waiting = false;
    this.onSettled();
    this.handOver();
    if (!this.waiting && !this.stopped && this.response?.isPaused()) this.response.resume();
  }

  private onSettled(): void {
    this.pending--;
    if (this.pending === 0 && this.idleWaiters.length > 0) { const ws = this.idleWaiters; this.idleWaiters = []; for (const w of ws) w(); }
  }

  private async reopen(): Promise<void> {
    this.response = undefined;
    for (let attempt = 1; !this.stopped; attempt++) {
      await new Promise((r) => setTimeout(r, reconnectDelayMs(this.reconnect, attempt)));
      if (this.stopped) return;
      try { await this.open(); return; } catch { /* keep trying until unsubscribed */ }
    }
  }

  async drain(): Promise<void> {
    this.stop();
    if (this.pending > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  async unsubscribe(): Promise<void> { this.stop(); }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.controller.abort();
    this.response?.destroy();
    this.onStop();
  }
}


function parseEventJson(text: string): unknown {
  try { return JSON.parse(text); } catch (cause) {
    throw new CodecDecodeError(`the stream's event is not JSON: ${(cause as Error).message}`, { cause });
  }
}

/** The envelope made up around a stream event that could not be read: its text as bytes, `type` = subject. */
function madeUpEnvelope(subject: string, text: string, eventId: string | undefined): Envelope {
  const id = eventId !== undefined && /^[\x21-\x7e]{1,256}$/.test(eventId) ? eventId : randomUUID();
  return {
    specversion: '1.0', id, source: `http:${subject}`, type: subject, time: new Date().toISOString(),
    datacontenttype: 'application/octet-stream', data: new TextEncoder().encode(text),
  };
}
