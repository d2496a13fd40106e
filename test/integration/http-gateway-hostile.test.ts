import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { SignJWT } from 'jose';
import { Bus, CodecRegistry, bytesCodec, jsonCodec, textCodec, type Codec, type Envelope, type Logger } from '../../core/index.js';
import { HttpGateway, type HttpGatewayOptions } from '../../gateway/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { freePort } from '../helpers/free-port.js';
import { send, type Answer } from '../helpers/http-send.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

/**
 * What a hostile or careless client sends the gateway: replies that skip the door, credentials that
 * share or guess their way into someone's budget, uploads cut short, header bytes that are not UTF-8.
 */

const secret = 'hostile-secret-of-at-least-32-bytes-long!';
const token = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(secret));
const csvCodec: Codec = { contentType: 'text/csv', encode: (d) => Buffer.from(String(d)), decode: (b) => Buffer.from(b).toString() };
const ce = (id: string) => ({ 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': 'responder', 'ce-type': 'reply' });

function expectProblem(a: Answer, status: number, code: string): void {
  expect(a.status, a.text).to.equal(status);
  expect(a.headers['content-type']).to.equal('application/problem+json');
  expect(a.json).to.include({ status, code });
}

/** Sends `bytes` on a new connection; resolves with the status line of the answer. */
function rawStatusLine(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n')) { resolve(text.slice(0, text.indexOf('\r\n'))); socket.destroy(); }
    });
    socket.on('error', reject);
  });
}

/** An SSE stream whose request frames (`reply: <token>`) are collected as they arrive. */
interface Stream { status: number; replyTokens: string[]; close(): void }

