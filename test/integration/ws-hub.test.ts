/**
 * The hub and the client against each other and against a plain `ws` client that knows only the
 * documented frames (transports/websocket/README.md). No broker needed: the hub is the server.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { Bus, type Envelope } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { connect } from 'nats';
import { transportFromUrl } from '../../transports/index.js';
import { hostHub, WebSocketHub, type WebSocketHubOptions } from '../../hub/index.js';
import { CLOSE_CODES, SUBPROTOCOL, WebSocketTransport } from '../../transports/websocket/index.js';
import { missingPrerequisite, requireBroker } from '../helpers/brokers.js';
import { waitFor, sleep } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
type Frame = Record<string, unknown> & { op?: string };

function event(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { specversion: '1.0', id: randomUUID(), source: 'plain-client', type: 'test.plain', datacontenttype: 'application/json', data: { n: 1 }, ...extra };
}

/** A plain `ws` client that records every frame it receives. */
class PlainClient {
  readonly frames: Frame[] = [];
  closeCode?: number;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => { if (!isBinary) this.frames.push(JSON.parse(data.toString()) as Frame); });
    ws.on('close', (code) => { this.closeCode = code; });
  }

  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<PlainClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, SUBPROTOCOL, options);
      ws.once('open', () => resolve(new PlainClient(ws)));
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void { this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)); }

  async next(match: (f: Frame) => boolean, what: string, ms = 2000): Promise<Frame> {
    await waitFor(() => this.frames.some(match), { timeoutMs: ms, what });
    return this.frames.find(match)!;
  }

  /** Resolves once the hub acked frame `id` (acks are batched: look inside every ack frame). */
  acked(id: unknown, ms = 2000): Promise<Frame> {
    return this.next((f) => f.op === 'ack' && (f.ids as unknown[]).includes(id), `ack of ${String(id)}`, ms);
  }

  close(): void { this.ws.terminate(); }
}

