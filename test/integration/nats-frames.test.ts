/**
 * The NATS transport writes each message as one frame into nats.js' outbound buffer
 * (transports/nats/frames.ts), reaching past its public API. These tests hold that to nats.js
 * itself on the installed version: the writer is available, its frames are byte for byte the
 * ones nats.js' `publish` makes for the same message, with the same statistics, the server
 * delivers them, and every case the writer leaves to nats.js gets nats.js' own answer.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { connect, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import { MessageTooLargeError, TransportClosedError, type Envelope } from '../../core/index.js';
import { FrameWriter } from '../../transports/nats/frames.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';

const NATS = 'nats://127.0.0.1:4222';
const te = new TextEncoder();

interface Protocol {
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
  outBytes: number;
  outMsgs: number;
  info: { headers?: boolean; max_payload: number };
  noMorePublishing: boolean;
}
const protocolOf = (nc: NatsConnection) => (nc as unknown as { protocol: Protocol }).protocol;

/**
 * What `send` queues on `nc`, as the bytes the socket would get, and the statistics it adds;
 * nothing reaches the server.
 */
function captured(nc: NatsConnection, send: () => void): { bytes: Buffer; outBytes: number; outMsgs: number } {
  const p = protocolOf(nc);
  const own = Object.getOwnPropertyDescriptor(p, 'sendCommand');
  const pieces: Uint8Array[] = [];
  p.sendCommand = (cmd, ...payloads) => { pieces.push(typeof cmd === 'string' ? te.encode(cmd) : cmd, ...payloads); };
  const [outBytes, outMsgs] = [p.outBytes, p.outMsgs];
  try {
    send();
  } finally {
    if (own) Object.defineProperty(p, 'sendCommand', own); else delete (p as Partial<Protocol>).sendCommand;
  }
  return { bytes: Buffer.concat(pieces), outBytes: p.outBytes - outBytes, outMsgs: p.outMsgs - outMsgs };
}

/** nats.js headers that encode to exactly `block` (nats.js only calls encode() on headers it publishes). */
const prebuilt = (block: string) => ({ encode: () => Buffer.from(block, 'latin1') }) as unknown as MsgHdrs;

