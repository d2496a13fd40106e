/**
 * The Duplex mqtt.js reads and writes, around the broker socket. It splits the inbound bytes into
 * MQTT packets and offers each PUBLISH to a tap first (the transport's own decoder, see
 * packet-codec.ts); everything else (CONNACK, SUBACK, PUBACK, PINGRESP, what the tap declines)
 * goes on to mqtt.js unchanged. Outbound, the transport writes whole encoded packets straight to
 * the socket (`writePacket`), and what mqtt.js writes as many small chunks is joined into one
 * buffer per flush.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { MessageTooLargeError } from '../../core/index.js';
import { MAX_REMAINING_LENGTH } from './packet-codec.js';

/**
 * Takes one PUBLISH (`buf[start, end)` is its variable header and payload, `flags` the low nibble
 * of its first byte). `false`: not taken, mqtt.js gets it. A promise: the next packet is read only
 * when it settles (inbound backpressure).
 */
export type PublishTap = (buf: Buffer, flags: number, start: number, end: number) => boolean | Promise<void>;

/**
 * MQTT 3.1.1 only: what becomes of a PUBLISH longer than `maxPacketBytes`. 3.1.1 cannot announce
 * a Maximum Packet Size, so such a packet breaks no promise and must not cost the connection: it
 * is skipped as it streams past, keeping only its start (topic, packet id, `headBytes` of payload).
 */
export interface OversizeSkip {
  /** Payload bytes kept from the start of a skipped packet (the rest is never held). */
  headBytes: number;
  /**
   * Called once the whole packet went past. `prefix` is the start of its variable header and
   * payload (topic length and topic, packet id at QoS > 0, up to `headBytes` of payload; shorter
   * when the packet is), `flags` the low nibble of its first byte, `remaining` its Remaining
   * Length. Returns what a tap returns (`true`: done; a promise: hold the next packet until it
   * settles), or packet bytes to hand mqtt.js in its place (QoS 2, whose handshake is mqtt.js').
   */
  skipped(prefix: Buffer, flags: number, remaining: number): true | Buffer | Promise<void>;
}

/** A skip in progress: the packet's Remaining Length bytes not yet gone past, and the prefix kept of it. */
interface Skipping {
  flags: number;
  remaining: number;
  /** Bytes of the packet still to come. */
  left: number;
  prefix: Buffer;
  /** Bytes of `prefix` filled. */
  kept: number;
  /** The topic length is read and `prefix` has its final size. */
  sized: boolean;
}

const PUBLISH = 3;

/** How the stream keeps the connection alive while a tap holds the socket paused. */
export interface HeldKeepalive {
  /** Half the keepalive, ms. */
  intervalMs: number;
  /** Sends a PINGREQ and restarts the client's keepalive clock. */
  ping(): void;
}

export class PacketStream extends Duplex {
  /** Unparsed bytes: a packet cut by the chunk boundary, or what waits behind a busy tap. */
  private rest?: Buffer;
  /**
   * Chunks that arrived after `rest`, joined only once the packet `rest` starts is complete
   * (`restNeeds` bytes in all): joining on every chunk copied a large packet once per chunk.
   */
  private restChunks: Buffer[] = [];
  private restBytes = 0;
  private restNeeds = 0;
  /** The tap's promise has not settled yet. */
  private waiting = false;
  /** mqtt.js asked for more (its side of the stream is not full). */
  private wanted = true;

  /** While a tap holds the socket paused: the keepalive kept by hand (see `HeldKeepalive`). */
  private heldTimer?: ReturnType<typeof setInterval>;

  /** The oversize PUBLISH being skipped (3.1.1, see `OversizeSkip`). Never set together with `rest` or `waiting`. */
  private skip?: Skipping;