/** The status and body a refused upgrade answers with. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, SUBPROTOCOL, { headers });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); ws.terminate(); });
    });
    ws.on('open', () => { ws.terminate(); reject(new Error('the upgrade was accepted')); });
    ws.on('error', () => {});
  });
}

/** An upgrade request written by hand (so headers can repeat); resolves with the answer's head. */
function rawUpgrade(url: string, path: string, lines: Array<[string, string]>): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write([`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
        'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, `Sec-WebSocket-Protocol: ${SUBPROTOCOL}`,
        ...lines.map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n'));
    });
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (text.includes('\r\n\r\n')) { socket.destroy(); resolve(text); }
    });
    socket.on('error', reject);
  });
}

function jwt(claims: Record<string, unknown>, expiresAt: number | string = '1h'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('user-1').setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(SECRET));
}

describe('websocket hub (integration)', function () {
  this.timeout(30_000);
  const cleanups: Array<() => Promise<void> | void> = [];
  let prefix = '';

  async function hubWithBus(options: Omit<WebSocketHubOptions, 'bus'> = {}): Promise<{ hub: WebSocketHub; bus: Bus }> {
    const bus = new Bus({ service: 'hub@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const hub = new WebSocketHub({ bus, logger: silentLogger, ...options });
    await hub.listen();
    cleanups.push(async () => { await hub.close(); await bus.stop(); });
    return { hub, bus };
  }

  async function plain(url: string, options?: WebSocket.ClientOptions): Promise<PlainClient> {
    const c = await PlainClient.open(url, options);
    cleanups.push(() => c.close());
    return c;
  }

  async function client(url: string, extra: Partial<ConstructorParameters<typeof WebSocketTransport>[0]> = {}): Promise<WebSocketTransport> {
    const t = new WebSocketTransport({ url, logger: silentLogger, ...extra });
    cleanups.push(() => t.close());
    return t;
  }

  beforeEach(() => { prefix = `ws${randomUUID().slice(0, 8)}`; });
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

  // ------------------------------------------------------------ interop

  it('ws hub - a plain ws client subscribes, publishes with acks, receives and acks deliveries using only the documented frames', async () => {
    const { hub, bus } = await hubWithBus();
    const sub = await plain(hub.url);
    const pub = await plain(hub.url);
    sub.send({ op: 'sub', id: 's-1', sid: 'mine', pattern: `${prefix}.*`, inflight: 10 });
    await sub.acked('s-1');
    const fromBus: Envelope[] = [];
    await bus.subscribe(`${prefix}.>`, async (m) => { fromBus.push(m); });

    const e = event();
    pub.send({ op: 'pub', id: 1, subject: `${prefix}.a`, event: e });
    await pub.acked(1);
    const msg = await sub.next((f) => f.op === 'msg', 'the delivery');
    expect(msg.sid).to.equal('mine');
    expect(msg.subject).to.equal(`${prefix}.a`);
    expect(msg.id).to.be.a('number');
    expect(msg.event).to.deep.equal(e);
    sub.send({ op: 'ack', ids: [msg.id] });
    await waitFor(() => fromBus.length === 1, { timeoutMs: 2000, what: 'the bus subscriber' });
    expect(fromBus[0]!.id).to.equal(e.id);

    // A bare CloudEvent, routed by its subject attribute.
    const bare = event({ subject: `${prefix}.b` });
    pub.send(bare);
    const second = await sub.next((f) => f.op === 'msg' && (f.event as Envelope).id === bare.id, 'the bare event');
    expect(second.subject).to.equal(`${prefix}.b`);

    // Bus -> client.
    await bus.publish(`${prefix}.c`, { from: 'bus' });
    const third = await sub.next((f) => f.op === 'msg' && f.subject === `${prefix}.c`, 'the bus event');
    expect((third.event as Envelope).data).to.deep.equal({ from: 'bus' });

    // Unsubscribe: nothing more arrives. A marker on another subscription follows the event: the
    // connection keeps order, so once the marker is in, the event would be too.
    sub.send({ op: 'unsub', id: 'u-1', sid: 'mine' });
    await sub.acked('u-1');
    sub.send({ op: 'sub', id: 'm-1', sid: 'marker', pattern: `${prefix}.marker` });
    await sub.acked('m-1');
    const before = sub.frames.filter((f) => f.op === 'msg').length;
    await bus.publish(`${prefix}.d`, 1);
    await bus.publish(`${prefix}.marker`, 'marker');
    await sub.next((f) => f.op === 'msg' && f.subject === `${prefix}.marker`, 'the marker');
    expect(sub.frames.filter((f) => f.op === 'msg').length, 'only the marker').to.equal(before + 1);
  });

  it('ws hub - a bare subscription receives plain CloudEvents, one per text frame', async () => {
    const { hub, bus } = await hubWithBus();
    const sub = await plain(hub.url);
    sub.send({ op: 'sub', id: 1, sid: 'b', pattern: `${prefix}.>`, bare: true });
    await sub.acked(1);
    const sent = await bus.publish(`${prefix}.x`, { v: 2 }, { type: 'test.bare' });
    const got = await sub.next((f) => f.specversion === '1.0', 'the bare event');
    expect(got.id).to.equal(sent.id);
    expect(got.type).to.equal('test.bare');
    expect(got.data).to.deep.equal({ v: 2 });
  });

  it('ws hub - holds deliveries beyond the inflight window until the client acks', async () => {
    const { hub, bus } = await hubWithBus();
    const sub = await plain(hub.url);
    sub.send({ op: 'sub', id: 1, sid: 'w', pattern: `${prefix}.w`, inflight: 2 });
    await sub.acked(1);
    sub.send({ op: 'sub', id: 2, sid: 'm', pattern: `${prefix}.marker` });
    await sub.acked(2);
    const published = Promise.all([1, 2, 3, 4].map((i) => bus.publish(`${prefix}.w`, i)));
    // The marker follows the four on the same connection: without the window, all four would come before it.
    await bus.publish(`${prefix}.marker`, 'marker');
    await sub.next((f) => f.op === 'msg' && f.sid === 'm', 'the marker');
    const msgs = () => sub.frames.filter((f) => f.op === 'msg' && f.sid === 'w');
    expect(msgs().length, 'the window holds the rest back').to.equal(2);
    sub.send({ op: 'ack', ids: [msgs()[0]!.id] });
    await waitFor(() => msgs().length === 3, { timeoutMs: 2000, what: 'the third delivery' });
    sub.send({ op: 'ack', ids: msgs().slice(1).map((f) => f.id) });
    await waitFor(() => msgs().length === 4, { timeoutMs: 2000, what: 'the fourth delivery' });
    sub.send({ op: 'ack', ids: [msgs()[3]!.id] });
    await published;
    expect(msgs().map((f) => (f.event as Envelope).data)).to.deep.equal([1, 2, 3, 4]);
  });

  it('ws hub - a plain client sends a request frame and a client answers delivered requests', async () => {
    const { hub } = await hubWithBus();
    const responder = await plain(hub.url);
    responder.send({ op: 'sub', id: 1, sid: 'r', pattern: `${prefix}.add` });
    await responder.acked(1);
    responder.ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame;
      if (f.op !== 'msg' || !f.req) return;
      const d = (f.event as Envelope).data as { a: number; b: number };
      responder.send({ op: 'reply', ref: f.id, event: event({ type: 'test.sum', data: { sum: d.a + d.b } }) });
    });
    const requester = await plain(hub.url);
    requester.send({ op: 'req', id: 'q1', subject: `${prefix}.add`, timeout: 2000, event: event({ data: { a: 2, b: 5 } }) });
    const reply = await requester.next((f) => f.op === 'reply' && f.ref === 'q1', 'the reply');
    expect((reply.event as Envelope).data).to.deep.equal({ sum: 7 });
    requester.send({ op: 'req', id: 'q2', subject: `${prefix}.nobody`, timeout: 200, event: event() });
    const none = await requester.next((f) => f.op === 'error' && f.ref === 'q2', 'the no-responders error');
    expect(none.code).to.equal('SB_ERR_REQUEST_NO_RESPONDERS');
  });

  it('ws hub - clients get CloudEvents only: a device payload on their subjects (NATS) is not relayed', async function () {
    await requireBroker(this, 'nats');
    const bus = new Bus({ service: 'hub@test', transport: new NatsTransport({ servers: '127.0.0.1:4222' }), metrics: false, logger: silentLogger });
    const hub = new WebSocketHub({ bus, logger: silentLogger });
    await hub.listen();
    cleanups.push(async () => { await hub.close(); await bus.stop(); });
    const plainNats = await connect({ servers: '127.0.0.1:4222' });
    cleanups.push(() => plainNats.close());
    const sub = await plain(hub.url);
    sub.send({ op: 'sub', id: 1, sid: 's', pattern: `${prefix}.*` });
    await sub.acked(1);
    plainNats.publish(`${prefix}.device`, new TextEncoder().encode('{"temperature":21.5}'));
    await plainNats.flush();
    // The CloudEvent follows the device payload into the same subscription: once it is in, the payload was seen.
    await bus.publish(`${prefix}.event`, { n: 1 });
    await sub.next((f) => f.op === 'msg' && f.subject === `${prefix}.event`, 'the CloudEvent');
    expect(sub.frames.filter((f) => f.op === 'msg' && f.subject === `${prefix}.device`), 'the device payload').to.deep.equal([]);
  });

  // ------------------------------------------------------------ bad input

  it('ws hub - answers bad JSON, invalid envelopes, control characters and binary frames with error frames and keeps the connection', async () => {
    const { hub, bus } = await hubWithBus();
    const got: Envelope[] = [];
    await bus.subscribe(`${prefix}.>`, async (m) => { got.push(m); });
    const c = await plain(hub.url);
    c.send('{"op":"pub", this is not json');
    expect((await c.next((f) => f.op === 'error' && f.code === 'SB_ERR_CODEC_DECODE', 'bad JSON error')).ref).to.equal(undefined);
    c.send({ op: 'pub', id: 2, subject: `${prefix}.x`, event: { specversion: '1.0', id: 'no-source', type: 't' } });
    expect((await c.next((f) => f.ref === 2, 'invalid envelope error')).code).to.equal('SB_ERR_ENVELOPE_INVALID');
    c.send({ op: 'pub', id: 3, subject: `${prefix}.x`, event: event({ myext: 'line\r\nX-Injected: 1' }) });
    expect((await c.next((f) => f.ref === 3, 'header error')).code).to.equal('SB_ERR_HEADER_INVALID');
    c.send({ op: 'pub', id: 4, subject: `${prefix}..x`, event: event() });
    expect((await c.next((f) => f.ref === 4, 'subject error')).code).to.equal('SB_ERR_SUBJECT_INVALID');
    c.send(event()); // a bare event without a subject attribute
    expect((await c.next((f) => f.op === 'error' && f.code === 'SB_ERR_SUBJECT_INVALID' && f.ref === undefined, 'no-subject error')).eventid).to.be.a('string');
    c.send({ op: 'sub', id: 5, sid: 's', pattern: `${prefix}.>.x` });
    expect((await c.next((f) => f.ref === 5, 'pattern error')).code).to.equal('SB_ERR_PATTERN_INVALID');
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await c.next((f) => f.op === 'error' && f.ref === undefined && f.code === 'SB_ERR_ENVELOPE_INVALID', 'binary frame error');
    // Still up: a good publish is accepted and delivered.
    c.send({ op: 'pub', id: 6, subject: `${prefix}.ok`, event: event() });
    await c.acked(6);
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the good event' });
    expect(got[0]!.type).to.equal('test.plain');
    expect(c.closeCode).to.equal(undefined);
  });

  it('ws hub - answers a frame or event that repeats a member name with SB_ERR_ENVELOPE_INVALID and publishes none of it', async () => {
    const { hub, bus } = await hubWithBus();
    const got: Envelope[] = [];
    await bus.subscribe(`${prefix}.>`, async (m) => { got.push(m); });
    const c = await plain(hub.url);
    const text = JSON.stringify(event({ tenant: 'acme' }));
    // The hub keeps the last "tenant" (JSON.parse); a proxy in front of it may have checked the first.
    const twice = text.replace('"tenant":"acme"', '"tenant":"acme","tenant":"evil"');
    c.send(`{"op":"pub","id":1,"subject":"${prefix}.x","event":${twice}}`); // the canonical layout (relayed as is when valid)
    const first = await c.next((f) => f.ref === 1, 'the error of pub 1');
    expect(first).to.include({ op: 'error', code: 'SB_ERR_ENVELOPE_INVALID' });
    expect(first.message).to.include('"tenant"');
    c.send(`{"subject":"${prefix}.x","op":"pub","id":2,"event":${twice}}`);
    expect((await c.next((f) => f.ref === 2, 'the error of pub 2')).code).to.equal('SB_ERR_ENVELOPE_INVALID');
    c.send(`{"op":"req","id":3,"subject":"${prefix}.svc","timeout":500,"event":${twice}}`);
    expect((await c.next((f) => f.ref === 3, 'the error of req 3')).code).to.equal('SB_ERR_ENVELOPE_INVALID');
    c.send(`{"op":"pub","id":4,"subject":"${prefix}.x","subject":"${prefix}.y","event":${text}}`);
    expect((await c.next((f) => f.ref === 4, 'the error of pub 4')).code).to.equal('SB_ERR_ENVELOPE_INVALID');
    // A bare event with two ids.
    c.send(JSON.stringify(event({ subject: `${prefix}.x` })).replace('{', '{"id":"first",'));
    const bare = await c.next((f) => f.op === 'error' && f.ref === undefined && f.code === 'SB_ERR_ENVELOPE_INVALID', 'the error of the bare event');
    expect(bare.message).to.include('"id"');
    // Still up, and only the good publish reached the bus.
    const good = event({ tenant: 'acme' });
    c.send({ op: 'pub', id: 5, subject: `${prefix}.ok`, event: good });
    await c.acked(5);
    await waitFor(() => got.length > 0, { timeoutMs: 2000, what: 'the good event' });
    expect(got.map((e) => e.id)).to.deep.equal([good.id]);
    expect(c.closeCode).to.equal(undefined);
  });

  // ------------------------------------------------------------ auth and tenants

  describe('auth', () => {
    const auth = { jwt: { secret: SECRET }, apiKeys: { 'key-globex-123': 'globex' } };

    it('ws hub - refuses an upgrade without a token with 401 and a problem body', async () => {
      const { hub } = await hubWithBus({ auth });
      const { status, body } = await upgradeStatus(hub.url);
      expect(status).to.equal(401);
      expect(JSON.parse(body).code).to.equal('SB_ERR_AUTH_UNAUTHORIZED');
      const t = await client(hub.url);
      const err = await t.connect().then(() => null, (e: unknown) => e);
      expect((err as { code?: string })?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
    });

    it('ws hub - refuses an expired token and a token signed with another key with 401', async () => {
      const { hub } = await hubWithBus({ auth });
      const expired = await jwt({ tenant: 'acme' }, Math.floor(Date.now() / 1000) - 120);
      expect((await upgradeStatus(hub.url, { authorization: `Bearer ${expired}` })).status).to.equal(401);
      const forged = await new SignJWT({ tenant: 'acme' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h')
        .sign(new TextEncoder().encode('another-secret-that-is-at-least-32-bytes!!'));
      expect((await upgradeStatus(hub.url, { authorization: `Bearer ${forged}` })).status).to.equal(401);
      expect((await upgradeStatus(hub.url, { 'x-api-key': 'not-a-key-at-all' })).status).to.equal(401);
    });

    it('ws hub - refuses an upgrade with two credentials (repeated headers, or a header and ?access_token) with 401', async () => {
      const { hub } = await hubWithBus({ auth });
      const acme = `Bearer ${await jwt({ tenant: 'acme' })}`;
      const token = await jwt({ tenant: 'acme' });
      const expectRefused = async (path: string, lines: Array<[string, string]>) => {
        const answer = await rawUpgrade(hub.url, path, lines);
        expect(answer.split(' ', 2)[1], answer).to.equal('401');
        expect(answer).to.include('SB_ERR_AUTH_UNAUTHORIZED');
      };
      await expectRefused('/', [['authorization', acme], ['Authorization', 'Bearer junk']]);
      await expectRefused('/', [['x-api-key', 'key-globex-123'], ['X-Api-Key', 'key-globex-123']]);
      await expectRefused(`/?access_token=${token}&access_token=${token}`, []);
      await expectRefused(`/?access_token=${token}`, [['authorization', acme]]);
      // One credential, either way, is let in.
      expect((await rawUpgrade(hub.url, '/', [['authorization', acme]])).split(' ', 2)[1]).to.equal('101');
      expect((await rawUpgrade(hub.url, `/?access_token=${token}`, [])).split(' ', 2)[1]).to.equal('101');
    });

    it('ws hub - stamps the tenant from the token and ignores a forged client tenant', async () => {
      const { hub, bus } = await hubWithBus({ auth });
      const got: Envelope[] = [];
      await bus.subscribe('acme.>', async (m) => { got.push(m); });
      const c = await plain(hub.url, { headers: { authorization: `Bearer ${await jwt({ tenant: 'acme' })}` } });
      c.send({ op: 'pub', id: 1, subject: `acme.${prefix}.x`, event: event({ tenant: 'globex' }) });
      await c.acked(1);
      c.send({ op: 'pub', id: 2, subject: `acme.${prefix}.y`, event: event() });
      await c.acked(2);
      await waitFor(() => got.length === 2, { timeoutMs: 2000, what: 'both events' });
      expect(got.map((e) => e.tenant)).to.deep.equal(['acme', 'acme']);
    });

    it('ws hub - keeps a tenant to its own subjects (publish, subscribe, request)', async () => {
      const { hub } = await hubWithBus({ auth });
      const c = await plain(hub.url, { headers: { authorization: `Bearer ${await jwt({ tenant: 'acme' })}` } });
      c.send({ op: 'pub', id: 1, subject: `globex.${prefix}.x`, event: event() });
      expect((await c.next((f) => f.ref === 1, 'publish refused')).code).to.equal('SB_ERR_AUTH_FORBIDDEN');
      c.send({ op: 'sub', id: 2, sid: 'a', pattern: 'globex.>' });
      expect((await c.next((f) => f.ref === 2, 'subscribe refused')).code).to.equal('SB_ERR_AUTH_FORBIDDEN');
      c.send({ op: 'sub', id: 3, sid: 'b', pattern: '>' });
      expect((await c.next((f) => f.ref === 3, 'wildcard refused')).code).to.equal('SB_ERR_AUTH_FORBIDDEN');
      c.send({ op: 'sub', id: 4, sid: 'c', pattern: '*.orders' });
      expect((await c.next((f) => f.ref === 4, 'leading wildcard refused')).code).to.equal('SB_ERR_AUTH_FORBIDDEN');
      c.send({ op: 'req', id: 5, subject: `globex.${prefix}.svc`, event: event() });
      expect((await c.next((f) => f.ref === 5, 'request refused')).code).to.equal('SB_ERR_AUTH_FORBIDDEN');
      c.send({ op: 'sub', id: 6, sid: 'd', pattern: 'acme.>' });
      await c.acked(6);
    });

    it('ws hub - a token of another tenant sees nothing of this tenant', async () => {
      const { hub, bus } = await hubWithBus({ auth });
      const acme = await client(hub.url, { token: await jwt({ tenant: 'acme' }) });
      const globex = await client(`${hub.url}`, { headers: { 'x-api-key': 'key-globex-123' } });
      const acmeBus = new Bus({ service: 'acme', transport: acme, metrics: false, logger: silentLogger });
      const globexBus = new Bus({ service: 'globex', transport: globex, metrics: false, logger: silentLogger });
      cleanups.push(() => acmeBus.stop(), () => globexBus.stop());
      // One subject both tenants reach for: only the tenant scoping keeps globex off acme's subject.
      const shared = `acme.${prefix}.orders`;
      const acmeSeen: unknown[] = []; const globexSeen: unknown[] = []; const markers: unknown[] = [];
      await acmeBus.subscribe(shared, async (m) => { acmeSeen.push(m.data); });
      const refused = await globexBus.subscribe(shared, async (m) => { globexSeen.push(m.data); }).then(() => null, (e: unknown) => e);
      expect((refused as { code?: string })?.code).to.equal('SB_ERR_AUTH_FORBIDDEN');
      const forbidden = await globexBus.publish(shared, 'from globex').then(() => null, (e: unknown) => e);
      expect((forbidden as { code?: string })?.code).to.equal('SB_ERR_AUTH_FORBIDDEN');
      await globexBus.subscribe(`globex.${prefix}.marker`, async (m) => { markers.push(m.data); });
      await acmeBus.publish(shared, 'from acme');
      // The marker leaves the hub after acme's event: once globex has it, globex would have had the event too.
      await bus.publish(`globex.${prefix}.marker`, 'marker', { headers: { tenant: 'globex' } });
      await waitFor(() => markers.length === 1 && acmeSeen.length === 1, { timeoutMs: 2000, what: 'the marker at globex and the event at acme' });
      expect(globexSeen, 'what globex saw of acme').to.deep.equal([]);
      expect(acmeSeen).to.deep.equal(['from acme']);
    });

    // One shared subject, carrying every tenant's events: only the `tenant` attribute can keep them apart.
    for (const subjectPrefix of [false, undefined] as const) {
      const mode = subjectPrefix === false ? 'subjectPrefix false' : 'subjectPrefix on';
      const sharedOf = (p: string) => (subjectPrefix === false ? `${p}.events` : `acme.${p}.events`);

      it(`ws hub - a tenant's subscription delivers only its own tenant's events on a shared subject (${mode})`, async () => {
        const { hub, bus } = await hubWithBus({ auth: { ...auth, subjectPrefix } });
        const shared = sharedOf(prefix);
        const acme = await plain(hub.url, { headers: { authorization: `Bearer ${await jwt({ tenant: 'acme' })}` } });
        acme.send({ op: 'sub', id: 1, sid: 'exact', pattern: shared });
        acme.send({ op: 'sub', id: 2, sid: 'wild', pattern: shared.replace(/\.events$/, '.>') });
        acme.send({ op: 'sub', id: 3, sid: 'bare', pattern: shared, bare: true });
        await acme.acked(3);
        let globex: PlainClient | undefined;
        if (subjectPrefix === false) {
          globex = await plain(hub.url, { headers: { 'x-api-key': 'key-globex-123' } });
          globex.send({ op: 'sub', id: 1, sid: 'exact', pattern: shared });
          await globex.acked(1);
          globex.send({ op: 'pub', id: 2, subject: shared, event: event({ data: 'globex via hub' }) });
          await globex.acked(2);
        }
        acme.send({ op: 'pub', id: 4, subject: shared, event: event({ data: 'acme via hub' }) });
        await acme.acked(4);
        // From the bus behind the hub: another tenant's event, an untenanted one, then one marker per tenant.
        await bus.publish(shared, 'globex via bus', { headers: { tenant: 'globex' } });
        await bus.publish(shared, 'no tenant');
        await bus.publish(shared, 'acme marker', { headers: { tenant: 'acme' } });
        await bus.publish(shared, 'globex marker', { headers: { tenant: 'globex' } });
        const seen = (c: PlainClient, sid: string) => c.frames.filter((f) => (sid === 'bare' ? f.specversion !== undefined : f.op === 'msg' && f.sid === sid))
          .map((f) => ((sid === 'bare' ? f : f.event) as Record<string, unknown>).data);
        // Deliveries keep their order: once a subscription has its marker, it would have had the others too.
        await waitFor(() => ['exact', 'wild', 'bare'].every((sid) => seen(acme, sid).includes('acme marker')), { timeoutMs: 2000, what: 'the acme marker on every acme subscription' });
        for (const sid of ['exact', 'wild', 'bare']) expect(seen(acme, sid), `acme ${sid}`).to.deep.equal(['acme via hub', 'acme marker']);
        if (globex) {
          await waitFor(() => seen(globex, 'exact').includes('globex marker'), { timeoutMs: 2000, what: 'the globex marker' });
          expect(seen(globex, 'exact'), 'globex').to.deep.equal(['globex via hub', 'globex via bus', 'globex marker']);
        }
      });

      it(`ws hub - a tenant's request reaches no other tenant's responder on a shared subject (${mode})`, async () => {
        const { hub, bus } = await hubWithBus({ auth: { ...auth, subjectPrefix } });
        const svc = sharedOf(prefix).replace(/\.events$/, '.svc');
        // The other tenant's responder: with prefixes on it stands behind the bus (a globex service), without them on the hub.
        const globexSaw: unknown[] = [];
        if (subjectPrefix === false) {
          const globex = await plain(hub.url, { headers: { 'x-api-key': 'key-globex-123' } });
          globex.send({ op: 'sub', id: 1, sid: 'svc', pattern: svc });
          await globex.acked(1);
          const answer = (f: Frame) => {
            if (f.op !== 'msg') return;
            globexSaw.push((f.event as Record<string, unknown>).data);
            if (f.req === true) globex.send({ op: 'reply', ref: f.id, event: event({ data: 'answered by globex' }) });
          };
          globex.ws.on('message', (d) => answer(JSON.parse(d.toString()) as Frame));
        }
        const acme = await plain(hub.url, { headers: { authorization: `Bearer ${await jwt({ tenant: 'acme' })}` } });
        acme.send({ op: 'sub', id: 1, sid: 'svc', pattern: svc, inflight: 1 });
        await acme.acked(1);
        acme.ws.on('message', (d) => {
          const f = JSON.parse(d.toString()) as Frame;
          if (f.op === 'msg' && f.req === true) acme.send({ op: 'reply', ref: f.id, event: event({ data: 'answered by acme' }) });
        });
        // A request from the bus on behalf of globex must not reach acme's responder either.
        const globexRequest = await bus.request(svc, 'globex asks', { timeoutMs: 300, headers: { tenant: 'globex' } }).then((r) => r.data, (e: unknown) => (e as { code?: string }).code);
        expect(globexRequest, 'a globex request answered by acme').to.not.equal('answered by acme');
        acme.send({ op: 'req', id: 2, subject: svc, event: event({ data: 'acme asks' }), timeout: 2000 });
        const reply = await acme.next((f) => f.op === 'reply' && f.ref === 2, 'the reply to acme');
        expect((reply.event as Record<string, unknown>).data).to.equal('answered by acme');
        expect((reply.event as Record<string, unknown>).tenant).to.equal('acme');
        expect(globexSaw, 'acme requests seen by globex').to.not.include('acme asks');
      });

      // With prefixes on, two tenants cannot subscribe to one subject, so only this mode can share a group.
      if (subjectPrefix === false) it(`ws hub - tenants naming the same consumer group on a shared subject each get all their own events (${mode})`, async () => {
        const { hub, bus } = await hubWithBus({ auth: { ...auth, subjectPrefix } });
        const shared = sharedOf(prefix);
        const acme = await plain(hub.url, { headers: { authorization: `Bearer ${await jwt({ tenant: 'acme' })}` } });
        const globex = await plain(hub.url, { headers: { 'x-api-key': 'key-globex-123' } });
        acme.send({ op: 'sub', id: 1, sid: 'g', pattern: shared, group: 'workers' });
        globex.send({ op: 'sub', id: 1, sid: 'g', pattern: shared, group: 'workers' });
        await acme.acked(1);
        await globex.acked(1);
        for (let i = 0; i < 4; i++) {
          await bus.publish(shared, `acme ${i}`, { headers: { tenant: 'acme' } });
          await bus.publish(shared, `globex ${i}`, { headers: { tenant: 'globex' } });
        }
        const seen = (c: PlainClient) => c.frames.filter((f) => f.op === 'msg').map((f) => (f.event as Record<string, unknown>).data);
        await waitFor(() => seen(acme).includes('acme 3') && seen(globex).includes('globex 3'), { timeoutMs: 2000, what: 'the last event of each tenant' });
        expect(seen(acme)).to.deep.equal(['acme 0', 'acme 1', 'acme 2', 'acme 3']);
        expect(seen(globex)).to.deep.equal(['globex 0', 'globex 1', 'globex 2', 'globex 3']);
      });
    }

    it('ws hub - accepts the bearer token as an access_token query parameter (browsers)', async () => {
      const { hub, bus } = await hubWithBus({ auth });
      const got: Envelope[] = [];
      await bus.subscribe('acme.>', async (m) => { got.push(m); });
      const c = await plain(`${hub.url}?access_token=${await jwt({ tenant: 'acme' })}`);
      c.send({ op: 'pub', id: 1, subject: `acme.${prefix}.q`, event: event() });
      await c.acked(1);
      await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the event' });
      expect(got[0]!.tenant).to.equal('acme');
    });
  });

  // ------------------------------------------------------------ resource bounds

  it('ws hub - drops a slow consumer with close code 4008 instead of buffering without bound', async () => {
    const { hub, bus } = await hubWithBus({ maxBufferedBytes: 256 * 1024 });
    const slow = await plain(hub.url);
    slow.send({ op: 'sub', id: 1, sid: 's', pattern: `${prefix}.flood` });
    await slow.acked(1);
    const fast = await plain(hub.url);
    fast.send({ op: 'sub', id: 1, sid: 'f', pattern: `${prefix}.other` });
    await fast.acked(1);
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const pad = 'x'.repeat(1024);
    let sent = 0;
    while (hub.connectionCount === 2 && sent < 100_000) {
      await bus.publish(`${prefix}.flood`, { pad, i: sent++ });
      if (sent % 200 === 0) await sleep(1); // time for the hub's stall timer to run
    }
    expect(hub.connectionCount, `dropped after ${sent} messages`).to.equal(1);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await waitFor(() => slow.closeCode !== undefined, { timeoutMs: 10_000, what: 'the close frame' });
    expect(slow.closeCode).to.equal(CLOSE_CODES.slowConsumer);
    // The other connection is unaffected.
    await bus.publish(`${prefix}.other`, 'still here');
    await fast.next((f) => f.op === 'msg', 'a delivery to the healthy client');
  });

  it('ws hub - terminates a connection that stops answering pings and frees its subscriptions', async () => {
    const { hub, bus } = await hubWithBus({ heartbeatMs: 100 });
    const dead = await plain(hub.url, { autoPong: false });
    dead.send({ op: 'sub', id: 1, sid: 'd', pattern: `${prefix}.hb` });
    await dead.acked(1);
    const alive = await plain(hub.url);
    await waitFor(() => dead.closeCode !== undefined, { timeoutMs: 3000, what: 'the dead connection to be terminated' });
    expect(hub.connectionCount).to.equal(1);
    await sleep(300); // three more heartbeats
    expect(alive.closeCode, 'a client answering pings stays').to.equal(undefined);
    // Its subscription is gone from the bus: a request finds no responders.
    const err = await bus.request(`${prefix}.hb`, 1, { timeoutMs: 200 }).then(() => null, (e: unknown) => e);
    expect((err as { code?: string })?.code).to.equal('SB_ERR_REQUEST_NO_RESPONDERS');
  });

  // ------------------------------------------------------------ client transport

  it('ws client - resubscribes and resends unacked publishes after the hub comes back', async () => {
    const bus = new Bus({ service: 'hub@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    cleanups.push(() => bus.stop());
    let hub = new WebSocketHub({ bus, logger: silentLogger });
    await hub.listen();
    const port = hub.address.port;
    const url = hub.url;
    const t = await client(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    const cbus = new Bus({ service: 'client', transport: t, metrics: false, logger: silentLogger });
    cleanups.push(() => cbus.stop());
    const got: unknown[] = [];
    await cbus.subscribe(`${prefix}.r`, async (m) => { got.push(m.data); });
    await bus.publish(`${prefix}.r`, 'before');
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the first message' });

    await hub.close();
    const offline = cbus.publish(`${prefix}.r`, 'published while offline');
    // Subscribed while the hub is down: subscribe() resolves only once the next hub confirmed it.
    const late: unknown[] = [];
    const subscribing = cbus.subscribe(`${prefix}.late`, async (m) => { late.push(m.data); });
    await sleep(100); // the hub stays down for a while
    hub = new WebSocketHub({ bus, port, logger: silentLogger });
    await hub.listen();
    cleanups.push(() => hub.close());
    await subscribing;
    await bus.publish(`${prefix}.late`, 'right after subscribe resolved');
    await waitFor(() => late.length === 1, { timeoutMs: 2000, what: 'the message published right after the offline subscribe resolved' });
    await offline;
    await waitFor(() => got.includes('published while offline'), { timeoutMs: 5000, what: 'the offline publish after reconnect' });
    await bus.publish(`${prefix}.r`, 'after');
    await waitFor(() => got.includes('after'), { timeoutMs: 5000, what: 'a message after resubscribing' });
  });

  it('ws hub - standalone (no bus) routes between clients, shares a group and answers requests', async () => {
    const hub = new WebSocketHub({ logger: silentLogger });
    await hub.listen();
    cleanups.push(() => hub.close());
    const buses = await Promise.all(['a', 'b', 'c'].map(async (name) => {
      const b = new Bus({ service: name, transport: await client(hub.url), metrics: false, logger: silentLogger });
      cleanups.push(() => b.stop());
      return b;
    }));
    const [a, b, c] = buses as [Bus, Bus, Bus];
    const inA: number[] = []; const inB: number[] = [];
    await a.subscribe(`${prefix}.job`, async (m) => { inA.push(m.data as number); }, { group: 'workers' });
    await b.subscribe(`${prefix}.job`, async (m) => { inB.push(m.data as number); }, { group: 'workers' });
    await b.subscribe(`${prefix}.echo`, async (m) => m.data);
    for (let i = 0; i < 20; i++) await c.publish(`${prefix}.job`, i);
    await waitFor(() => inA.length + inB.length === 20, { timeoutMs: 2000, what: 'all jobs' });
    expect(inA.length).to.be.greaterThan(0);
    expect(inB.length).to.be.greaterThan(0);
    const reply = await c.request(`${prefix}.echo`, { x: 1 }, { timeoutMs: 2000 });
    expect(reply.data).to.deep.equal({ x: 1 });
  });

  it('ws client - rejects publishes beyond the offline buffer with BackpressureError', async () => {
    const { hub } = await hubWithBus();
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (msg: string) => { warnings.push(msg); }, child: () => logger };
    const t = await client(hub.url, { maxBufferedPublishes: 3, reconnect: { initialDelayMs: 5000 }, logger });
    await t.connect();
    await hub.close();
    await waitFor(() => warnings.includes('connection to the hub lost; reconnecting'), { what: 'the client to notice the hub is gone' });
    const env = event() as unknown as Envelope;
    const buffered = [1, 2, 3].map(() => t.publish(`${prefix}.x`, env).catch((e: unknown) => e));
    const err = await t.publish(`${prefix}.x`, env).then(() => null, (e: unknown) => e);
    expect((err as { code?: string })?.code).to.equal('SB_ERR_BACKPRESSURE');
    await t.close();
    const closed = await Promise.all(buffered);
    expect(closed.map((e) => (e as { code?: string }).code)).to.deep.equal(Array(3).fill('SB_ERR_TRANSPORT_CLOSED'));
  });

  it('ws client - reports a hub error frame as the typed error', async () => {
    const { hub } = await hubWithBus();
    const t = await client(hub.url);
    await t.connect();
    const err = await t.publish(`${prefix}.x`, event({ bad: 'a\nb' }) as unknown as Envelope).then(() => null, (e: unknown) => e);
    expect((err as { code?: string })?.code).to.equal('SB_ERR_HEADER_INVALID');
  });

  it('ws client - connects through transportFromUrl to a hub hosted with hostHub', async () => {
    const bus = new Bus({ service: 'cli-sub', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const probe = new WebSocketHub({ logger: silentLogger });
    await probe.listen();
    const port = probe.address.port;
    await probe.close();
    const hub = await hostHub(`ws://127.0.0.1:${port}/events`, bus, { logger: silentLogger });
    cleanups.push(async () => { await hub.close(); await bus.stop(); });
    const got: Envelope[] = [];
    await bus.subscribe(`${prefix}.>`, async (m) => { got.push(m); });
    const t = await transportFromUrl(`ws://127.0.0.1:${port}/events`);
    expect(t).to.be.instanceOf(WebSocketTransport);
    const pub = new Bus({ service: 'cli-pub', transport: t, metrics: false, logger: silentLogger });
    cleanups.push(() => pub.stop());
    await pub.publish(`${prefix}.cli`, { hello: 'world' });
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the published event' });
    expect(got[0]!.data).to.deep.equal({ hello: 'world' });
    expect((await upgradeStatus(`ws://127.0.0.1:${port}/elsewhere`)).status).to.equal(404);
  });

  // ------------------------------------------------------------ WSS

  it('ws hub - answers an upgrade whose target is no path (//, //[, //a:b@) with 404 and keeps serving', async () => {
    const { hub } = await hubWithBus();
    for (const target of ['//', '//[', '//a:b@']) {
      const answer = await rawUpgrade(hub.url, target, []);
      expect(answer.split(' ', 2)[1], answer).to.equal('404');
      expect(answer).to.include('SB_ERR_HTTP_NOT_FOUND');
    }
    expect((await rawUpgrade(hub.url, '/', [])).split(' ', 2)[1]).to.equal('101');
  });

  it('ws hub - serves WSS with a given key and certificate', async function () {
    let dir: string;
    try {
      dir = mkdtempSync(join(tmpdir(), 'sb-wss-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
        '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    } catch (err) {
      missingPrerequisite(this, `openssl could not make a self-signed certificate: ${(err as Error).message}`);
    }
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const key = readFileSync(join(dir, 'key.pem'));
    const cert = readFileSync(join(dir, 'cert.pem'));
    const { hub, bus } = await hubWithBus({ tls: { key, cert } });
    expect(hub.url.startsWith('wss://')).to.equal(true);
    const got: Envelope[] = [];
    await bus.subscribe(`${prefix}.>`, async (m) => { got.push(m); });
    const t = await client(hub.url, { tls: { ca: cert } });
    const cbus = new Bus({ service: 'tls-client', transport: t, metrics: false, logger: silentLogger });
    cleanups.push(() => cbus.stop());
    const echoed: unknown[] = [];
    await cbus.subscribe(`${prefix}.back`, async (m) => { echoed.push(m.data); });
    await cbus.publish(`${prefix}.secure`, { over: 'tls' });
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the event over WSS' });
    await bus.publish(`${prefix}.back`, 'to the client');
    await waitFor(() => echoed.length === 1, { timeoutMs: 2000, what: 'the event back over WSS' });
    // Without the CA the client refuses the self-signed certificate.
    const untrusted = await client(hub.url, { connectTimeoutMs: 2000 });
    const err = await untrusted.connect().then(() => null, (e: unknown) => e);
    expect((err as { code?: string })?.code).to.equal('SB_ERR_TRANSPORT_CONNECT');
  });
});
