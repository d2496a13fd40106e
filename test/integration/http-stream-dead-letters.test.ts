/**
 * HttpTransport's stream subscriptions (SSE from a gateway) never drop an event they cannot read:
 * one that breaks this side's inbound rules (a gateway with wider header limits relays it), one
 * that is not JSON or not an event goes to the Bus, which dead-letters it with the reason
 * (`POST /v1/events/dlq.<subject>` with `ce-dlqreason`), as on every other transport. The events
 * around it are delivered. The gateway is a plain HTTP server here, so the stream says exactly
 * what the test wants.
 */
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Bus, type Envelope } from '../../core/index.js';
import { HttpTransport } from '../../transports/http/index.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

interface Posted { url: string; headers: http.IncomingHttpHeaders; body: string }

describe('http transport stream dead letters (integration)', function () {
  this.timeout(15_000);
  let server: http.Server;
  let bus: Bus | undefined;
  const posted: Posted[] = [];
  let streams = 0;
  let endless = false;

  const base = { specversion: '1.0', source: 'urn:test', type: 'test.reading', datacontenttype: 'application/json' };
  const frames = [
    `id: ok-1\nevent: x.ok\ndata: ${JSON.stringify({ ...base, id: 'ok-1', data: { n: 1 } })}\n\n`,
    `id: ctrl\nevent: x.bad\ndata: ${JSON.stringify({ ...base, id: 'ctrl', ext: 'a\u0001b', data: { n: 2 } })}\n\n`,
    `id: long\nevent: x.bad\ndata: ${JSON.stringify({ ...base, id: 'long', ext: 'v'.repeat(5000), data: { n: 3 } })}\n\n`,
    'id: broken\nevent: x.bad\ndata: {"specversion":"1.0","id":"broken",\n\n',
    `id: ok-2\nevent: x.ok\ndata: ${JSON.stringify({ ...base, id: 'ok-2', data: { n: 4 } })}\n\n`,
  ];

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.method === 'POST') {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => { body += c; });
        req.on('end', () => { posted.push({ url: req.url ?? '', headers: req.headers, body }); res.writeHead(202).end(); });
        return;
      }
      if (!req.url?.startsWith('/v1/stream/')) { res.writeHead(200).end('ok'); return; } // the transport's health check
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': subscribed\n\n');
      streams++;
      // The endless test's first stream sends a line that never ends, then nothing.
      if (endless && streams === 1) { res.write(`data: ${'x'.repeat(200_000)}`); return; }
      setTimeout(() => { for (const f of frames) res.write(f); }, 50);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterEach(async () => { await bus?.stop(); bus = undefined; posted.length = 0; streams = 0; endless = false; });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('http transport - dead-letters stream events it cannot read, with the reason, and delivers the rest', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    bus = new Bus({ service: 'client@test', transport: new HttpTransport({ url }), metrics: false, logger: silentLogger });
    await bus.start();
    const got: Envelope[] = [];
    await bus.subscribe('x.>', (m) => { got.push(m); });
    await waitFor(() => got.length === 2 && posted.length === 3, {
      timeoutMs: 5000, what: () => `2 deliveries and 3 dead letters (got ${got.length} and ${posted.length})`,
    });
    expect(got.map((m) => m.id)).to.deep.equal(['ok-1', 'ok-2']);
    expect(posted.map((p) => p.url)).to.deep.equal(['/v1/events/dlq.x.bad', '/v1/events/dlq.x.bad', '/v1/events/dlq.x.bad']);
    const reasons = posted.map((p) => p.headers['ce-dlqreason']);
    expect(reasons).to.deep.equal(['SB_ERR_HEADER_INVALID', 'SB_ERR_HEADER_INVALID', 'SB_ERR_CODEC_DECODE']);
    // The dead letter keeps the event's id where it had a usable one, and its text as the data.
    expect(posted.map((p) => p.headers['ce-id'])).to.deep.equal(['ctrl', 'long', 'broken']);
    expect(posted[2]!.body).to.equal('{"specversion":"1.0","id":"broken",');
  });

  it('http transport - a stream line that never ends is cut at the bound and the stream opened again, not buffered without end', async () => {
    endless = true;
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // maxMessageBytes 1 KiB: a stream event may be ~66 K characters; the first stream sends 200 K without a newline.
    bus = new Bus({ service: 'client@test', transport: new HttpTransport({ url, maxMessageBytes: 1024 }), metrics: false, logger: silentLogger });
    await bus.start();
    const got: Envelope[] = [];
    await bus.subscribe('x.>', (m) => { got.push(m); });
    await waitFor(() => got.length === 2, { timeoutMs: 5000, what: () => `the events of the second stream (streams opened: ${streams})` });
    expect(streams).to.equal(2);
    expect(got.map((m) => m.id)).to.deep.equal(['ok-1', 'ok-2']);
  });
});
