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

  /**
   * `maxPacketBytes`: the largest packet taken (the Maximum Packet Size the client announced in
   * CONNECT). A longer Remaining Length destroys the stream with MessageTooLargeError as soon as
   * it is read, before any of the packet is buffered.
   */
  /** While a tap holds the socket paused: the keepalive kept by hand (see `HeldKeepalive`). */
  private heldTimer?: ReturnType<typeof setInterval>;

  constructor(readonly socket: Socket, private readonly tap: PublishTap, private readonly maxPacketBytes = MAX_REMAINING_LENGTH + 5,
    private readonly held?: HeldKeepalive) {
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

  private onData(chunk: Buffer): void {
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
        this.destroy(new MessageTooLargeError(`MQTT packet of ${end - offset} bytes from the broker; at most ${this.maxPacketBytes}`,
          { details: { bytes: end - offset, limit: this.maxPacketBytes } }));
        return;
      }
      if (end > buf.length) { needs = end - offset; break; }
      const first = buf[offset]!;
      if (first >> 4 === PUBLISH) {
        const taken = this.tap(buf, first & 0x0f, i, end);
        if (taken !== false) {
          if (passFrom < offset) this.pass(buf.subarray(passFrom, offset));
          offset = passFrom = end;
          if (taken !== true) {
            this.waiting = true;
            this.socket.pause();
            this.keepAliveWhileHeld();
            if (offset < buf.length) this.keep(buf.subarray(offset), 0);
            taken.then(() => this.afterTap(), () => this.afterTap());
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
