import { expect } from 'chai';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudEvent, HTTP } from 'cloudevents';
import { SignJWT } from 'jose';
import { connect } from 'nats';
import { Bus, transportFromUrl, type Envelope } from '../../core/index.js';
import { HttpGateway, hostGateway, startWebhook, type HttpGatewayOptions } from '../../gateway/index.js';
import { HttpTransport } from '../../transports/http/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import '../../transports/index.js';
import { missingPrerequisite, requireBroker } from '../helpers/brokers.js';
import { send, type Answer } from '../helpers/http-send.js';
import { waitFor, sleep } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const secret = 'integration-secret-of-at-least-32-bytes!';
const token = (claims: Record<string, unknown>, exp: string | number = '5m') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new TextEncoder().encode(secret));


function expectProblem(a: Answer, status: number, code: string): void {
  expect(a.status, a.text).to.equal(status);
  expect(a.headers['content-type']).to.equal('application/problem+json');
  expect(a.json).to.include({ status, code, type: `urn:signalbus:error:${code}` });
  expect(a.json?.title).to.be.a('string');
  expect(a.json?.detail).to.be.a('string');
}

describe('http gateway', function () {
  this.timeout(20_000);
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); });

  async function gateway(options: Partial<HttpGatewayOptions> = {}, busOptions: Partial<ConstructorParameters<typeof Bus>[0]> = {}) {
    const bus = new Bus({ service: 'gw@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger, ...busOptions });
    const gw = new HttpGateway({ bus, ...options });
    const { url } = await gw.start();
    cleanups.push(() => bus.stop(), () => gw.close());
    return { bus, gw, url };
  }

  async function collect(bus: Bus, pattern: string): Promise<Envelope[]> {
    const got: Envelope[] = [];
    await bus.subscribe(pattern, async (m) => { got.push(m); });
    return got;
  }

  // ------------------------------------------------------------ modes and interop

  it('http gateway - takes binary and structured events from the CloudEvents SDK', async () => {
    const { bus, url } = await gateway();
    const got = await collect(bus, 'orders.created');
    const ev = new CloudEvent({ id: randomUUID(), source: 'urn:sdk', type: 'order.created', data: { order: 42 }, tenant: 'forged', myext: 'v1' });
    for (const m of [HTTP.binary(ev), HTTP.structured(ev.cloneWith({ id: randomUUID() }))]) {
      const a = await send(url, 'POST', '/v1/events/orders.created', m.headers as Record<string, string>, m.body as string);
      expect(a.status, a.text).to.equal(202);
    }
    await waitFor(() => got.length === 2, { timeoutMs: 2000, what: 'both events' });
    for (const m of got) {
      expect(m.data).to.deep.equal({ order: 42 });
      expect(m).to.include({ type: 'order.created', source: 'urn:sdk', myext: 'v1' });
      expect(m.tenant, 'a client-sent tenant is removed without auth').to.equal(undefined);
    }
  });

  it('http gateway - publishes a batch in order', async () => {
    const { bus, url } = await gateway();
    const got = await collect(bus, 'batch.x');
    const batch = [1, 2, 3].map((n) => ({ specversion: '1.0', id: `b${n}`, source: 's', type: 't', data: { n } }));
    const a = await send(url, 'POST', '/v1/events/batch.x', { 'content-type': 'application/cloudevents-batch+json' }, JSON.stringify(batch));
    expect(a.status, a.text).to.equal(202);
    await waitFor(() => got.length === 3, { timeoutMs: 2000, what: 'the batch' });
    expect(got.map((m) => m.data)).to.deep.equal([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('http gateway - curl publishes a plain JSON event, wrapped with the configured type', async function () {
    if (spawnSync('curl', ['--version']).status !== 0) missingPrerequisite(this, 'curl is not installed (apt-get install curl)');
    const { bus, url } = await gateway({ plainJsonType: 'device.telemetry' });
    const got = await collect(bus, 'devices.d7.telemetry');
    // Asynchronously: the gateway runs in this process and must keep serving while curl waits.
    const { stdout: code } = await promisify(execFile)('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'content-type: application/json',
      '-H', 'idempotency-key: curl-1', '--data', '{"t":21.5}', `${url}/v1/events/devices.d7.telemetry`]);
    expect(code).to.equal('202');
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the curl event' });
    expect(got[0]).to.include({ type: 'device.telemetry', id: 'curl-1', datacontenttype: 'application/json' });
    expect(got[0]!.data).to.deep.equal({ t: 21.5 });
  });

  it('http gateway - answers a request with the reply event in binary mode, readable by the SDK', async () => {
    const { bus, url } = await gateway();
    await bus.subscribe('svc.add', async (m) => { const d = m.data as { a: number; b: number }; return { sum: d.a + d.b }; });
    const req = HTTP.binary(new CloudEvent({ id: 'req-1', source: 'urn:sdk', type: 'math.add', data: { a: 2, b: 3 } }));
    const a = await send(url, 'POST', '/v1/requests/svc.add', req.headers as Record<string, string>, req.body as string);
    expect(a.status, a.text).to.equal(200);
    const reply = HTTP.toEvent({ headers: a.headers, body: a.text }) as CloudEvent<{ sum: number }>;
    expect(reply.data).to.deep.equal({ sum: 5 });
    expect(reply.type).to.equal('math.add.reply');
    expect(reply.causationid).to.equal('req-1');
  });

  it('http gateway - streams matching events as Server-Sent Events', async () => {
    const { bus, url } = await gateway();
    const frames: string[] = [];
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${url}/v1/stream/feed.*`, { agent: false }, resolve).on('error', reject);
    });
    cleanups.push(async () => res.destroy());
    expect(res.statusCode).to.equal(200);
    expect(res.headers['content-type']).to.equal('text/event-stream');
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (t: string) => { buf += t; const parts = buf.split('\n\n'); buf = parts.pop()!; frames.push(...parts.filter((p) => !p.startsWith(':'))); });
    await bus.publish('feed.a', { n: 1 }, { type: 'feed.item' });
    await bus.publish('other.a', { n: 2 });
    await bus.publish('feed.b', { n: 3 }, { type: 'feed.item' });
    await waitFor(() => frames.length === 2, { timeoutMs: 2000, what: 'two frames' });
    const lines = frames[0]!.split('\n');
    // Standard SSE (what EventSource reads): id, event = the subject, data = the CloudEvent; no other fields.
    expect(lines.map((l) => l.slice(0, l.indexOf(':')))).to.deep.equal(['id', 'event', 'data']);
    expect(lines[1]).to.equal('event: feed.a');
    const event = JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, unknown>;
    expect(event).to.include({ specversion: '1.0', type: 'feed.item' });
    expect(event.data).to.deep.equal({ n: 1 });
    expect(lines[0]).to.equal(`id: ${event.id as string}`);
    expect(frames[1]).to.include('event: feed.b');
  });

  it('http gateway - a stream carries CloudEvents only: a device payload on its subjects (NATS) is not relayed', async function () {
    await requireBroker(this, 'nats');
    const prefix = `gwraw${randomUUID().slice(0, 8)}`;
    const { bus, url } = await gateway({}, { transport: new NatsTransport({ servers: '127.0.0.1:4222' }) });
    const plain = await connect({ servers: '127.0.0.1:4222' });
    cleanups.push(() => plain.close());
    const frames: string[] = [];
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${url}/v1/stream/${prefix}.*`, { agent: false }, resolve).on('error', reject);
    });
    cleanups.push(async () => res.destroy());
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (t: string) => { buf += t; const parts = buf.split('\n\n'); buf = parts.pop()!; frames.push(...parts.filter((p) => !p.startsWith(':'))); });
    plain.publish(`${prefix}.device`, new TextEncoder().encode('{"temperature":21.5}'));
    await plain.flush();
    // The CloudEvent follows the device payload on the same connection and subject space: once it is in, the payload was seen.
    await bus.publish(`${prefix}.event`, { n: 1 }, { type: 'feed.item' });
    await waitFor(() => frames.some((f) => f.includes(`event: ${prefix}.event`)), { timeoutMs: 3000, what: 'the CloudEvent' });
    expect(frames.filter((f) => f.includes(`event: ${prefix}.device`)), 'the device payload').to.deep.equal([]);
  });

  it('http gateway - serves metrics, health and readiness', async () => {
    const { bus, url } = await gateway();
    await bus.publish('m.x', 1);
    await bus.publish('m.x', 2);
    expectProblem(await send(url, 'POST', '/v1/events/m.y', { 'content-type': 'application/json' }, '[1,'), 400, 'SB_ERR_HTTP_BODY_INVALID');
    expect((await send(url, 'GET', '/healthz')).status).to.equal(200);
    expect((await send(url, 'GET', '/readyz')).status).to.equal(200);
    const metrics = await send(url, 'GET', '/metrics');
    expect(metrics.status).to.equal(200);
    expect(metrics.headers['content-type']).to.match(/^text\/plain/);
    // Prometheus text: the bus' own fields (under a bounded context: the subject's first token) and the gateway's refusals, labelled and counted.
    const lines = metrics.text.split('\n');
    expect(lines).to.include('# TYPE signalbus_metric_fields_total counter');
    expect(lines).to.include('signalbus_metric_fields_total{service="gw",container="test",context="m.>",event="published",action="sent"} 2');
    expect(lines).to.include('signalbus_metric_fields_total{service="gw",container="test",context="http-gateway",event="rejected",action="http-400"} 1');
    await bus.stop();
    expect((await send(url, 'GET', '/readyz')).status).to.equal(503);
  });

  // ------------------------------------------------------------ error answers

  it('http gateway - answers 400 for bad subjects, bodies and attributes', async () => {
    const { url } = await gateway();
    const ce = { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't', 'content-type': 'application/json' };
    expectProblem(await send(url, 'POST', '/v1/events/a..b', ce, '{}'), 400, 'SB_ERR_SUBJECT_INVALID');
    expectProblem(await send(url, 'POST', '/v1/events/a.%3E', ce, '{}'), 400, 'SB_ERR_SUBJECT_INVALID');
    expectProblem(await send(url, 'POST', '/v1/events/a.b', { 'content-type': 'application/cloudevents+json' }, '{not json'), 400, 'SB_ERR_HTTP_BODY_INVALID');
    expectProblem(await send(url, 'POST', '/v1/events/a.b', { 'content-type': 'application/cloudevents+json' }, '{"id":"1"}'), 400, 'SB_ERR_ENVELOPE_INVALID');
    const { 'ce-type': _t, ...noType } = ce;
    expectProblem(await send(url, 'POST', '/v1/events/a.b', noType, '{}'), 400, 'SB_ERR_ENVELOPE_INVALID');
    expectProblem(await send(url, 'POST', '/v1/events/a.b', ce, '{broken'), 400, 'SB_ERR_HTTP_BODY_INVALID');
    expectProblem(await send(url, 'POST', '/v1/events/a.b', { 'content-type': 'application/json' }, '[1,'), 400, 'SB_ERR_HTTP_BODY_INVALID');
    expectProblem(await send(url, 'GET', '/v1/stream/a.>.b'), 400, 'SB_ERR_PATTERN_INVALID');
  });

  it('http gateway - answers 400 for header values with control characters, however they arrive', async () => {
    const { url, bus } = await gateway();
    const got = await collect(bus, 'ctl.x');
    const ce = { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't' };
    // Percent-decoded CR/LF and a raw tab reach the gateway (Node's parser lets HTAB through); both are refused.
    expectProblem(await send(url, 'POST', '/v1/events/ctl.x', { ...ce, 'ce-myext': 'a%0D%0Ainjected: 1' }), 400, 'SB_ERR_HEADER_INVALID');
    expectProblem(await send(url, 'POST', '/v1/events/ctl.x', { ...ce, 'ce-myext': 'a\tb' }), 400, 'SB_ERR_HEADER_INVALID');
    // Raw CR/LF and other control bytes never reach it: Node's parser answers 400 itself.
    const port = new URL(url).port;
    for (const bad of ['a\rb', 'a\u0001b']) {
      const status = await new Promise<string>((resolve, reject) => {
        const s = net.connect(Number(port), '127.0.0.1', () => s.write(`POST /v1/events/ctl.x HTTP/1.1\r\nHost: x\r\nce-specversion: 1.0\r\nce-id: 1\r\nce-source: s\r\nce-type: t\r\nce-myext: ${bad}\r\ncontent-length: 0\r\n\r\n`));
        let d = ''; s.on('data', (c) => { d += c; if (d.includes('\r\n')) { resolve(d.split('\r\n')[0]!); s.destroy(); } }); s.on('error', reject);
      });
      expect(status, JSON.stringify(bad)).to.equal('HTTP/1.1 400 Bad Request');
    }
    expect((await send(url, 'POST', '/v1/events/ctl.x', ce)).status, 'the gateway still serves').to.equal(202);
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the good event' });
    expect(got.length).to.equal(1);
  });

  it('http gateway - answers 404 for unknown routes and 415 for unsupported content types', async () => {
    const { url } = await gateway();
    expectProblem(await send(url, 'GET', '/nope'), 404, 'SB_ERR_HTTP_NOT_FOUND');
    expectProblem(await send(url, 'GET', '/v1/events/a.b'), 404, 'SB_ERR_HTTP_NOT_FOUND');
    expectProblem(await send(url, 'POST', '/v1/replies/unknown-token', {}), 404, 'SB_ERR_HTTP_NOT_FOUND');
    expectProblem(await send(url, 'POST', '/v1/events/a.b', { 'content-type': 'text/plain' }, 'hello'), 415, 'SB_ERR_HTTP_MEDIA_TYPE');
    expectProblem(await send(url, 'POST', '/v1/events/a.b', {}, 'hello'), 415, 'SB_ERR_HTTP_MEDIA_TYPE');
  });

  it('http gateway - answers 413 for a declared 10 MB body without waiting for it', async () => {
    const { url } = await gateway();
    const port = Number(new URL(url).port);
    // Only 64 KiB of the declared 10 MB are ever sent: a server that buffered the body would hang here.
    const started = Date.now();
    const head = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write('POST /v1/events/big.x HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 10485760\r\n\r\n');
        s.write(Buffer.alloc(64 * 1024, 0x20));
      });
      let d = ''; s.on('data', (c) => { d += c; if (d.includes('\r\n\r\n')) { resolve(d); s.destroy(); } }); s.on('error', reject);
    });
    expect(head.split('\r\n')[0]).to.equal('HTTP/1.1 413 Payload Too Large');
    expect(head.toLowerCase()).to.include('connection: close');
    expect(Date.now() - started).to.be.lessThan(2000);
    expect((await send(url, 'GET', '/healthz')).status).to.equal(200);
  });

  it('http gateway - answers 413 for a chunked 10 MB body once it passes the limit', async () => {
    const { url } = await gateway();
    let written = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${url}/v1/events/big.x`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        resolve(res.statusCode ?? 0); res.resume(); req.destroy();
      });
      req.on('error', (err) => { if (written > 0) resolve(-1); else reject(err); });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let stopped = false;
      req.on('response', () => { stopped = true; });
      const pump = () => {
        while (!stopped && written < 10 * 1024 * 1024) {
          written += chunk.length;
          if (!req.write(chunk)) { req.once('drain', pump); return; }
        }
        if (!stopped) req.end();
      };
      pump();
    });
    expect(status).to.equal(413);
    expect(written, 'the upload was cut short').to.be.lessThan(10 * 1024 * 1024);
  });

  it('http gateway - answers 429 over the per-client rate limit, with Retry-After', async () => {
    const { url } = await gateway({ rateLimit: { requestsPerSecond: 1, burst: 2 } });
    const ce = { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't' };
    expect((await send(url, 'POST', '/v1/events/r.x', ce)).status).to.equal(202);
    expect((await send(url, 'POST', '/v1/events/r.x', ce)).status).to.equal(202);
    const limited = await send(url, 'POST', '/v1/events/r.x', ce);
    expectProblem(limited, 429, 'SB_ERR_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).to.be.greaterThan(0);
  });

  it('http gateway - answers 503 when the bus cannot take more and when it is closed', async () => {
    const { bus, url } = await gateway({}, { maxPendingPublishes: 1, onPublishFull: 'reject' });
    let release!: () => void;
    const blocked = new Promise<void>((r) => { release = r; });
    await bus.subscribe('slow.x', () => blocked, { maxInFlight: 1, maxPending: 1 });
    // Counts the events the gateway handed to its bus.
    let handed = 0;
    const publishEnvelope = bus.publishEnvelope.bind(bus);
    bus.publishEnvelope = (...args: Parameters<Bus['publishEnvelope']>) => { handed++; return publishEnvelope(...args); };
    const ce = (id: string) => ({ 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': 's', 'ce-type': 't' });
    // One in the handler, one pending, one holding the transport: the next finds the bus full.
    const first = [send(url, 'POST', '/v1/events/slow.x', ce('1')), send(url, 'POST', '/v1/events/slow.x', ce('2')), send(url, 'POST', '/v1/events/slow.x', ce('3'))];
    await waitFor(() => handed === 3, { what: 'the three events handed to the bus' });
    const full = await send(url, 'POST', '/v1/events/slow.x', ce('4'));
    expectProblem(full, 503, 'SB_ERR_BACKPRESSURE');
    expect(full.headers['retry-after']).to.equal('1');
    release();
    await Promise.all(first);
    await bus.stop();
    expectProblem(await send(url, 'POST', '/v1/events/slow.x', ce('5')), 503, 'SB_ERR_TRANSPORT_CLOSED');
  });

  it('http gateway - answers 504 when a request times out and 503 when nobody answers', async () => {
    const { bus, url } = await gateway();
    await bus.subscribe('svc.slow', async () => { await sleep(1000); return 'late'; }); // slower than the request's timeout
    const ce = { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't', 'x-signalbus-timeout-ms': '100' };
    expectProblem(await send(url, 'POST', '/v1/requests/svc.slow', ce), 504, 'SB_ERR_REQUEST_TIMEOUT');
    expectProblem(await send(url, 'POST', '/v1/requests/svc.nobody', ce), 503, 'SB_ERR_REQUEST_NO_RESPONDERS');
  });

  // ------------------------------------------------------------ auth and tenants

  describe('with JWT auth', () => {
    const ce = { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't', 'content-type': 'application/json' };

    it('http gateway - answers 401 without a token and for an expired one', async () => {
      const { url } = await gateway({ auth: { jwt: { secret } } });
      expectProblem(await send(url, 'POST', '/v1/events/acme.x', ce, '{}'), 401, 'SB_ERR_AUTH_UNAUTHORIZED');
      const expired = await token({ tenant: 'acme' }, Math.floor(Date.now() / 1000) - 60);
      expectProblem(await send(url, 'POST', '/v1/events/acme.x', { ...ce, authorization: `Bearer ${expired}` }, '{}'), 401, 'SB_ERR_AUTH_UNAUTHORIZED');
      expectProblem(await send(url, 'GET', '/v1/stream/acme.>', { authorization: 'Bearer junk' }), 401, 'SB_ERR_AUTH_UNAUTHORIZED');
    });

    it('http gateway - answers 403 for a token of another tenant', async () => {
      const { url } = await gateway({ auth: { jwt: { secret } } });
      const globex = `Bearer ${await token({ tenant: 'globex' })}`;
      expectProblem(await send(url, 'POST', '/v1/events/acme.orders', { ...ce, authorization: globex }, '{}'), 403, 'SB_ERR_AUTH_FORBIDDEN');
      expectProblem(await send(url, 'POST', '/v1/requests/acme.svc', { ...ce, authorization: globex }, '{}'), 403, 'SB_ERR_AUTH_FORBIDDEN');
      expectProblem(await send(url, 'GET', '/v1/stream/>', { authorization: globex }), 403, 'SB_ERR_AUTH_FORBIDDEN');
      expect((await send(url, 'POST', '/v1/events/globex.orders', { ...ce, authorization: globex }, '{}')).status).to.equal(202);
    });

    it('http gateway - stamps the tenant from the token over a forged one', async () => {
      const { bus, url } = await gateway({ auth: { jwt: { secret } } });
      const got = await collect(bus, 'acme.orders');
      const acme = `Bearer ${await token({ tenant: 'acme' })}`;
      expect((await send(url, 'POST', '/v1/events/acme.orders', { ...ce, 'ce-tenant': 'globex', authorization: acme }, '{}')).status).to.equal(202);
      const structured = JSON.stringify({ specversion: '1.0', id: '2', source: 's', type: 't', tenant: 'globex', data: {} });
      expect((await send(url, 'POST', '/v1/events/acme.orders', { 'content-type': 'application/cloudevents+json', authorization: acme }, structured)).status).to.equal(202);
      await waitFor(() => got.length === 2, { timeoutMs: 2000, what: 'both events' });
      expect(got.map((m) => m.tenant)).to.deep.equal(['acme', 'acme']);
    });

    /** An open SSE stream and the events (parsed `data:` lines) it has carried so far, with their reply tokens. */
    async function openStream(url: string, pattern: string, authorization: string, query = ''): Promise<Array<{ event: Record<string, unknown>; reply?: string }>> {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get(`${url}/v1/stream/${pattern}${query}`, { agent: false, headers: { authorization } }, resolve).on('error', reject);
      });
      cleanups.push(async () => res.destroy());
      expect(res.statusCode).to.equal(200);
      const events: Array<{ event: Record<string, unknown>; reply?: string }> = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (t: string) => {
        buf += t;
        const parts = buf.split('\n\n');
        buf = parts.pop()!;
        for (const p of parts) {
          const lines = p.split('\n');
          const data = lines.find((l) => l.startsWith('data: '));
          if (data) events.push({ event: JSON.parse(data.slice(6)) as Record<string, unknown>, reply: lines.find((l) => l.startsWith('reply: '))?.slice(7) });
        }
      });
      return events;
    }

    // One shared subject, carrying every tenant's events: only the `tenant` attribute can keep them apart.
    for (const subjectPrefix of [false, undefined] as const) {
      const mode = subjectPrefix === false ? 'subjectPrefix false' : 'subjectPrefix on';
      const sharedOf = (p: string) => (subjectPrefix === false ? `${p}.events` : `acme.${p}.events`);

      it(`http gateway - a tenant's stream carries only its own tenant's events on a shared subject (${mode})`, async () => {
        const { bus, url } = await gateway({ auth: { jwt: { secret }, subjectPrefix } });
        const p = `t${randomUUID().slice(0, 8)}`;
        const shared = sharedOf(p);
        const acme = `Bearer ${await token({ tenant: 'acme' })}`;
        const globex = `Bearer ${await token({ tenant: 'globex' })}`;
        const acmeExact = await openStream(url, shared, acme);
        const acmeWild = await openStream(url, shared.replace(/\.events$/, '.>'), acme);
        const globexExact = subjectPrefix === false ? await openStream(url, shared, globex) : undefined;
        if (globexExact) expect((await send(url, 'POST', `/v1/events/${shared}`, { ...ce, 'ce-id': 'g1', authorization: globex }, '"globex via gateway"')).status).to.equal(202);
        expect((await send(url, 'POST', `/v1/events/${shared}`, { ...ce, 'ce-id': 'a1', authorization: acme }, '"acme via gateway"')).status).to.equal(202);
        // From the bus behind the gateway: another tenant's event, an untenanted one, then one marker per tenant.
        await bus.publish(shared, 'globex via bus', { headers: { tenant: 'globex' } });
        await bus.publish(shared, 'no tenant');
        await bus.publish(shared, 'acme marker', { headers: { tenant: 'acme' } });
        await bus.publish(shared, 'globex marker', { headers: { tenant: 'globex' } });
        const data = (events: Array<{ event: Record<string, unknown> }>) => events.map((e) => e.event.data);
        // A stream keeps the order: once it has its marker, it would have had the others too.
        await waitFor(() => data(acmeExact).includes('acme marker') && data(acmeWild).includes('acme marker'), { timeoutMs: 2000, what: 'the acme marker on both acme streams' });
        expect(data(acmeExact), 'acme exact').to.deep.equal(['acme via gateway', 'acme marker']);
        expect(data(acmeWild), 'acme wildcard').to.deep.equal(['acme via gateway', 'acme marker']);
        if (globexExact) {
          await waitFor(() => data(globexExact).includes('globex marker'), { timeoutMs: 2000, what: 'the globex marker' });
          expect(data(globexExact), 'globex').to.deep.equal(['globex via gateway', 'globex via bus', 'globex marker']);
        }
      });

      it(`http gateway - a tenant's request reaches no other tenant's stream on a shared subject (${mode})`, async () => {
        const { bus, url } = await gateway({ auth: { jwt: { secret }, subjectPrefix } });
        const p = `t${randomUUID().slice(0, 8)}`;
        const svc = sharedOf(p).replace(/\.events$/, '.svc');
        const acme = `Bearer ${await token({ tenant: 'acme' })}`;
        const acmeRequests = await openStream(url, svc, acme);
        // A request on behalf of globex (from the bus) must not be offered to acme's stream to answer.
        const asked = bus.request(svc, 'globex asks', { timeoutMs: 300, headers: { tenant: 'globex' } }).then(() => 'answered', (e: unknown) => (e as { code?: string }).code);
        await bus.publish(svc, 'acme marker', { headers: { tenant: 'acme' } });
        await waitFor(() => acmeRequests.some((e) => e.event.data === 'acme marker'), { timeoutMs: 2000, what: 'the acme marker' });
        expect(acmeRequests.map((e) => e.event.data), 'what acme was asked').to.deep.equal(['acme marker']);
        expect(await asked).to.equal('SB_ERR_REQUEST_TIMEOUT');
      });

      // With prefixes on, two tenants cannot stream one subject, so only this mode can share a group.
      if (subjectPrefix === false) it(`http gateway - tenants naming the same stream group on a shared subject each get all their own events (${mode})`, async () => {
        const { bus, url } = await gateway({ auth: { jwt: { secret }, subjectPrefix } });
        const shared = sharedOf(`t${randomUUID().slice(0, 8)}`);
        const acme = await openStream(url, shared, `Bearer ${await token({ tenant: 'acme' })}`, '?group=workers');
        const globex = await openStream(url, shared, `Bearer ${await token({ tenant: 'globex' })}`, '?group=workers');
        for (let i = 0; i < 4; i++) {
          await bus.publish(shared, `acme ${i}`, { headers: { tenant: 'acme' } });
          await bus.publish(shared, `globex ${i}`, { headers: { tenant: 'globex' } });
        }
        const data = (events: Array<{ event: Record<string, unknown> }>) => events.map((e) => e.event.data);
        await waitFor(() => data(acme).includes('acme 3') && data(globex).includes('globex 3'), { timeoutMs: 2000, what: 'the last event of each tenant' });
        expect(data(acme)).to.deep.equal(['acme 0', 'acme 1', 'acme 2', 'acme 3']);
        expect(data(globex)).to.deep.equal(['globex 0', 'globex 1', 'globex 2', 'globex 3']);
      });
    }

    it('http gateway - accepts API keys as the alternative', async () => {
      const { bus, url } = await gateway({ auth: { jwt: { secret }, apiKeys: { 'key-initech-1': 'initech' } } });
      const got = await collect(bus, 'initech.x');
      expect((await send(url, 'POST', '/v1/events/initech.x', { ...ce, 'x-api-key': 'key-initech-1' }, '{}')).status).to.equal(202);
      expectProblem(await send(url, 'POST', '/v1/events/initech.x', { ...ce, 'x-api-key': 'wrong-key-000' }, '{}'), 401, 'SB_ERR_AUTH_UNAUTHORIZED');
      await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the event' });
      expect(got[0]!.tenant).to.equal('initech');
    });
  });

  // ------------------------------------------------------------ webhooks

  describe('webhooks', () => {
    async function receiver(answer: (n: number) => number) {
      const seen: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => { seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }); res.writeHead(answer(seen.length)); res.end(); });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
      return { seen, url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook` };
    }

    it('http webhook - delivers in binary mode, readable by the SDK, retrying with the same id', async () => {
      const { bus } = await gateway();
      const target = await receiver((n) => (n < 3 ? 503 : 204));
      const hook = await startWebhook({ bus, pattern: 'hook.>', url: target.url, initialDelayMs: 10, maxDelayMs: 50 });
      cleanups.push(() => hook.stop());
      const sent = await bus.publish('hook.a', { n: 1 }, { type: 'hook.test' });
      await waitFor(() => target.seen.length === 3, { timeoutMs: 3000, what: 'three attempts' });
      const events = target.seen.map((s) => HTTP.toEvent({ headers: s.headers, body: s.body }) as CloudEvent<unknown>);
      expect(events.map((e) => e.id)).to.deep.equal([sent.id, sent.id, sent.id]);
      expect(events[2]!.data).to.deep.equal({ n: 1 });
      expect(events[2]!.type).to.equal('hook.test');
    });

    it('http webhook - dead-letters after maxAttempts, and at once on a 4xx answer', async () => {
      const { bus } = await gateway();
      const dead = await collect(bus, 'dlq.>');
      const down = await receiver(() => 500);
      const hook1 = await startWebhook({ bus, pattern: 'down.>', url: down.url, maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 });
      const gone = await receiver(() => 410);
      const hook2 = await startWebhook({ bus, pattern: 'gone.>', url: gone.url, maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 });
      cleanups.push(() => hook1.stop(), () => hook2.stop());
      await bus.publish('down.a', 1);
      await bus.publish('gone.a', 2);
      await waitFor(() => dead.length === 2, { timeoutMs: 3000, what: 'two dead letters' });
      const bySubject = Object.fromEntries(dead.map((d) => [d.dlqsubject, d]));
      expect(bySubject['down.a']).to.include({ dlqreason: 'SB_ERR_WEBHOOK_DELIVERY', dlqattempts: '3' });
      expect(bySubject['gone.a']).to.include({ dlqreason: 'SB_ERR_WEBHOOK_DELIVERY', dlqattempts: '1' });
      expect(down.seen.length).to.equal(3);
      expect(gone.seen.length).to.equal(1);
    });
  });

  // ------------------------------------------------------------ client side

  it('http transport - retries a publish on 503 and reuses the event id', async () => {
    const ids: string[] = [];
    const flaky = http.createServer((req, res) => {
      ids.push(String(req.headers['ce-id']));
      req.resume();
      req.on('end', () => {
        if (ids.length < 3) { res.writeHead(503, { 'content-type': 'application/problem+json' }); res.end('{"status":503,"code":"SB_ERR_BACKPRESSURE"}'); }
        else { res.writeHead(202); res.end(); }
      });
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => { flaky.closeAllConnections(); flaky.close(r); }));
    const t = new HttpTransport({ url: `http://127.0.0.1:${(flaky.address() as net.AddressInfo).port}`, retryDelayMs: 5 });
    cleanups.push(() => t.close());
    await t.publish('a.b', { specversion: '1.0', id: 'once', source: 's', type: 't' });
    expect(ids).to.deep.equal(['once', 'once', 'once']);
    const t2 = new HttpTransport({ url: `http://127.0.0.1:${(flaky.address() as net.AddressInfo).port}`, maxAttempts: 1 });
    cleanups.push(() => t2.close());
    ids.length = 0;
    const err = await t2.publish('a.b', { specversion: '1.0', id: 'x', source: 's', type: 't' }).then(() => null, (e) => e);
    expect(err).to.have.property('code', 'SB_ERR_BACKPRESSURE');
  });

  it('http transport - http:// URLs make clients, hostGateway hosts a gateway there', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const bus = new Bus({ service: 'host@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const gw = await hostGateway(`http://127.0.0.1:${port}`, bus);
    cleanups.push(() => bus.stop(), () => gw.close());
    const got = await collect(bus, 'cli.>');
    const client = await transportFromUrl(`http://127.0.0.1:${port}?concurrency=4`);
    expect(client).to.be.instanceOf(HttpTransport);
    const pub = new Bus({ service: 'pub@test', transport: client, metrics: false, logger: silentLogger });
    cleanups.push(() => pub.stop());
    await pub.publish('cli.hello', { hi: true });
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the event' });
    expect(got[0]!.data).to.deep.equal({ hi: true });
    const err = await (await transportFromUrl('http://127.0.0.1:1')).connect().then(() => null, (e) => e);
    expect(err).to.have.property('code', 'SB_ERR_TRANSPORT_CONNECT');
  });

  it('http transport - subscribes with a token and sees only its tenant', async () => {
    const { bus, url } = await gateway({ auth: { jwt: { secret } } });
    const acme = new Bus({ service: 'acme@test', transport: new HttpTransport({ url, token: await token({ tenant: 'acme' }) }), metrics: false, logger: silentLogger });
    const globex = new Bus({ service: 'globex@test', transport: new HttpTransport({ url, token: await token({ tenant: 'globex' }) }), metrics: false, logger: silentLogger });
    cleanups.push(() => acme.stop(), () => globex.stop());
    // One subject both tenants reach for: only the tenant scoping keeps globex off acme's subject.
    const shared = 'acme.orders';
    const got: Envelope[] = []; const globexSeen: unknown[] = []; const markers: unknown[] = [];
    await acme.subscribe(shared, async (m) => { got.push(m); });
    const refused = await globex.subscribe(shared, async (m) => { globexSeen.push(m.data); }).then(() => null, (e) => e);
    expect(refused).to.have.property('code', 'SB_ERR_AUTH_FORBIDDEN');
    const forbidden = await globex.publish(shared, 'from globex').then(() => null, (e) => e);
    expect(forbidden).to.have.property('code', 'SB_ERR_AUTH_FORBIDDEN');
    await globex.subscribe('globex.marker', async (m) => { markers.push(m.data); });
    await bus.publish(shared, 1);
    await acme.publish(shared, 3);
    // The marker leaves the gateway after both events: once globex has it, globex would have had them too.
    await bus.publish('globex.marker', 'marker', { headers: { tenant: 'globex' } });
    await waitFor(() => markers.length === 1 && got.length === 1, { timeoutMs: 2000, what: 'the marker at globex and the event at acme' });
    expect(globexSeen, 'what globex saw of acme').to.deep.equal([]);
    // The untenanted event (1) is no tenant's: a tenant's stream carries its own tenant's events only.
    expect(got.map((m) => [m.data, m.tenant])).to.deep.equal([[3, 'acme']]);
  });

  // ------------------------------------------------------------ HTTPS

  it('http gateway - serves HTTPS with a given key and certificate', async function () {
    if (spawnSync('openssl', ['version']).status !== 0) missingPrerequisite(this, 'openssl, which makes the test certificate, is not installed (apt-get install openssl)');
    const dir = mkdtempSync(join(tmpdir(), 'sb-https-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'cert.pem'));
    const { bus, url } = await gateway({ tls: { key: readFileSync(join(dir, 'key.pem')), cert } });
    expect(url.startsWith('https://')).to.equal(true);
    const got = await collect(bus, 'tls.x');
    const client = new Bus({ service: 'tls@test', transport: new HttpTransport({ url, tls: { ca: cert } }), metrics: false, logger: silentLogger });
    cleanups.push(() => client.stop());
    await client.publish('tls.x', { secure: true });
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the event over TLS' });
    expect(got[0]!.data).to.deep.equal({ secure: true });
    const untrusted = new HttpTransport({ url });
    cleanups.push(() => untrusted.close());
    expect(await untrusted.connect().then(() => null, (e) => e)).to.have.property('code', 'SB_ERR_TRANSPORT_CONNECT');
  });
});
