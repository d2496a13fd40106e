/**
 * Writes a message's whole NATS protocol frame into nats.js' outbound buffer as one piece:
 *
 *   HPUB <subject> [reply] <header bytes> <total bytes>\r\n<header block><body>\r\n
 *   PUB <subject> [reply] <body bytes>\r\n<body>\r\n          (no header block)
 *
 * nats.js' `publish` makes the same frame from four pieces: it encodes the protocol line with a
 * TextEncoder into a buffer of its own, wants the header block as bytes (one more `Buffer.from`
 * here), and copies the four pieces of every message into one buffer before each socket write.
 * One frame written from the header block's text costs ~0.5 µs a message less, about 8% of
 * `peers-nats-events` (bench/RESULTS.md, stop 31).
 *
 * It reaches into nats.js' protocol handler (`sendCommand`, `outBytes`, `outMsgs`, `info`,
 * `noMorePublishing`), which is not public API. So it is used only when a connection has every
 * one of those (`FrameWriter.for`, checked once per connection), and only in the plain case: an
 * open connection that is not draining, a server that takes headers (when there are any), a
 * frame within the server's max_payload. Anything else goes through nats.js' own `publish`,
 * which then throws its own error for it. test/integration/nats-frames.test.ts holds the frames
 * to the bytes nats.js writes for the same message, on the installed version.
 */
import type { NatsConnection } from 'nats';

/** The parts of nats.js' protocol handler a frame write uses (nats.js 2.x `ProtocolHandler`). */
interface ProtocolInternals {
  sendCommand(frame: Uint8Array): void;
  outBytes: number;
  outMsgs: number;
  noMorePublishing: boolean;
  info?: { headers?: boolean; max_payload?: number };
}

/**
 * Buffer's own string writers (Node has had them on every Buffer for years, undocumented, as
 * protobufjs uses them): `buf.write(string, offset, encoding)` spends ~100 ns a call on its
 * arguments before doing the same. `write` where they are missing.
 */
interface StringWriters { latin1Write(text: string, offset: number): number; utf8Write(text: string, offset: number): number }
const direct = typeof (Buffer.prototype as Partial<StringWriters>).latin1Write === 'function' && typeof (Buffer.prototype as Partial<StringWriters>).utf8Write === 'function';
const writeLatin1 = direct ? (b: Buffer, text: string, at: number) => (b as unknown as StringWriters).latin1Write(text, at) : (b: Buffer, text: string, at: number) => b.write(text, at, 'latin1');
const writeUtf8 = direct ? (b: Buffer, text: string, at: number) => (b as unknown as StringWriters).utf8Write(text, at) : (b: Buffer, text: string, at: number) => b.write(text, at, 'utf8');

function protocolOf(nc: NatsConnection): ProtocolInternals | undefined {
  const p = (nc as unknown as { protocol?: Partial<ProtocolInternals> }).protocol;
  if (!p || typeof p.sendCommand !== 'function') return undefined;
  if (typeof p.outBytes !== 'number' || typeof p.outMsgs !== 'number' || typeof p.noMorePublishing !== 'boolean') return undefined;
  return p as ProtocolInternals;
}

export class FrameWriter {
  private constructor(readonly connection: NatsConnection, private readonly protocol: ProtocolInternals) {}

  /** A writer for `nc`, or undefined when its nats.js lacks what a frame write needs (then publish through nats.js). */
  static for(nc: NatsConnection): FrameWriter | undefined {
    const protocol = protocolOf(nc);
    return protocol === undefined ? undefined : new FrameWriter(nc, protocol);
  }

  /**
   * Queues the frame for `subject` (with `reply` when given): `headerBlock` is the NATS header
   * block's text (ASCII, as the binding writes it; '' for none), `body` the payload. Returns
   * false, having written nothing, when this is not the plain case: the caller then publishes
   * through nats.js, which refuses the message with its own error or sends it its own way.
   */
  write(subject: string, reply: string | undefined, headerBlock: string, body: Uint8Array): boolean {
    const p = this.protocol;
    const info = p.info;
    const headerBytes = headerBlock.length;
    const total = headerBytes + body.byteLength;
    if (info === undefined || p.noMorePublishing || subject.length === 0 || this.connection.isClosed()) return false;
    if (info.max_payload === undefined || total > info.max_payload || (headerBytes > 0 && info.headers !== true)) return false;
    const target = reply === undefined || reply === '' ? subject : subject + ' ' + reply;
    const line = headerBytes > 0 ? `HPUB ${target} ${headerBytes} ${total}\r\n` : `PUB ${target} ${total}\r\n`;
    // Subjects may be any UTF-8; the line is ASCII but for them.
    const lineBytes = Buffer.byteLength(line, 'utf8');
    const frame = Buffer.allocUnsafe(lineBytes + total + 2);
    let at = lineBytes === line.length ? writeLatin1(frame, line, 0) : writeUtf8(frame, line, 0);
    if (headerBytes > 0) at += writeLatin1(frame, headerBlock, at);
    frame.set(body, at);
    at += body.byteLength;
    frame[at] = 0x0d;
    frame[at + 1] = 0x0a;
    p.outBytes += total;
    p.outMsgs++;
    p.sendCommand(frame);
    return true;
  }
}
