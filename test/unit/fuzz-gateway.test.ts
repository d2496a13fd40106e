import { expect } from 'chai';
import fc from 'fast-check';
import http from 'node:http';
import { Bus } from '../../core/index.js';
import { HttpGateway } from '../../gateway/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { toHttpBatch, toHttpBinary, toHttpStructured } from '../../transports/http/binding.js';
import { arbitraryBytes, attributeName, deepJson, FUZZ_TIMEOUT_MS, fuzzParams, hostileString, jsonEventObject, mutated } from '../helpers/fuzz.js';
import { send } from '../helpers/http-send.js';
import { silentLogger } from '../helpers/silent-logger.js';

const envelope = fc.record({
  specversion: fc.constant('1.0'), id: fc.uuid(), source: fc.constant('urn:fuzz'), type: fc.constant('t'),
  datacontenttype: fc.constantFrom('application/json', 'text/plain', 'application/x-unknown'),
  data: fc.constantFrom('{"t":1}', 'x', '[[[[').map((s) => new TextEncoder().encode(s)),
});

/** A request as a client could send it: valid binary/structured/batch/plain-JSON bodies mutated, headers swapped for odd ones. */
const request = fc.tuple(
  fc.constantFrom('/v1/events/', '/v1/requests/', '/v1/replies/'),
  fc.oneof(fc.constantFrom('a.b', 'a.%zz', 'a..b', 'a.*', '%00', 'x'.repeat(300)), fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).map(encodeURIComponent)),
  fc.oneof(
    envelope.map((e) => { const m = toHttpBinary(e); return { headers: m.headers as Record<string, string>, body: Buffer.from(m.body ?? []) }; }),
    envelope.map((e) => { const m = toHttpStructured(e); return { headers: m.headers, body: Buffer.from(m.body!) }; }),
    fc.array(envelope, { maxLength: 3 }).map((es) => { const m = toHttpBatch(es); return { headers: m.headers, body: Buffer.from(m.body!) }; }),
    jsonEventObject.map((e) => ({ headers: { 'content-type': 'application/cloudevents+json' }, body: Buffer.from(JSON.stringify(e)) })),
    deepJson.map((t) => ({ headers: { 'content-type': 'application/json' }, body: Buffer.from(t) })),
    arbitraryBytes.map((b) => ({ headers: { 'content-type': 'application/json' } as Record<string, string>, body: b })),
  ),
  fc.array(fc.tuple(
    fc.oneof(attributeName.map((a) => `ce-${a}`), fc.constantFrom('content-type', 'idempotency-key', 'x-signalbus-timeout-ms', 'ce-specversion')),
    fc.oneof(hostileString, fc.constantFrom('application/cloudevents-batch+json', 'application/cloudevents+json', 'text/plain', '1', '-5', '1e309')),
  ), { maxLength: 3 }),
).chain(([prefix, subject, { headers, body }, extra]) => mutated(fc.constant(body), 3).map((b) => {
  const h: Record<string, string> = { ...headers };
  for (const [k, v] of extra) h[k] = v;
  return { path: prefix + subject, headers: h, body: b };
}));

describe('fuzz - HTTP gateway', function () {
  this.timeout(FUZZ_TIMEOUT_MS);
  let bus: Bus;
  let gateway: HttpGateway;
  let url: string;

  before(async () => {
    bus = new Bus({ service: 'gateway-fuzz', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    await bus.start();
    gateway = new HttpGateway({ bus, requestTimeoutMs: 20, maxRequestTimeoutMs: 20, maxBodyBytes: 64 * 1024 });
    ({ url } = await gateway.start());
  });
  after(async () => {
    await gateway.close();
    await bus.stop();
  });

  it('gateway fuzz - any request is answered with a 2xx or a problem carrying a typed code, never a 500', async () => {
    await fc.assert(fc.asyncProperty(request, async ({ path, headers, body }) => {
      let answer;
      try { answer = await send(url, 'POST', path, { ...headers, 'content-length': body.length }, body); } catch (err) {
        // Node's client refuses to send a header with CR/LF or control characters: nothing reached the gateway.
        if ((err as { code?: string }).code === 'ERR_INVALID_CHAR' || (err as { code?: string }).code === 'ERR_INVALID_HTTP_TOKEN') return;
        throw err;
      }
      expect(answer.status, answer.text).to.not.equal(500);
      if (answer.status >= 400) expect(answer.json?.code, answer.text).to.match(/^SB_ERR_[A-Z0-9_]+$/).and.not.equal('SB_ERR_INTERNAL');
    }), fuzzParams(150, 0.1));
  });

  it('gateway - a bad ce-traceparent is ignored and a new trace started (W3C), not a 500 (minimized counterexample)', async () => {
    const answer = await send(url, 'POST', '/v1/events/a.b', {
      'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 't', 'ce-traceparent': '}00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    expect(answer.status, answer.text).to.equal(202);
  });

  it('gateway - a body declaring 1 GiB is refused with 413 SB_ERR_MESSAGE_TOO_LARGE before any of it is read', async () => {
    const answer = await send(url, 'POST', '/v1/events/a.b', { 'content-type': 'application/json', 'content-length': 1 << 30 }, '{');
    expect(answer.status).to.equal(413);
    expect(answer.json?.code).to.equal('SB_ERR_MESSAGE_TOO_LARGE');
  });

  it('gateway - a chunked body that grows past maxBodyBytes is refused with 413 once it is over, not buffered to the end', async () => {
    let writtenAtAnswer = 0;
    const answer = await new Promise<{ status: number; code?: string }>((resolve, reject) => {
      const req = http.request(`${url}/v1/events/a.b`, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(Buffer.concat(chunks).toString()) as { code?: string }).code }));
      });
      req.on('error', reject);
      // Keeps writing until the gateway answers: 64 KiB is the bound, the writer would go on for 64 MiB.
      let written = 0;
      const more = () => {
        while (written < 64 << 20 && !req.destroyed) {
          written += 16 * 1024;
          if (!req.write(Buffer.alloc(16 * 1024, 0x20))) { req.once('drain', more); return; }
        }
        req.end();
      };
      req.on('response', () => { writtenAtAnswer = written; written = 64 << 20; });
      more();
    });
    expect(answer.status).to.equal(413);
    expect(answer.code).to.equal('SB_ERR_MESSAGE_TOO_LARGE');
    // Answered while the client was still writing (socket buffers hold a few MiB), not after all 64 MiB.
    expect(writtenAtAnswer).to.be.below(32 << 20);
  });
});
