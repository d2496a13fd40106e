/**
 * Server-Sent Events framing for the gateway's streams, as the SSE standard has it. Each event is
 * `id: <event id>\nevent: <bus subject>\ndata: <structured CloudEvent JSON>\n\n` (requests add
 * `reply: <token>`, a field EventSource ignores), so a browser listens with
 * `es.addEventListener('<subject>', …)` and `HttpTransport` learns the concrete subject from `event`.
 * The parser also reads the `subject: <bus subject>` line older gateways wrote instead of `event`.
 *
 * @example
 * const parser = new SseParser();
 * parser.feed(chunkText);
 * for (let ev = parser.next(); ev; ev = parser.next()) handle(ev.subject, JSON.parse(ev.data));
 */

export interface SseEvent {
  /** The bus subject: the `event` field (or an older gateway's `subject` line). */
  subject?: string;
  /** On requests: the token to answer with (`POST /v1/replies/<token>`). */
  reply?: string;
  id?: string;
  event?: string;
  data: string;
}

/** An event (or a line of one) longer than the parser's bound: the stream is not one a gateway writes. */
export class SseEventTooLargeError extends Error {
  constructor(readonly limit: number) { super(`an event stream line or event is over ${limit} characters`); }
}

/**
 * Incremental parser: feed text chunks, take complete events one at a time (comments and
 * heartbeats skipped). Text not yet taken stays text, so a reader that stops taking (its consumer
 * is full) holds bytes, not parsed events. A line or event over `maxEventChars` is
 * SseEventTooLargeError from `next()`: a server that never ends a line would otherwise grow the
 * buffer (and its rescans) without bound.
 */
export class SseParser {
  constructor(private readonly maxEventChars = Number.POSITIVE_INFINITY) {}

  private buffer = '';
  /** Where the next unread line starts in `buffer`. */
  private start = 0;
  private current: { subject?: string; reply?: string; id?: string; event?: string; data?: string } = {};

  /** Adds a chunk of the stream. */
  feed(chunk: string): void {
    this.buffer = this.start === 0 ? this.buffer + chunk : this.buffer.slice(this.start) + chunk;
    this.start = 0;
  }

  /** The next complete event, or undefined until more text is fed. */
  next(): SseEvent | undefined {
    for (;;) {
      const nl = this.buffer.indexOf('\n', this.start);
      if (nl < 0) {
        if (this.buffer.length - this.start + (this.current.data?.length ?? 0) > this.maxEventChars) throw new SseEventTooLargeError(this.maxEventChars);
        return undefined;
      }
      let end = nl;
      if (end > this.start && this.buffer.charCodeAt(end - 1) === 13) end--;
      const line = this.buffer.slice(this.start, end);
      this.start = nl + 1;
      if (line.length === 0) {
        const ev = this.current;
        this.current = {};
        if (ev.data !== undefined) {
          if (ev.subject === undefined && ev.event !== undefined) ev.subject = ev.event;
          return ev as SseEvent;
        }
        continue;
      }
      if (line.charCodeAt(0) === 58 /* : */) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
      if (field === 'data') {
        this.current.data = this.current.data === undefined ? value : `${this.current.data}\n${value}`;
        if (this.current.data.length > this.maxEventChars) throw new SseEventTooLargeError(this.maxEventChars);
      }
      else if (field === 'subject') this.current.subject = value;
      else if (field === 'reply') this.current.reply = value;
      else if (field === 'id') this.current.id = value;
      else if (field === 'event') this.current.event = value;
    }
  }

  /** Feeds a chunk and takes every event it completes. */
  push(chunk: string): SseEvent[] {
    this.feed(chunk);
    const out: SseEvent[] = [];
    for (let ev = this.next(); ev !== undefined; ev = this.next()) out.push(ev);
    return out;
  }
}
