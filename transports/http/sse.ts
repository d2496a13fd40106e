/**
 * Server-Sent Events framing for the gateway's streams. Each event is
 * `subject: <bus subject>\nid: <event id>\ndata: <structured CloudEvent JSON>\n\n` (requests add
 * `reply: <token>`); `subject` and `reply` are fields browsers' EventSource ignores (unknown fields are skipped by the SSE spec), so a browser
 * sees plain `message` events while `HttpTransport` learns the concrete subject.
 *
 * @example
 * const parser = new SseParser();
 * for (const ev of parser.push(chunkText)) handle(ev.subject, JSON.parse(ev.data));
 */

export interface SseEvent {
  subject?: string;
  /** On requests: the token to answer with (`POST /v1/replies/<token>`). */
  reply?: string;
  id?: string;
  event?: string;
  data: string;
}

/** Incremental parser: feed text chunks, get complete events (comments and heartbeats skipped). */
export class SseParser {
  private buffer = '';
  private current: { subject?: string; reply?: string; id?: string; event?: string; data?: string } = {};

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const nl = this.buffer.indexOf('\n', start);
      if (nl < 0) break;
      let end = nl;
      if (end > start && this.buffer.charCodeAt(end - 1) === 13) end--;
      const line = this.buffer.slice(start, end);
      start = nl + 1;
      if (line.length === 0) {
        if (this.current.data !== undefined) out.push(this.current as SseEvent);
        this.current = {};
        continue;
      }
      if (line.charCodeAt(0) === 58 /* : */) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
      if (field === 'data') this.current.data = this.current.data === undefined ? value : `${this.current.data}\n${value}`;
      else if (field === 'subject') this.current.subject = value;
      else if (field === 'reply') this.current.reply = value;
      else if (field === 'id') this.current.id = value;
      else if (field === 'event') this.current.event = value;
    }
    this.buffer = start === 0 ? this.buffer : this.buffer.slice(start);
    return out;
  }
}
