/**
 * SSE with a slow handler (issue 20, item 1): the HTTP transport pushes back instead of dropping.
 * While the Bus has no room it parses no further event and pauses the response, so its queue
 * stays within maxInFlight + maxPending and TCP holds the server back: nothing is lost.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Bus } from '../../core/index.js';
import { HttpGateway } from '../../gateway/index.js';
import { HttpTransport } from '../../transports/http/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { intakeDropped, LoadWatch } from '../helpers/intake-watch.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('intake bound: http (SSE)', function () {
  this.timeout(20_000);
  const watch = new LoadWatch();
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => { watch.stop(); for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); });

  const maxInFlight = 1; const maxPending = 50; const bound = maxInFlight + maxPending + 1;

  /** A Bus on `url` whose handler takes a millisecond, watched. */
  async function slowSubscriber(url: string, pattern: string): Promise<{ bus: Bus; handled: () => number }> {
    const bus = new Bus({ service: 'slow@test', transport: new HttpTransport({ url }), metrics: false, logger: silentLogger });
    cleanups.push(() => bus.stop());
    let handled = 0;
    const sub = await bus.subscribe(pattern, async () => { watch.sample(); await sleep(1); handled++; }, { maxInFlight, maxPending });
    watch.watch(sub);
    return { bus, handled: () => handled };
  }

  it('http - a slow SSE subscriber of the gateway keeps its queue within maxInFlight + maxPending, and the stream holds the publisher back', async () => {
    const gatewayBus = new Bus({ service: 'gw@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const gateway = new HttpGateway({ bus: gatewayBus });
    const { url } = await gateway.start();
    cleanups.push(() => gatewayBus.stop(), () => gateway.close());
    const prefix = `intake.${randomUUID().slice(0, 8)}`;
    const { bus, handled } = await slowSubscriber(url, `${prefix}.>`);
    const n = 1500;
    for (let i = 0; i < n; i++) await gatewayBus.publish(`${prefix}.dev${i % 10}`, { i, pad: 'x'.repeat(200) });
    await waitFor(() => handled() === n || watch.most > bound, { timeoutMs: 15_000, what: () => `${n} handled (got ${handled()})` });
    expect(watch.most, 'most held at once').to.be.at.most(bound);
    expect(handled(), 'everything handled').to.equal(n);
    expect(intakeDropped(bus), 'nothing dropped: the stream pushes back').to.equal(0);
  });

  it('http - a stream whose chunks carry hundreds of events is read no faster than the Bus takes them', async () => {
    // A server (or a proxy in front of the gateway) that coalesces: 400 events per write.
    const n = 2000; const perWrite = 400;
    let writtenAll = false;
    const server = http.createServer((req, res) => {
      if (req.url === '/healthz') { res.end('ok'); return; }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': subscribed\n\n');
      void (async () => {
        for (let i = 0; i < n; i += perWrite) {
          let text = '';
          for (let j = i; j < i + perWrite; j++) {
            const ev = { specversion: '1.0', id: `e${j}`, source: 'urn:test', type: 't', datacontenttype: 'application/json', data: { j } };
            text += `id: e${j}\nevent: coalesced.dev\ndata: ${JSON.stringify(ev)}\n\n`;
          }
          if (!res.write(text)) await new Promise((r) => res.once('drain', r));
        }
        writtenAll = true;
      })();
      req.on('close', () => res.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
    const { bus, handled } = await slowSubscriber(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'coalesced.>');
    await waitFor(() => handled() === n || watch.most > bound, { timeoutMs: 15_000, what: () => `${n} handled (got ${handled()})` });
    expect(watch.most, 'most held at once').to.be.at.most(bound);
    expect(watch.mostWaiting, 'handed over while full').to.be.at.most(1);
    expect(handled(), 'everything handled').to.equal(n);
    expect(writtenAll).to.equal(true);
    expect(intakeDropped(bus)).to.equal(0);
  });

  it('http - a stream reopened while the Bus is still full is paused too, so a flood after a reconnect waits in TCP, not in memory', async () => {
    // The gateway drops a stream that falls behind; the client reconnects while its Bus still has no
    // room. Before, the new response was never paused and its parser took in everything the server sent.
    const event = (j: number) => `id: e${j}\nevent: reopen.dev\ndata: ${JSON.stringify({ specversion: '1.0', id: `e${j}`, source: 'urn:test', type: 't', data: { j, pad: 'x'.repeat(400) } })}\n\n`;
    let connections = 0;
    let floodBytes = 0;
    let floodStarted = 0;
    const server = http.createServer((req, res) => {
      if (req.url === '/healthz') { res.end('ok'); return; }
      const nth = ++connections;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': subscribed\n\n');
      req.on('close', () => res.destroy());
      if (nth === 1) {
        // Enough to fill the Bus, then the stream breaks (as the gateway drops a slow one).
        let text = '';
        for (let j = 0; j < 200; j++) text += event(j);
        res.write(text);
        setTimeout(() => res.destroy(), 300);
        return;
      }
      floodStarted = Date.now();
      void (async () => {
        for (let j = 0; floodBytes < 40 << 20 && !res.destroyed; j += 100) {
          let text = '';
          for (let k = j; k < j + 100; k++) text += event(k);
          floodBytes += Buffer.byteLength(text);
          if (!res.write(text)) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
        }
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    cleanups.push(async () => release());
    const bus = new Bus({ service: 'slow@test', transport: new HttpTransport({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }), metrics: false, logger: silentLogger });
    cleanups.push(() => bus.stop());
    await bus.subscribe('reopen.>', async () => { await gate; }, { maxInFlight, maxPending });
    await waitFor(() => floodStarted > 0, { timeoutMs: 10_000, what: 'the reconnected stream' });
    await sleep(2000);
    // What loopback TCP buffers hold is a few MiB; without the pause the client read all 40 MiB.
    expect(floodBytes, 'bytes the server got to write after the reconnect').to.be.below(16 << 20);
  });
});
