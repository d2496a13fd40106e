/**
 * The least work any code can do to carry fresh CloudEvents over nats.js' public API, as a
 * peers-* session: what a framework using that API can reach at best, measured against Moleculer
 * the way signalbus is (signalbus's NATS transport writes whole frames past nats.js' `publish`,
 * transports/nats/frames.ts, so its publishing can cost less than this). Two connections
 * (publisher/caller, subscriber/server) on the same server; every event and every request and
 * reply gets a fresh id, time and traceparent (signalbus's batch generators, the cheapest in Node)
 * in a binary-mode header block built by string concatenation, and each receiver reads the block
 * back with a bare line split (no validation, no percent-decoding, no limits) before `JSON.parse`
 * of the body. Replies come back through one wildcard inbox subscription with a token per
 * request, as signalbus's and Moleculer's do. No error handling, no timeouts, no ordering, no
 * backpressure: a floor, not a framework.
 */
import { randomUUID } from 'node:crypto';
import { connect, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import { nowIso } from '../../core/clock.js';
import { newEventId, randomTraceparent } from '../../core/random.js';
import { assertEchoes, checked, type PeerSession } from './session.js';

const te = new TextEncoder();
const td = new TextDecoder();

/** A header block's `ce-<attr>` (and content-type) lines as attributes, split and nothing more: nats.js keeps the raw bytes in `_rdata`, the block's length in `_msg.hdr`. */
export function readBlockBare(m: Msg): Record<string, string> {
  const { _rdata: raw, _msg: { hdr } } = m as unknown as { _rdata: Uint8Array; _msg: { hdr: number } };
  const text = Buffer.from(raw.buffer, raw.byteOffset, hdr).toString('latin1');
  const attributes: Record<string, string> = {};
  for (let at = text.indexOf('\r\n') + 2; at < text.length - 2;) {
    const end = text.indexOf('\r\n', at);
    const colon = text.indexOf(':', at);
    const name = text.slice(at, colon);
    attributes[name.startsWith('ce-') ? name.slice(3) : 'datacontenttype'] = text.slice(colon + 2, end);
    at = end + 2;
  }
  return attributes;
}

/** The block's attributes; throws when it carries no CloudEvent (a floor that read nothing would measure less than it claims). */
export function readEventBare(m: Msg): Record<string, string> {
  const attributes = readBlockBare(m);
  if (attributes.specversion !== '1.0' || attributes.id === undefined) throw new Error('no CloudEvent in the header block');
  return attributes;
}

/** The constant lines of a block (`source`, `type`), then a fresh id, time and traceparent, then `extra` lines: the block's bytes. */
export function freshBlock(source: string, type: string): (id: string, extra: string) => Buffer {
  const start = `NATS/1.0\r\nce-specversion: 1.0\r\nce-source: ${source}\r\nce-type: ${type}\r\ncontent-type: application/json\r\nce-id: `;
  return (id, extra) => Buffer.from(start + id + '\r\nce-time: ' + nowIso() + '\r\nce-traceparent: ' + randomTraceparent() + '\r\n' + extra + '\r\n', 'latin1');
}

/** nats.js headers that encode to `block` (nats.js only calls encode() on the headers it publishes). */
export const prebuilt = (block: Uint8Array): MsgHdrs => ({ encode: () => block }) as unknown as MsgHdrs;

export async function openLeastWork(server: string): Promise<PeerSession> {
  const id = randomUUID().slice(0, 8);
  const events = `bench.peers.least.${id}.reading`;
  const echo = `bench.peers.least.${id}.echo`;
  const inbox = `_INBOX.${randomUUID().replaceAll('-', '')}.`;
  const [pub, sub]: NatsConnection[] = await Promise.all([1, 2].map(() => connect({ servers: server, noAsyncTraces: true })));
  const event = freshBlock('pub@bench', 'sensor.reading');
  const request = freshBlock('pub@bench', 'bench.echo');
  const reply = freshBlock('sub@bench', 'bench.echo.reply');
  let got = 0;
  sub!.subscribe(events, { callback: (_e, m) => { readEventBare(m); JSON.parse(td.decode(m.data)); got++; } });
  sub!.subscribe(echo, { callback: (_e, m) => {
    const asked = readEventBare(m);
    const block = reply(newEventId(), 'ce-correlationid: ' + asked.correlationid + '\r\nce-causationid: ' + asked.id + '\r\n');
    sub!.publish(m.reply!, te.encode(JSON.stringify(JSON.parse(td.decode(m.data)))), { headers: prebuilt(block) });
  } });
  const waiting = new Map<string, (m: Msg) => void>();
  pub!.subscribe(`${inbox}*`, { callback: (_e, m) => { const w = waiting.get(m.subject); if (w) { waiting.delete(m.subject); w(m); } } });
  let token = 0;
  const session: PeerSession = {
    emit: async (data) => { pub!.publish(events, te.encode(JSON.stringify(data)), { headers: prebuilt(event(newEventId(), '')) }); },
    received: () => got,
    call: (data) => new Promise<Msg>((resolve) => {
      const replyTo = inbox + (++token).toString(36);
      waiting.set(replyTo, resolve);
      const eventId = newEventId();
      pub!.publish(echo, te.encode(JSON.stringify(data)), { headers: prebuilt(request(eventId, 'ce-correlationid: ' + eventId + '\r\n')), reply: replyTo });
    }).then((m) => { readEventBare(m); return JSON.parse(td.decode(m.data)) as unknown; }),
    close: async () => { await Promise.all([pub!.drain(), sub!.drain()]); },
  };
  return checked(session, async () => {
    await Promise.all([pub!.flush(), sub!.flush()]);
    const probe = { probe: id };
    assertEchoes('least-work nats.js', probe, await session.call(probe));
  });
}