describe('nats frames', function () {
  this.timeout(20_000);
  let nc: NatsConnection;
  let writer: FrameWriter;
  before(async function () { await requireBroker(this, 'nats'); });
  beforeEach(async () => {
    nc = await connect({ servers: NATS });
    const w = FrameWriter.for(nc);
    // Undefined means the installed nats.js changed its protocol handler: every publish then takes nats.js' slower path.
    expect(w, 'FrameWriter.for(nc) with the installed nats.js').to.not.equal(undefined);
    writer = w!;
  });
  afterEach(async () => { if (!nc.isClosed()) await nc.close(); });

  it('nats frames - property: a frame is byte for byte what nats.js publish queues for the same message, with the same statistics', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9_\-$]{1,12}$/);
    const subject = fc.oneof(
      fc.array(token, { minLength: 1, maxLength: 5 }).map((t) => t.join('.')),
      fc.constantFrom('capteurs.température', 'датчик.1', '传感器.温度'),
    );
    const block = fc.oneof(
      fc.constant(''),
      fc.dictionary(fc.stringMatching(/^ce-[a-z0-9]{1,8}$/), fc.stringMatching(/^[!-$&-~]{1,30}$/), { minKeys: 1, maxKeys: 5 })
        .map((h) => 'NATS/1.0\r\n' + Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n'),
    );
    fc.assert(fc.property(subject, fc.option(subject, { nil: undefined }), block, fc.uint8Array({ maxLength: 300 }), (subj, reply, headerBlock, body) => {
      const ours = captured(nc, () => { expect(writer.write(subj, reply, headerBlock, body)).to.equal(true); });
      const options = headerBlock === '' ? { reply } : { headers: prebuilt(headerBlock), reply };
      const theirs = captured(nc, () => nc.publish(subj, body, options));
      expect(ours.bytes.toString('latin1')).to.equal(theirs.bytes.toString('latin1'));
      expect([ours.outBytes, ours.outMsgs]).to.deep.equal([theirs.outBytes, theirs.outMsgs]);
    }), { numRuns: 300 });
  });

  it('nats frames - the server delivers written frames with their headers, reply subject and body', async () => {
    const subject = `frames.${randomUUID().slice(0, 8)}`;
    const got: Msg[] = [];
    const sub = await connect({ servers: NATS });
    try {
      sub.subscribe(`${subject}.>`, { callback: (_e, m) => { got.push(m); } });
      await sub.flush();
      expect(writer.write(`${subject}.h`, 'reply.here', 'NATS/1.0\r\nce-id: 1\r\nce-type: t\r\n\r\n', te.encode('{"a":1}'))).to.equal(true);
      expect(writer.write(`${subject}.plain`, undefined, '', te.encode('bare ünïcode'))).to.equal(true);
      await waitFor(() => got.length === 2, { timeoutMs: 5000, what: 'both frames' });
      const [withHeaders, plain] = [got.find((m) => m.subject.endsWith('.h'))!, got.find((m) => m.subject.endsWith('.plain'))!];
      expect(withHeaders.reply).to.equal('reply.here');
      expect(withHeaders.headers?.get('ce-id')).to.equal('1');
      expect(withHeaders.headers?.get('ce-type')).to.equal('t');
      expect(new TextDecoder().decode(withHeaders.data)).to.equal('{"a":1}');
      expect(plain.headers).to.equal(undefined);
      expect(new TextDecoder().decode(plain.data)).to.equal('bare ünïcode');
    } finally {
      await sub.close();
    }
  });

  it('nats frames - leaves to nats.js what is not the plain case: over max_payload, no header support, an empty subject, draining, closed', async () => {
    const p = protocolOf(nc);
    const block = 'NATS/1.0\r\nce-id: 1\r\n\r\n';
    const nothing = (send: () => boolean) => { const c = captured(nc, () => { expect(send()).to.equal(false); }); expect(c.bytes.length).to.equal(0); };
    nothing(() => writer.write('a.b', undefined, block, new Uint8Array(p.info.max_payload - block.length + 1)));
    expect(writer.write('a.b', undefined, '', new Uint8Array(p.info.max_payload))).to.equal(true);
    const info = p.info;
    p.info = { ...info, headers: false };
    try {
      nothing(() => writer.write('a.b', undefined, block, new Uint8Array(1)));
      expect(captured(nc, () => { expect(writer.write('a.b', undefined, '', new Uint8Array(1))).to.equal(true); }).outMsgs).to.equal(1);
    } finally {
      p.info = info;
    }
    nothing(() => writer.write('', undefined, block, new Uint8Array(1)));
    // Draining: nats.js takes publishes until its subscriptions are drained, then none; the writer follows the same flag.
    p.noMorePublishing = true;
    try {
      nothing(() => writer.write('a.b', undefined, block, new Uint8Array(1)));
      expect(() => nc.publish('a.b', new Uint8Array(1))).to.throw(/draining/i);
    } finally {
      p.noMorePublishing = false;
    }
    await nc.close();
    nothing(() => writer.write('a.b', undefined, block, new Uint8Array(1)));
  });

  it('nats frames - FrameWriter.for refuses a connection without the protocol handler it writes into', () => {
    for (const protocol of [undefined, {}, { sendCommand() {}, outBytes: 0, outMsgs: 0 }, { sendCommand: 1, outBytes: 0, outMsgs: 0, noMorePublishing: false }]) {
      expect(FrameWriter.for({ protocol } as unknown as NatsConnection)).to.equal(undefined);
    }
  });

  it('nats frames - through the transport: over max_payload is MessageTooLargeError (nats.js refuses it), after close TransportClosedError', async () => {
    const transport = new NatsTransport({ servers: NATS });
    await transport.connect();
    const subject = `frames.${randomUUID().slice(0, 8)}`;
    const envelope = (size: number): Envelope => ({ specversion: '1.0', id: randomUUID(), source: 'frames@test', type: 't', datacontenttype: 'application/octet-stream', data: new Uint8Array(size) });
    const got: Msg[] = [];
    nc.subscribe(subject, { callback: (_e, m) => { got.push(m); } });
    await nc.flush();
    let err: unknown;
    try { await transport.publish(subject, envelope(protocolOf(nc).info.max_payload)); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(MessageTooLargeError);
    await transport.publish(subject, envelope(1000));
    await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the message within max_payload' });
    expect(got[0]!.data.byteLength).to.equal(1000);
    await transport.close();
    err = undefined;
    try { await transport.publish(subject, envelope(1)); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(TransportClosedError);
  });
});