  /**
   * `maxPacketBytes`: the largest packet taken (the Maximum Packet Size the client announced in
   * CONNECT). A longer Remaining Length destroys the stream with MessageTooLargeError as soon as
   * it is read, before any of the packet is buffered. With `oversize` (MQTT 3.1.1, which cannot
   * announce a limit) a longer PUBLISH is skipped and handed to it instead, the stream lives on;
   * other packets have no bound there.
   */
  constructor(readonly socket: Socket, private readonly tap: PublishTap, private readonly maxPacketBytes = MAX_REMAINING_LENGTH + 5,
    private readonly held?: HeldKeepalive, private readonly oversize?: OversizeSkip) {
    super({ decodeStrings: false, allowHalfOpen: false, writableHighWaterMark: 256 * 1024 });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => { if (!this.destroyed) this.destroy(); });
    socket.on('connect', () => this.emit('connect'));
    socket.on('secureConnect', () => this.emit('secureConnect'));
  }

  /**
   * Writes one whole packet to the socket; `written` is called once it went to the kernel (or
   * with the error that stopped it). Packets written in the same tick leave in one writev: a
   * write syscall per packet was a quarter of the publisher's CPU.
   */
  writePacket(packet: Buffer, written?: (err?: Error | null) => void): boolean {
    if (!this.socketCorked) {
      this.socketCorked = true;
      this.socket.cork();
      process.nextTick(this.uncorkSocket);
    }
    return this.socket.write(packet, written);
  }

  private socketCorked = false;
  private readonly uncorkSocket = (): void => {
    this.socketCorked = false;
    this.socket.uncork();
  };

  /**
   * Resolves in the event loop's next check phase, after the poll phase has read what arrived,
   * or once the socket's buffer drained if it is full. QoS 0 publishes wait for this: a write
   * to a socket whose kernel buffer has room completes synchronously, so without a turn of the
   * loop a publisher would starve the process' own subscribers, and Mosquitto drops QoS 0
   * messages for a subscriber that does not read (measured: 70% of a 30k burst).
   */
  afterTurn(): Promise<void> {
    if (this.socket.writableNeedDrain) return this.turn ??= new Promise<void>((resolve) => {
      const done = () => { this.socket.off('drain', done); this.socket.off('close', done); this.turn = undefined; resolve(); };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
    return this.turn ??= new Promise<void>((resolve) => setImmediate(() => { this.turn = undefined; resolve(); }));
  }

  private turn?: Promise<void>;

  get usable(): boolean { return !this.destroyed && this.socket.writable; }

  /** Bytes held in the process: what waits unparsed, plus the prefix kept of a packet being skipped. */
  get bufferedBytes(): number {
    return (this.rest ? this.restBytes : 0) + (this.skip ? this.skip.prefix.length : 0);
  }

  private onData(chunk: Buffer): void {
    if (this.skip !== undefined) {
      const at = this.skipThrough(chunk, 0);
      if (at >= 0 && at < chunk.length) this.split(chunk.subarray(at));
      return;
    }
    if (this.rest) {
      this.restChunks.push(chunk);
      this.restBytes += chunk.length;
      if (this.waiting || this.restBytes < this.restNeeds) return;
    } else if (this.waiting) {
      this.keep(chunk, 0);
      return;
    }
    const buf = this.takeRest() ?? chunk;
    this.split(buf);
  }

  /** Holds `bytes` back until `needs` bytes are there in all (0: until the next chunk). */
  private keep(bytes: Buffer, needs: number): void {
    this.rest = bytes;
    this.restChunks = [bytes];
    this.restBytes = bytes.length;
    this.restNeeds = needs;
  }

  /** Everything held back, as one buffer. */
  private takeRest(): Buffer | undefined {
    if (!this.rest) return undefined;
    const buf = this.restChunks.length === 1 ? this.rest : Buffer.concat(this.restChunks, this.restBytes);
    this.rest = undefined;
    this.restChunks = [];
    this.restBytes = 0;
    this.restNeeds = 0;
    return buf;
  }

  /** Splits `buf` into packets until it runs out or a tap asks to wait. */
  private split(buf: Buffer): void {
    let offset = 0;
    let passFrom = 0;
    let needs = 0;
    while (offset + 2 <= buf.length) {
      // Fixed header: type and flags, then Remaining Length (1 to 4 bytes, 7 bits each).
      let remaining = 0; let multiplier = 1; let i = offset + 1; let byte: number;
      do {
        if (i >= buf.length) { byte = -1; break; }
        byte = buf[i++]!;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
      } while (byte & 0x80 && multiplier <= 128 ** 4);
      if (byte < 0) break;
      if (byte & 0x80) { offset = buf.length; break; } // malformed length: mqtt.js reports it
      const end = i + remaining;
      if (end - offset > this.maxPacketBytes) {
        if (this.oversize === undefined) {
          this.destroy(new MessageTooLargeError(`MQTT packet of ${end - offset} bytes from the broker; at most ${this.maxPacketBytes}`,
            { details: { bytes: end - offset, limit: this.maxPacketBytes } }));
          return;
        }
        if (buf[offset]! >> 4 === PUBLISH) {
          if (passFrom < offset) this.pass(buf.subarray(passFrom, offset));
          this.skip = { flags: buf[offset]! & 0x0f, remaining, left: remaining, prefix: Buffer.allocUnsafe(Math.min(remaining, 2)), kept: 0, sized: false };
          const at = this.skipThrough(buf, i);
          if (at < 0) return;
          offset = passFrom = at;
          continue;
        }
        // 3.1.1, not a PUBLISH (a SUBACK, say): no bound, as before; brokers send none this long.
      }
      if (end > buf.length) { needs = end - offset; break; }
      const first = buf[offset]!;
      if (first >> 4 === PUBLISH) {
        const taken = this.tap(buf, first & 0x0f, i, end);
        if (taken !== false) {
          if (passFrom < offset) this.pass(buf.subarray(passFrom, offset));
          offset = passFrom = end;
          if (taken !== true) {
            this.hold(taken, buf, offset);
            return;
          }
          continue;
        }
      }
      offset = end;
    }
    if (passFrom < offset) this.pass(buf.subarray(passFrom, offset));
    if (offset < buf.length) this.keep(buf.subarray(offset), needs);
  }

  /** Holds the next packet (from `buf[offset]` on) until `p` settles: the socket is paused meanwhile. */
  private hold(p: Promise<void>, buf: Buffer, offset: number): void {
    this.waiting = true;
    this.socket.pause();
    this.keepAliveWhileHeld();
    if (offset < buf.length) this.keep(buf.subarray(offset), 0);
    p.then(() => this.afterTap(), () => this.afterTap());
  }

  /**
   * Goes past the bytes of the packet being skipped that `buf` holds from `from` on, keeping its
   * prefix. Returns where the next packet starts in `buf`, or -1: `buf` is used up (the packet
   * goes on in the next chunk) or the next packet waits for `skipped`'s promise (kept as `rest`).
   */
  private skipThrough(buf: Buffer, from: number): number {
    const s = this.skip!;
    const n = Math.min(s.left, buf.length - from);
    let at = from;
    while (s.kept < s.prefix.length && at < from + n) {
      const take = Math.min(s.prefix.length - s.kept, from + n - at);
      buf.copy(s.prefix, s.kept, at, at + take);
      s.kept += take;
      at += take;
      if (!s.sized && s.kept === s.prefix.length) {
        s.sized = true;
        // Topic (two-byte length), packet id at QoS > 0, then the head of the payload.
        const wanted = s.kept < 2 ? s.kept : Math.min(s.remaining, 2 + s.prefix.readUInt16BE(0) + ((s.flags & 0x06) !== 0 ? 2 : 0) + this.oversize!.headBytes);
        if (wanted > s.kept) {
          const prefix = Buffer.allocUnsafe(wanted);
          s.prefix.copy(prefix, 0, 0, s.kept);
          s.prefix = prefix;
        }
      }
    }
    s.left -= n;
    if (s.left > 0) return -1;
    this.skip = undefined;
    const next = from + n;
    const r = this.oversize!.skipped(s.prefix.subarray(0, s.kept), s.flags, s.remaining);
    if (r === true) return next;
    if (Buffer.isBuffer(r)) { this.pass(r); return next; }
    this.hold(r, buf, next);
    return -1;
  }

  /**
   * A paused socket leaves the broker's PINGRESP behind everything it sent before it (a QoS 0
   * flood puts megabytes in TCP), and mqtt.js would call a live connection dead after a keepalive
   * and a half. So while held: ping every half keepalive (the broker sees the client) and tell
   * mqtt.js not to wait for the answers, which are read when the socket flows again.
   */
  private keepAliveWhileHeld(): void {
    const held = this.held;
    if (held === undefined || this.heldTimer !== undefined) return;
    this.heldTimer = setInterval(() => {
      if (!this.waiting || this.destroyed) { this.stopHeldKeepalive(); return; }
      held.ping();
    }, held.intervalMs);
    this.heldTimer.unref?.();
  }

  private stopHeldKeepalive(): void {
    clearInterval(this.heldTimer);
    this.heldTimer = undefined;
  }

  private afterTap(): void {
    this.waiting = false;
    if (this.destroyed) { this.stopHeldKeepalive(); return; }
    const rest = this.takeRest();
    if (rest) this.split(rest);
    if (!this.waiting && this.wanted) this.socket.resume();
  }

  private pass(bytes: Buffer): void {
    if (!this.push(bytes)) { this.wanted = false; this.socket.pause(); }
  }

  override _read(): void {
    this.wanted = true;
    if (!this.waiting) this.socket.resume();
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer | string; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    let total = 0;
    for (const c of chunks) total += typeof c.chunk === 'string' ? Buffer.byteLength(c.chunk, c.encoding) : c.chunk.length;
    const out = Buffer.allocUnsafe(total);
    let offset = 0;
    for (const c of chunks) {
      if (typeof c.chunk === 'string') offset += out.write(c.chunk, offset, c.encoding);
      else { c.chunk.copy(out, offset); offset += c.chunk.length; }
    }
    this.socket.write(out, callback);
  }

  override _final(callback: (error?: Error | null) => void): void { this.socket.end(callback); }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }
}
