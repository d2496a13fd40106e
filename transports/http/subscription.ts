import type { IncomingMessage } from 'node:http';
import {
  reconnectDelayMs, type Envelope, type InboundHandler, type InboundMessage, type ResolvedReconnectOptions, type TransportSubscription,
} from '../../core/index.js';
import { fromJsonEvent } from './binding.js';
import type { HttpClient } from './http-client.js';
import { errorFromProblem } from './problem.js';
import { SseParser } from './sse.js';

const noop = () => {};

/** One SSE stream from the gateway, reopened (with backoff) when it breaks. */
export class StreamSubscription implements TransportSubscription {
  private controller = new AbortController();
  private response?: IncomingMessage;
  private stopped = false;
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly settled: () => void;

  constructor(private readonly client: HttpClient, private readonly path: string, readonly pattern: string,
    private readonly headers: Record<string, string>, private readonly onMessage: InboundHandler,
    private readonly reconnect: ResolvedReconnectOptions, private readonly onStop: () => void,
    private readonly sendReply: (token: string, reply: Envelope) => Promise<void>) {
    this.settled = () => this.onSettled();
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
    const parser = new SseParser();
    res.on('data', (text: string) => {
      for (const ev of parser.push(text)) this.deliver(ev.subject, ev.data, ev.reply);
    });
    const broken = () => { if (!this.stopped) void this.reopen(); };
    res.on('end', broken);
    res.on('error', broken);
    res.on('aborted', broken);
  }

  private deliver(subject: string | undefined, data: string, replyToken: string | undefined): void {
    let envelope: Envelope;
    try { envelope = fromJsonEvent(JSON.parse(data)); } catch { return; /* the gateway only writes valid events; skip anything else */ }
    const msg: InboundMessage = { subject: subject ?? this.pattern, envelope, attempt: 1, ack: noop };
    if (replyToken !== undefined) msg.reply = (reply) => this.sendReply(replyToken, reply);
    this.pending++;
    let r: void | Promise<void>;
    try { r = this.onMessage(msg); } catch { r = undefined; }
    if (r) {
      // The bus is full: stop reading, so TCP holds the gateway (and its bus) back.
      this.response?.pause();
      r.then(this.settled, this.settled);
    } else this.onSettled();
  }

  private onSettled(): void {
    this.pending--;
    if (this.response?.isPaused() && !this.stopped) this.response.resume();
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

