import { expect } from 'chai';
import net from 'node:net';
import { SignJWT } from 'jose';
import { Bus, type Envelope } from '../../core/index.js';
import { HttpGateway, type HttpGatewayOptions } from '../../gateway/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

// What the gateway must refuse at the door rather than accept with 202 and lose or garble later
// (issue 20 item 8): unknown data content types, malformed data_base64, repeated ce-* headers and
// repeated credentials (Node joins two ce-id into "a, b" and keeps only the first Authorization).

const secret = 'integration-secret-of-at-least-32-bytes!';
const token = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(secret));

interface Answer { status: number; json?: Record<string, unknown>; text: string }

/** One raw HTTP/1.1 request, headers sent exactly as listed (repeats included), read to the end. */
function sendRaw(url: string, path: string, headers: Array<[string, string]>, body = ''): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const bytes = Buffer.from(body, 'utf8');
  const head = [`POST ${path} HTTP/1.1`, `host: ${hostname}`, 'connection: close', `content-length: ${bytes.byteLength}`, ...headers.map(([n, v]) => `${n}: ${v}`)];
  return new Promise((resolve, reject) => {
    // write, not end: Node's server drops a request whose client half-closes before the answer.
    const socket = net.connect(Number(port), hostname, () => socket.write(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), bytes])));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      const text = split < 0 ? '' : raw.slice(split + 4);
      let json: Record<string, unknown> | undefined;
      try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
      resolve({ status: Number(raw.split(' ', 2)[1]), json, text: raw });
    });
  });
}

function expectProblem(a: Answer, status: number, code: string): void {
  expect(a.status, a.text).to.equal(status);
  expect(a.text.toLowerCase()).to.include('content-type: application/problem+json');
  expect(a.json).to.include({ status, code, type: `urn:signalbus:error:${code}` });
}

const binary: Array<[string, string]> = [['ce-specversion', '1.0'], ['ce-source', 's'], ['ce-type', 't']];
const structured = (event: Record<string, unknown>) => JSON.stringify({ specversion: '1.0', source: 's', type: 't', ...event });