describe('http gateway - hostile clients', function () {
  this.timeout(20_000);
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); });

  async function gateway(options: Partial<HttpGatewayOptions> = {}, busOptions: Partial<ConstructorParameters<typeof Bus>[0]> = {}) {
    const bus = new Bus({ service: 'gw@hostile', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger, ...busOptions });
    for (let attempt = 0; ; attempt++) {
      const gw = new HttpGateway({ bus, port: await freePort(), ...options });
      try {
        const { url, port } = await gw.start();
        cleanups.push(() => bus.stop(), () => gw.close());
        return { bus, gw, url, port };
      } catch (err) {
        await gw.close().catch(() => {});
        if (attempt >= 3) throw err;
      }
    }
  }

  function openStream(url: string, pattern: string, headers: Record<string, string>): Promise<Stream> {
    return new Promise((resolve, reject) => {
      const replyTokens: string[] = [];
      const req = http.get(`${url}/v1/stream/${encodeURIComponent(pattern)}`, { headers, agent: false }, (res) => {
        const stream: Stream = { status: res.statusCode ?? 0, replyTokens, close: () => res.destroy() };
        cleanups.push(async () => res.destroy());
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (t: string) => {
          buf += t;
          const frames = buf.split('\n\n');
          buf = frames.pop()!;
          for (const f of frames) { const m = /^reply: (\S+)$/m.exec(f); if (m) replyTokens.push(m[1]!); }
        });
        // Headers arrive once the subscription is live.
        resolve(stream);
      });
      req.on('error', reject);
    });
  }

  // ------------------------------------------------------------ replies

  describe('replies', () => {
    it('http gateway - encodes a reply with the codecs of the bus, not only the default ones', async () => {
      const { bus, url } = await gateway({}, { codecs: new CodecRegistry([jsonCodec, textCodec, bytesCodec, csvCodec]) });
      // A relay like the gateway's own: the reply keeps its decoded data on the memory transport.
      await bus.transportFor('svc.csv').subscribe('svc.csv', (msg) => {
        void msg.reply!({ specversion: '1.0', id: 'r1', source: 'svc', type: 'answer', datacontenttype: 'text/csv', data: 'a,b\n1,2\n' });
        return msg.ack();
      }, { maxInFlight: 10 });
      const a = await send(url, 'POST', '/v1/requests/svc.csv', { 'content-type': 'application/json' }, '{"q":1}');
      expect(a.status, a.text).to.equal(200);
      expect(a.headers['content-type']).to.equal('text/csv');
      expect(a.text).to.equal('a,b\n1,2\n');
    });

    it('http gateway - a reply no codec takes goes out as its text, or as a 502 (never a 415)', async () => {
      const { bus, url } = await gateway();
      await bus.transportFor('svc.*').subscribe('svc.*', (msg) => {
        const data = msg.subject === 'svc.text' ? 'x;y' : { not: 'bytes' };
        void msg.reply!({ specversion: '1.0', id: 'r1', source: 'svc', type: 'answer', datacontenttype: 'application/x-unheard-of', data });
        return msg.ack();
      }, { maxInFlight: 10 });
      const text = await send(url, 'POST', '/v1/requests/svc.text', { 'content-type': 'application/json' }, '{}');
      expect(text.status, text.text).to.equal(200);
      expect(text.headers['content-type']).to.equal('application/x-unheard-of');
      expect(text.text).to.equal('x;y');
      expectProblem(await send(url, 'POST', '/v1/requests/svc.object', { 'content-type': 'application/json' }, '{}'), 502, 'SB_ERR_HTTP_REPLY_UNENCODABLE');
    });

    it('http gateway - a streamed reply passes the same door as every POST: tenant stamped, depth and JSON checked', async () => {
      const { url } = await gateway({ auth: { apiKeys: { 'key-acme-0001': 'acme' } } });
      const key = { 'x-api-key': 'key-acme-0001' };
      const responder = await openStream(url, 'acme.svc', key);
      expect(responder.status).to.equal(200);
      const answer = send(url, 'POST', '/v1/requests/acme.svc', { ...key, 'content-type': 'application/json', 'x-signalbus-timeout-ms': '5000' }, '{"q":1}');
      await waitFor(() => responder.replyTokens.length === 1, { what: 'the request on the stream' });
      const path = `/v1/replies/${responder.replyTokens[0]!}`;
      const reply = { ...key, ...ce('r1'), 'ce-tenant': 'globex', 'content-type': 'application/json' };
      expectProblem(await send(url, 'POST', path, reply, '{"nested":' + '['.repeat(300) + ']'.repeat(300) + '}'), 400, 'SB_ERR_CODEC_TOO_DEEP');
      expectProblem(await send(url, 'POST', path, reply, '{"broken"'), 400, 'SB_ERR_HTTP_BODY_INVALID');
      expectProblem(await send(url, 'POST', path, { ...reply, 'content-type': 'application/x-unheard-of' }, 'x'), 415, 'SB_ERR_CODEC_UNKNOWN');
      // Refused replies leave the request waiting: a good one still reaches the requester, as acme's.
      expect((await send(url, 'POST', path, reply, '{"ok":true}')).status).to.equal(202);
      const got = await answer;
      expect(got.status, got.text).to.equal(200);
      expect(got.headers['ce-tenant']).to.equal('acme');
      expect(JSON.parse(got.text)).to.deep.equal({ ok: true });
    });

    it('http gateway - only the stream\'s own credential may answer its requests, not another key of the tenant', async () => {
      const { url } = await gateway({ auth: { apiKeys: { 'sk_live_acme_0001': 'acme', 'sk_live_acme_0002': 'acme' } } });
      const responder = await openStream(url, 'acme.svc', { 'x-api-key': 'sk_live_acme_0001' });
      const answer = send(url, 'POST', '/v1/requests/acme.svc', { 'x-api-key': 'sk_live_acme_0001', 'content-type': 'application/json', 'x-signalbus-timeout-ms': '5000' }, '{}');
      await waitFor(() => responder.replyTokens.length === 1, { what: 'the request on the stream' });
      const path = `/v1/replies/${responder.replyTokens[0]!}`;
      const reply = { ...ce('r1'), 'content-type': 'application/json' };
      expectProblem(await send(url, 'POST', path, { ...reply, 'x-api-key': 'sk_live_acme_0002' }, '{"from":2}'), 404, 'SB_ERR_HTTP_NOT_FOUND');
      expect((await send(url, 'POST', path, { ...reply, 'x-api-key': 'sk_live_acme_0001' }, '{"from":1}')).status).to.equal(202);
      expect(JSON.parse((await answer).text)).to.deep.equal({ from: 1 });
    });
  });

  // ------------------------------------------------------------ rate limit

  describe('rate limit', () => {
    const json = { 'content-type': 'application/json' };

    it('http gateway - each API key has its own rate-limit budget, even with a common prefix', async () => {
      const { url } = await gateway({ auth: { apiKeys: { 'sk_live_acme_0001': 'acme', 'sk_live_globex_02': 'globex' } }, rateLimit: { requestsPerSecond: 0.1, burst: 2 } });
      const acme = { ...json, 'x-api-key': 'sk_live_acme_0001' };
      expect((await send(url, 'POST', '/v1/events/acme.x', acme, '{}')).status).to.equal(202);
      expect((await send(url, 'POST', '/v1/events/acme.x', acme, '{}')).status).to.equal(202);
      expectProblem(await send(url, 'POST', '/v1/events/acme.x', acme, '{}'), 429, 'SB_ERR_RATE_LIMITED');
      expect((await send(url, 'POST', '/v1/events/globex.x', { ...json, 'x-api-key': 'sk_live_globex_02' }, '{}')).status).to.equal(202);
    });

    it('http gateway - tokens without sub of two tenants, and one sub in two tenants, have their own budgets', async () => {
      const { url } = await gateway({ auth: { jwt: { secret } }, rateLimit: { requestsPerSecond: 0.1, burst: 1 } });
      const bearer = async (claims: Record<string, unknown>) => ({ ...json, authorization: `Bearer ${await token(claims)}` });
      const acme = await bearer({ tenant: 'acme' });
      expect((await send(url, 'POST', '/v1/events/acme.x', acme, '{}')).status).to.equal(202);
      expectProblem(await send(url, 'POST', '/v1/events/acme.x', await bearer({ tenant: 'acme' }), '{}'), 429, 'SB_ERR_RATE_LIMITED');
      expect((await send(url, 'POST', '/v1/events/globex.x', await bearer({ tenant: 'globex' }), '{}')).status).to.equal(202);
      expect((await send(url, 'POST', '/v1/events/acme.x', await bearer({ tenant: 'acme', sub: 'u1' }), '{}')).status).to.equal(202);
      expect((await send(url, 'POST', '/v1/events/globex.x', await bearer({ tenant: 'globex', sub: 'u1' }), '{}')).status).to.equal(202);
    });

    it('http gateway - refused credentials are charged to the remote address and meet 429', async () => {
      const { url } = await gateway({ auth: { jwt: { secret }, apiKeys: { 'sk_live_acme_0001': 'acme' } }, rateLimit: { requestsPerSecond: 0.1, burst: 2 } });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await send(url, 'POST', '/v1/events/acme.x', { ...json, 'x-api-key': `guess-${i}-xxxxxxxx` }, '{}')).status);
      expect(statuses).to.deep.equal([401, 401, 429, 429]);
      expectProblem(await send(url, 'POST', '/v1/events/acme.x', { ...json, authorization: 'Bearer a.b.c' }, '{}'), 429, 'SB_ERR_RATE_LIMITED');
      expectProblem(await send(url, 'POST', '/v1/events/acme.x', json, '{}'), 429, 'SB_ERR_RATE_LIMITED');
      // A good key is its own client, whatever its address spent on guesses.
      expect((await send(url, 'POST', '/v1/events/acme.x', { ...json, 'x-api-key': 'sk_live_acme_0001' }, '{}')).status).to.equal(202);
    });
  });

  // ------------------------------------------------------------ uploads and headers

  it('http gateway - a client that aborts an upload is a disconnect, not an internal error', async () => {
    const logged: Array<[string, string]> = [];
    const logger: Logger = {
      debug: (m) => { logged.push(['debug', m]); }, info: (m) => { logged.push(['info', m]); },
      warn: (m) => { logged.push(['warn', m]); }, error: (m) => { logged.push(['error', m]); }, child: () => logger,
    };
    const { bus, port } = await gateway({}, { logger });
    const metrics: string[] = [];
    const metric = bus.metric.bind(bus);
    bus.metric = (event, action, options) => { metrics.push(`${event} ${action}`); metric(event, action, options); };
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /v1/events/a.b HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":');
    await waitFor(() => socket.bytesWritten > 0, { what: 'the head written' });
    socket.destroy();
    await waitFor(() => logged.some(([, m]) => m.startsWith('http gateway')), { what: 'the gateway noting the disconnect' });
    expect(logged.filter(([level]) => level === 'error' || level === 'warn')).to.deep.equal([]);
    expect(metrics.filter((m) => m.startsWith('rejected'))).to.deep.equal([]);
  });

  it('http gateway - reads Idempotency-Key as UTF-8 and refuses bytes that are not', async () => {
    const { bus, port } = await gateway();
    const got: Envelope[] = [];
    await bus.subscribe('a.b', async (m) => { got.push(m); });
    // Written byte for byte (Node's client would re-encode the value): UTF-8 "é", then a lone 0xff.
    const post = (key: Buffer) => rawStatusLine(port, Buffer.concat([
      Buffer.from('POST /v1/events/a.b HTTP/1.1\r\nHost: x\r\nConnection: close\r\ncontent-type: application/json\r\ncontent-length: 2\r\nidempotency-key: caf'),
      key, Buffer.from('\r\n\r\n{}'),
    ]));
    expect(await post(Buffer.from([0xc3, 0xa9]))).to.equal('HTTP/1.1 202 Accepted');
    const refused = await post(Buffer.from([0xff]));
    expect(refused).to.equal('HTTP/1.1 400 Bad Request');
    await waitFor(() => got.length === 1, { what: 'the event' });
    expect(got[0]!.id).to.equal('café');
  });
});
