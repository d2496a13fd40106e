import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Envelope } from '../../core/index.js';
import { HttpTransport } from '../../transports/http/index.js';

const event = (id: string): Envelope => ({ specversion: '1.0', id, source: 'test', type: 't', datacontenttype: 'application/json', data: { n: 1 } });

/** A server that takes requests and answers them the way `onRequest` says (or never). */
async function server(onRequest: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const s = http.createServer(onRequest);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); }),
  };
}

describe('http transport timeouts', function () {
  this.timeout(10_000);
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); });

  it('http transport - a publish nobody answers fails after timeoutMs with a network error', async () => {
    const silent = await server((req) => { req.resume(); });
    cleanups.push(() => silent.close());
    const t = new HttpTransport({ url: silent.url, timeoutMs: 200, maxAttempts: 1 });
    cleanups.push(() => t.close());
    const t0 = Date.now();
    const err = await t.publish('a.b', event('silent')).then(() => null, (e: unknown) => e);
    const took = Date.now() - t0;
    expect(err).to.have.property('code', 'SB_ERR_TRANSPORT_CONNECT');
    expect((err as { details?: { timeout?: boolean } }).details?.timeout).to.equal(true);
    expect(took).to.be.within(180, 3000);
  });

  it('http transport - timeoutMs bounds the whole exchange, not only silences', async () => {
    // Headers at once, then one body byte every 50 ms: never idle long, but far too slow.
    const trickle = await server((req, res) => {
      req.resume();
      res.writeHead(202, { 'content-length': '100' });
      const timer = setInterval(() => { if (!res.destroyed) res.write('x'); }, 50);
      res.on('close', () => clearInterval(timer));
    });
    cleanups.push(() => trickle.close());
    const t = new HttpTransport({ url: trickle.url, timeoutMs: 300, maxAttempts: 1 });
    cleanups.push(() => t.close());
    const t0 = Date.now();
    const err = await t.publish('a.b', event('trickle')).then(() => null, (e: unknown) => e);
    expect(err).to.have.property('code', 'SB_ERR_TRANSPORT_CONNECT');
    expect(Date.now() - t0).to.be.within(280, 3000);
  });

  it('http transport - a request nobody answers fails with SB_ERR_REQUEST_TIMEOUT', async () => {
    const silent = await server((req) => { req.resume(); });
    cleanups.push(() => silent.close());
    const t = new HttpTransport({ url: silent.url });
    cleanups.push(() => t.close());
    // The client waits the request timeout plus a second for the gateway's own 504.
    const err = await t.request('a.b', event('q'), { timeoutMs: 100 }).then(() => null, (e: unknown) => e);
    expect(err).to.have.property('code', 'SB_ERR_REQUEST_TIMEOUT');
  });

  it('http transport - answered publishes leave no timer behind', async () => {
    const ok = await server((req, res) => { req.resume(); req.on('end', () => { res.writeHead(202, { 'content-length': '0' }); res.end(); }); });
    cleanups.push(() => ok.close());
    const t = new HttpTransport({ url: ok.url, timeoutMs: 60_000 });
    cleanups.push(() => t.close());
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.publish('a.b', event(`ok-${i}`))));
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).to.be.at.most(before);
  });
});