describe('http gateway refuses', function () {
  this.timeout(20_000);
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); });

  /** A gateway and what a subscriber on `subject` receives. */
  async function gateway(subject: string, options: Partial<HttpGatewayOptions> = {}) {
    const bus = new Bus({ service: 'gw@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const gw = new HttpGateway({ bus, ...options });
    const { url } = await gw.start();
    cleanups.push(() => bus.stop(), () => gw.close());
    const got: Envelope[] = [];
    await bus.subscribe(subject, async (m) => { got.push(m); });
    return { url, got };
  }

  /** Sends an event that must pass, waits for it, and checks nothing refused arrived before it. */
  async function expectOnlyTheGoodOne(url: string, path: string, got: Envelope[], headers: Array<[string, string]> = []): Promise<void> {
    const good = await sendRaw(url, path, [...binary, ['ce-id', 'good'], ['content-type', 'application/json'], ...headers], '{}');
    expect(good.status, good.text).to.equal(202);
    await waitFor(() => got.length > 0, { timeoutMs: 2000, what: 'the good event' });
    expect(got.map((e) => e.id)).to.deep.equal(['good']);
  }

  it('http gateway - answers 415 for a data content type no codec takes, in every mode', async () => {
    const { url, got } = await gateway('codec.x');
    const path = '/v1/events/codec.x';
    expectProblem(await sendRaw(url, path, [...binary, ['ce-id', '1'], ['content-type', '???']], 'x'), 415, 'SB_ERR_CODEC_UNKNOWN');
    expectProblem(await sendRaw(url, path, [['content-type', 'application/cloudevents+json']],
      structured({ id: '2', datacontenttype: '???', data: 'x' })), 415, 'SB_ERR_CODEC_UNKNOWN');
    expectProblem(await sendRaw(url, path, [['content-type', 'application/cloudevents+json']],
      structured({ id: '3', datacontenttype: 'image/x-nobody-knows', data_base64: 'AAEC' })), 415, 'SB_ERR_CODEC_UNKNOWN');
    expectProblem(await sendRaw(url, path, [['content-type', 'application/cloudevents-batch+json']],
      JSON.stringify([JSON.parse(structured({ id: '4', data: {} })), JSON.parse(structured({ id: '5', datacontenttype: '???', data: 'x' }))])), 415, 'SB_ERR_CODEC_UNKNOWN');
    await expectOnlyTheGoodOne(url, path, got);
  });

  it('http gateway - answers 400 for data_base64 that is not strict base64', async () => {
    const { url, got } = await gateway('b64.x');
    const path = '/v1/events/b64.x';
    const ct: Array<[string, string]> = [['content-type', 'application/cloudevents+json']];
    // Outside the alphabet, base64url, missing or misplaced padding, embedded whitespace.
    for (const bad of ['@@@!!', '-_-_', 'AAE', 'AA=A', 'AAEC=', 'AA EC', 'AAEC\n']) {
      expectProblem(await sendRaw(url, path, ct, structured({ id: bad, data_base64: bad })), 400, 'SB_ERR_ENVELOPE_INVALID');
    }
    const batch = JSON.stringify([JSON.parse(structured({ id: 'b1', data_base64: 'AAEC' })), JSON.parse(structured({ id: 'b2', data_base64: '@@@!!' }))]);
    expectProblem(await sendRaw(url, path, [['content-type', 'application/cloudevents-batch+json']], batch), 400, 'SB_ERR_HTTP_BODY_INVALID');
    await expectOnlyTheGoodOne(url, path, got);
    // Valid base64 (with and without padding needed) still passes, bytes intact.
    for (const [id, b64] of [['p0', 'AAECAw=='], ['p1', 'AAEC'], ['p2', '/+8='], ['p3', '']]) {
      expect((await sendRaw(url, path, ct, structured({ id, data_base64: b64 }))).status, id).to.equal(202);
    }
    await waitFor(() => got.length === 5, { timeoutMs: 2000, what: 'the valid base64 events' });
    expect(got.slice(1).map((e) => Buffer.from((e.data as Uint8Array | undefined) ?? []).toString('base64'))).to.deep.equal(['AAECAw==', 'AAEC', '/+8=', '']);
  });

  it('http gateway - answers 400 for a repeated ce-* (or binary-mode Content-Type) header instead of joining the values', async () => {
    const { url, got } = await gateway('dup.x');
    const path = '/v1/events/dup.x';
    expectProblem(await sendRaw(url, path, [...binary, ['ce-id', 'a'], ['ce-id', 'b']]), 400, 'SB_ERR_HEADER_INVALID');
    expectProblem(await sendRaw(url, path, [...binary, ['ce-id', 'a'], ['CE-Id', 'b']]), 400, 'SB_ERR_HEADER_INVALID');
    expectProblem(await sendRaw(url, path, [...binary, ['ce-id', 'a'], ['ce-myext', 'x'], ['ce-myext', 'y']]), 400, 'SB_ERR_HEADER_INVALID');
    // In binary mode Content-Type is datacontenttype: Node would keep the first of two.
    expectProblem(await sendRaw(url, path, [...binary, ['ce-id', 'a'], ['content-type', 'application/json'], ['Content-Type', 'text/plain']], '{}'), 400, 'SB_ERR_HEADER_INVALID');
    await expectOnlyTheGoodOne(url, path, got);
  });

  it('http gateway - answers 400 for a structured event (or an event of a batch) that repeats a member name instead of keeping the last', async () => {
    const { url, got } = await gateway('dupm.x');
    const ct: Array<[string, string]> = [['content-type', 'application/cloudevents+json']];
    const head = '{"specversion":"1.0","source":"s","type":"t"';
    // JSON.parse keeps the last "tenant"/"id"; a proxy or another language's reader may keep the first.
    const tenant = await sendRaw(url, '/v1/events/dupm.x', ct, `${head},"id":"d1","tenant":"acme","tenant":"evil"}`);
    expectProblem(tenant, 400, 'SB_ERR_ENVELOPE_INVALID');
    expect(tenant.json).to.include({ member: 'tenant' });
    const id = await sendRaw(url, '/v1/events/dupm.x', ct, `${head},"id":"d2","\\u0069d":"d3"}`);
    expectProblem(id, 400, 'SB_ERR_ENVELOPE_INVALID');
    expect(id.json).to.include({ member: 'id' });
    expectProblem(await sendRaw(url, '/v1/requests/dupm.x', ct, `${head},"id":"d4","type":"u"}`), 400, 'SB_ERR_ENVELOPE_INVALID');
    const batch = await sendRaw(url, '/v1/events/dupm.x', [['content-type', 'application/cloudevents-batch+json']],
      `[${head},"id":"b1"},${head},"id":"b2","tenant":"acme","tenant":"evil"}]`);
    expectProblem(batch, 400, 'SB_ERR_HTTP_BODY_INVALID');
    expect(batch.json).to.include({ index: 1, reason: 'SB_ERR_ENVELOPE_INVALID' });
    // Nothing of those was published; a structured event without repeats (data may repeat its own names) is.
    const good = await sendRaw(url, '/v1/events/dupm.x', ct, `${head},"id":"good","datacontenttype":"application/json","data":{"n":1,"n":2}}`);
    expect(good.status, good.text).to.equal(202);
    await waitFor(() => got.length > 0, { timeoutMs: 2000, what: 'the good event' });
    expect(got.map((e) => e.id)).to.deep.equal(['good']);
  });

  it('http gateway - answers 400 for a repeated Idempotency-Key on a plain JSON event instead of joining the keys into its id', async () => {
    const { url, got } = await gateway('dup.y');
    const path = '/v1/events/dup.y';
    const plain: Array<[string, string]> = [['content-type', 'application/json']];
    expectProblem(await sendRaw(url, path, [...plain, ['idempotency-key', 'a'], ['Idempotency-Key', 'b']], '{}'), 400, 'SB_ERR_HEADER_INVALID');
    expect((await sendRaw(url, path, [...plain, ['idempotency-key', 'k-1']], '{}')).status).to.equal(202);
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the plain event' });
    expect(got.map((e) => e.id)).to.deep.equal(['k-1']);
  });

  it('http gateway - answers 401 for repeated credentials instead of taking the first', async () => {
    const { url, got } = await gateway('acme.x', { auth: { jwt: { secret }, apiKeys: { 'key-acme-000001': 'acme' } } });
    const path = '/v1/events/acme.x';
    const acme = `Bearer ${await token({ tenant: 'acme' })}`;
    const event: Array<[string, string]> = [...binary, ['ce-id', 'dup'], ['content-type', 'application/json']];
    expectProblem(await sendRaw(url, path, [...event, ['authorization', acme], ['authorization', 'Bearer junk']], '{}'), 401, 'SB_ERR_AUTH_UNAUTHORIZED');
    expectProblem(await sendRaw(url, path, [...event, ['authorization', acme], ['Authorization', acme]], '{}'), 401, 'SB_ERR_AUTH_UNAUTHORIZED');
    expectProblem(await sendRaw(url, path, [...event, ['x-api-key', 'key-acme-000001'], ['x-api-key', 'key-acme-000001']], '{}'), 401, 'SB_ERR_AUTH_UNAUTHORIZED');
    await expectOnlyTheGoodOne(url, path, got, [['authorization', acme]]);
  });
});
