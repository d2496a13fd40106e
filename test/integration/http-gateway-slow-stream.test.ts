/**
 * A client that stops reading its SSE stream must cost only its own stream (issue 20 item 2, the
 * gateway's half): before, the gateway held the bus back for up to `streamStallMs` each time a
 * stream fell behind, so on a memory bus every publisher and every other stream waited with it.
 */
import { expect } from 'chai';
import http from 'node:http';
import { Bus, type Logger } from '../../core/index.js';
import { HttpGateway, type HttpGatewayOptions } from '../../gateway/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const EVENTS = 20_000;

describe('http gateway - a slow stream', function () {
  this.timeout(30_000);
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); });

  async function gateway(options: Partial<HttpGatewayOptions>) {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message: string) => { warnings.push(message); }, child: () => logger };
    const bus = new Bus({ service: 'gw@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger });
    const gw = new HttpGateway({ bus, ...options });
    const { url } = await gw.start();
    cleanups.push(() => bus.stop(), () => gw.close());
    return { bus, url, warnings };
  }

  /**
   * An SSE stream that reads nothing once its headers arrived. `readOn()` reads again: a paused
   * socket cannot see its end, so whether the gateway closed it shows once it reads.
   */
  function unreadStream(url: string): Promise<{ readOn: () => void; ended: () => boolean }> {
    return new Promise((resolve, reject) => {
      let ended = false;
      const req = http.get(`${url}/v1/stream/feed.%3E`, { agent: false }, (res) => {
        res.pause();
        res.socket.pause();
        res.socket.once('close', () => { ended = true; });
        res.on('error', () => {});
        resolve({ readOn: () => { res.resume(); res.socket.resume(); }, ended: () => ended });
      });
      req.on('error', reject);
      cleanups.push(async () => req.destroy());
    });
  }

  /** A stream that reads and counts every event. */
  function readStream(url: string): Promise<{ count: () => number }> {
    return new Promise((resolve, reject) => {
      let n = 0; let tail = '';
      const req = http.get(`${url}/v1/stream/feed.%3E`, { agent: false }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const text = tail + chunk;
          const frames = text.split('\n\n');
          tail = frames.pop()!;
          n += frames.filter((f) => f.includes('data: ')).length;
        });
        resolve({ count: () => n });
      });
      req.on('error', reject);
      cleanups.push(async () => req.destroy());
    });
  }

  it('http gateway - a client that reads nothing holds back neither publishers nor other streams, and loses its stream', async () => {
    // A stall bound far past the test's own time: only the byte bound may close the slow stream.
    const { bus, url, warnings } = await gateway({ streamStallMs: 60_000, streamMaxBufferedBytes: 256 * 1024 });
    const healthy = await readStream(url);
    const slow = await unreadStream(url);
    const t0 = Date.now();
    const data = { reading: 'x'.repeat(300) };
    // In bursts of 100 with a turn of the event loop between, as publishers on the network come.
    for (let i = 0; i < EVENTS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => bus.publish(`feed.${(i + k) % 7}`, { ...data, n: i + k }, { type: 'feed.reading' })));
      await new Promise((r) => setImmediate(r));
    }
    expect(Date.now() - t0, 'publishing took as long as a stalled stream holds the bus').to.be.below(10_000);
    await waitFor(() => healthy.count() === EVENTS, { timeoutMs: 10_000, what: `the healthy stream's ${EVENTS} events (got ${healthy.count()})` });
    expect(warnings).to.include('http gateway: stream closed, its client is too slow');
    slow.readOn();
    await waitFor(() => slow.ended(), { timeoutMs: 5000, what: 'the slow stream closed' });
    const closed = [...bus.metrics.totals()].filter(([field]) => field.endsWith('stream closed-slow'));
    expect(closed.map(([field, t]) => [field, t.count])).to.deep.equal([['gw@test:http-gateway stream closed-slow', 1]]);
  });

  it('http gateway - a stream whose client stays behind for streamStallMs is closed without holding the bus back', async () => {
    const { bus, url, warnings } = await gateway({ streamStallMs: 500, streamMaxBufferedBytes: 64 * 1024 * 1024 });
    const slow = await unreadStream(url);
    // Enough to fill the socket buffers, then nothing: only the stall timer can close it.
    const data = { reading: 'x'.repeat(1000) };
    const t0 = Date.now();
    for (let i = 0; i < 8000; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => bus.publish('feed.a', { ...data, n: i + k }, { type: 'feed.reading' })));
      await new Promise((r) => setImmediate(r));
    }
    expect(Date.now() - t0).to.be.below(5000);
    await waitFor(() => warnings.includes('http gateway: stream closed, its client read nothing'), { timeoutMs: 5000, what: 'the stall warning' });
    slow.readOn();
    await waitFor(() => slow.ended(), { timeoutMs: 5000, what: 'the stalled stream closed' });
  });
});
