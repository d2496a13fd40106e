/**
 * The hub's per-connection bounds (issue 20 items 2 and 3): a slow consumer fills its own bounded
 * queue and is closed with 4008 without holding back publishers or other consumers; one connection
 * holds a bounded number of subscriptions and a bounded number of bytes across all of them.
 * Clients are plain `ws` sockets speaking the documented frames; no broker needed.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Bus } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { HUB_DEFAULTS, WebSocketHub, type WebSocketHubOptions } from '../../hub/index.js';
import { CLOSE_CODES, SUBPROTOCOL, SubscriptionLimitError, WebSocketTransport } from '../../transports/websocket/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';
import type { Logger } from '../../core/index.js';

/** A logger that keeps the hub's warnings (a dropped connection says why and what it held). */
function warningLogger(): { logger: Logger; warnings: Array<{ msg: string; details?: Record<string, unknown> }> } {
  const warnings: Array<{ msg: string; details?: Record<string, unknown> }> = [];
  const logger: Logger = { ...silentLogger, warn: (msg, details) => { warnings.push({ msg, details }); }, child: () => logger };
  return { logger, warnings };
}

type Frame = Record<string, unknown> & { op?: string };

/**
 * A plain `ws` client that counts what it gets instead of keeping every frame (tens of thousands
 * arrive here). With `autoAck` it acks each delivery in one batched `ack` frame per turn.
 */
class CountingClient {
  delivered = 0;
  readonly acked = new Set<unknown>();
  readonly errors: Frame[] = [];
  closeCode?: number;
  private toAck: unknown[] = [];

  private constructor(readonly ws: WebSocket, private readonly autoAck: boolean) {
    ws.on('message', (data) => this.onFrame(JSON.parse(data.toString()) as Frame));
    ws.on('close', (code) => { this.closeCode = code; });
    ws.on('error', () => {});
  }

  static open(url: string, autoAck = false): Promise<CountingClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, SUBPROTOCOL);
      ws.once('open', () => resolve(new CountingClient(ws, autoAck)));
      ws.once('error', reject);
    });
  }

  private onFrame(f: Frame): void {
    if (f.op === 'msg') {
      this.delivered++;
      if (this.autoAck && f.id !== undefined) {
        if (this.toAck.length === 0) setImmediate(() => this.send({ op: 'ack', ids: this.toAck.splice(0) }));
        this.toAck.push(f.id);
      }
    } else if (f.op === 'ack') {
      for (const id of f.ids as unknown[]) this.acked.add(id);
    } else if (f.op === 'error') {
      this.errors.push(f);
    }
  }

  send(frame: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  async subscribe(sid: string, pattern: string, inflight: number): Promise<void> {
    const id = `sub-${sid}`;
    this.send({ op: 'sub', id, sid, pattern, inflight });
    await waitFor(() => this.acked.has(id) || this.errors.some((e) => e.ref === id), { timeoutMs: 5000, what: `the answer to ${id}` });
    const refused = this.errors.find((e) => e.ref === id);
    if (refused) throw new Error(`subscription ${sid} refused: ${String(refused.code)}`);
  }

  /** Publishes `count` events in windows of `window` unacked publishes, as a client with a bounded publish buffer does. */
  async publish(subject: string, count: number, window: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let next = 0; next < count;) {
      const end = Math.min(count, next + window);
      for (; next < end; next++) {
        this.send({ op: 'pub', id: next, subject, event: { specversion: '1.0', id: randomUUID(), source: 'bounds-test', type: 'test.bounds', data: { n: next, pad: 'x'.repeat(100) } } });
      }
      await waitFor(() => this.acked.size >= end, { timeoutMs: Math.max(1, deadline - Date.now()), what: () => `acks of ${end} publishes (got ${this.acked.size})` });
    }
  }

  close(): void { this.ws.terminate(); }
}

describe('websocket hub bounds (integration)', function () {
  this.timeout(30_000);
  const cleanups: Array<() => Promise<void> | void> = [];
  let prefix = '';

  async function standaloneHub(options: WebSocketHubOptions = {}): Promise<WebSocketHub> {
    const hub = new WebSocketHub({ logger: silentLogger, ...options });
    await hub.listen();
    cleanups.push(() => hub.close());
    return hub;
  }

  async function open(hub: WebSocketHub, autoAck = false): Promise<CountingClient> {
    const c = await CountingClient.open(hub.url, autoAck);
    cleanups.push(() => c.close());
    return c;
  }

  beforeEach(() => { prefix = `wsb${randomUUID().slice(0, 8)}`; });
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

  it('ws hub - a subscriber that never acks its inflight:1 window is closed with 4008 and holds back no publisher and no other subscriber', async () => {
    const { logger, warnings } = warningLogger();
    const hub = await standaloneHub({ logger });
    const stuck = await open(hub);
    await stuck.subscribe('all', '>', 1);
    // Healthy: reads everything it gets (no window; an acking window that falls 10,000 behind a
    // publisher this fast is a slow consumer too, and is dropped the same way).
    const healthy = await open(hub);
    await healthy.subscribe('mine', `${prefix}.>`, 0);
    const publisher = await open(hub);

    const n = 20_000;
    const started = Date.now();
    await publisher.publish(`${prefix}.load`, n, 2000, 15_000);
    expect(publisher.errors, 'publish errors').to.deep.equal([]);
    expect(Date.now() - started, 'ms for all publish acks').to.be.below(15_000);

    // Its own queue filled (maxQueuedPerSubscription) while the others went on.
    await waitFor(() => stuck.closeCode !== undefined, { timeoutMs: 5000, what: 'the stuck subscriber to be closed' });
    expect(stuck.closeCode).to.equal(CLOSE_CODES.slowConsumer);
    expect(stuck.delivered, 'deliveries to the stuck subscriber: its window only').to.equal(1);
    await waitFor(() => healthy.delivered === n, { timeoutMs: 10_000, what: () => `all ${n} events at the healthy subscriber (got ${healthy.delivered}, ${JSON.stringify(warnings)})` });
    expect(healthy.closeCode).to.equal(undefined);
    expect(hub.connectionCount).to.equal(2);
  });

  it('ws hub - a slow client of a hub with a bus fills its own queue independently of the bus publishes', async () => {
    const bus = new Bus({ service: 'hub@bounds', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    cleanups.push(() => bus.stop());
    const hub = await standaloneHub({ bus, maxQueuedPerSubscription: 500 });
    const stuck = await open(hub);
    await stuck.subscribe('s', `${prefix}.>`, 1);
    const got: number[] = [];
    await bus.subscribe(`${prefix}.>`, async (m) => { got.push((m.data as { i: number }).i); });
    // Each publish is awaited: on the in-memory bus it resolves once every subscription took the event.
    const deadline = Date.now() + 5000;
    for (let i = 0; i < 1000; i++) {
      let published = false;
      void bus.publish(`${prefix}.x`, { i }).then(() => { published = true; });
      await waitFor(() => published, { timeoutMs: Math.max(1, deadline - Date.now()), what: `bus publish ${i} to resolve` });
    }
    await waitFor(() => stuck.closeCode !== undefined, { timeoutMs: 5000, what: 'the stuck subscriber to be closed' });
    expect(stuck.closeCode).to.equal(CLOSE_CODES.slowConsumer);
    await waitFor(() => got.length === 1000, { timeoutMs: 5000, what: () => `1000 events at the bus subscriber (got ${got.length})` });
  });

  it(`ws hub - refuses a subscription over maxSubscriptionsPerConnection (${HUB_DEFAULTS.maxSubscriptionsPerConnection}) with SB_ERR_HUB_SUBSCRIPTION_LIMIT`, async () => {
    const hub = await standaloneHub();
    const max = HUB_DEFAULTS.maxSubscriptionsPerConnection;
    expect(max, 'the default').to.equal(100);
    const c = await open(hub);
    for (let i = 0; i < max; i++) await c.subscribe(`s${i}`, `${prefix}.${i}`, 1);
    const err = await c.subscribe('one-too-many', `${prefix}.x`, 1).then(() => null, (e: unknown) => e);
    expect(String(err)).to.include('SB_ERR_HUB_SUBSCRIPTION_LIMIT');
    // Ending one frees its place; the connection stays up.
    c.send({ op: 'unsub', id: 'u', sid: 's0' });
    await waitFor(() => c.acked.has('u'), { what: 'the unsub ack' });
    await c.subscribe('now-fits', `${prefix}.x`, 1);
    expect(c.closeCode).to.equal(undefined);

    // The client transport rebuilds the refusal as the typed error.
    const t = new WebSocketTransport({ url: hub.url, logger: silentLogger });
    cleanups.push(() => t.close());
    const subs = [];
    for (let i = 0; i < max; i++) subs.push(await t.subscribe(`${prefix}.t${i}`, () => {}, { maxInFlight: 1 }));
    const refused = await t.subscribe(`${prefix}.t`, () => {}, { maxInFlight: 1 }).then(() => null, (e: unknown) => e);
    expect(refused).to.be.instanceOf(SubscriptionLimitError);
    expect((refused as SubscriptionLimitError).code).to.equal('SB_ERR_HUB_SUBSCRIPTION_LIMIT');
  });

  it('ws hub - bounds the bytes one connection holds back across its inflight:1 subscriptions and closes it with 4008', async () => {
    const { logger, warnings } = warningLogger();
    const hub = await standaloneHub({ logger });
    const limit = HUB_DEFAULTS.maxBufferedBytes;
    expect(limit, 'the default').to.equal(8 * 1024 * 1024);
    const hog = await open(hub);
    const subscriptions = HUB_DEFAULTS.maxSubscriptionsPerConnection;
    for (let i = 0; i < subscriptions; i++) await hog.subscribe(`s${i}`, `${prefix}.>`, 1);
    const healthy = await open(hub, true);
    await healthy.subscribe('mine', `${prefix}.>`, 64);
    const publisher = await open(hub);

    const n = 5000;
    // Every event is held back once per subscription: ~100 × 300 bytes each, ~30 KiB per event.
    await publisher.publish(`${prefix}.load`, n, 500, 15_000);
    await waitFor(() => hog.closeCode !== undefined, { timeoutMs: 5000, what: 'the connection over its byte bound to be closed' });
    expect(hog.closeCode).to.equal(CLOSE_CODES.slowConsumer);
    // The hub's own accounting: the connection filled up to the bound and was dropped before going past it.
    const drops = warnings.filter((w) => w.msg === 'dropping a connection');
    expect(drops, JSON.stringify(drops)).to.have.length(1);
    expect(drops[0]!.details!.reason).to.include('maxBufferedBytes');
    expect(drops[0]!.details!.bufferedBytes, 'bytes held when dropped').to.be.above(limit * 0.9).and.at.most(limit);
    await waitFor(() => healthy.delivered === n, { timeoutMs: 10_000, what: () => `all ${n} events at the healthy subscriber (got ${healthy.delivered})` });
    for (const s of hub.connectionStats()) expect(s.bufferedBytes).to.be.at.most(limit);
  });

  it('ws hub - a subscriber that reads but never acks a window larger than the bytes allow is closed with 4008 at maxBufferedBytes', async () => {
    const limit = 256 * 1024;
    const { logger, warnings } = warningLogger();
    const hub = await standaloneHub({ logger, maxBufferedBytes: limit });
    const hog = await open(hub);
    await hog.subscribe('big', `${prefix}.>`, 1_000_000);
    const publisher = await open(hub);
    // ~300 bytes a delivery: 2,000 unacked deliveries are over 256 KiB, all read by the client.
    await publisher.publish(`${prefix}.load`, 2000, 500, 15_000);
    await waitFor(() => hog.closeCode !== undefined, { timeoutMs: 5000, what: () => `the never-acking subscriber to be closed (got ${hog.delivered})` });
    expect(hog.closeCode).to.equal(CLOSE_CODES.slowConsumer);
    expect(hog.delivered).to.be.below(2000);
    // A sent frame counts while unacked and while in the socket's buffer: at most one frame over.
    const drops = warnings.filter((w) => w.msg === 'dropping a connection');
    expect(drops[0]!.details!.bufferedBytes, 'bytes held when dropped').to.be.above(limit * 0.9).and.at.most(limit + 1024);
  });

  it('ws hub - an inflight:0 subscriber that never answers the requests it is offered is closed with 4008 at maxBufferedBytes', async () => {
    const limit = 128 * 1024;
    const bus = new Bus({ service: 'requester@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const hub = await standaloneHub({ bus, maxBufferedBytes: limit });
    cleanups.push(() => bus.stop());
    const mute = await open(hub);
    await mute.subscribe('svc', `${prefix}.svc`, 0);
    // In batches of 100 that each time out before the next: the socket drains between them, so
    // only the unanswered requests the hub keeps can reach the bound (~750 bytes each).
    for (let batch = 0; batch < 15 && mute.closeCode === undefined; batch++) {
      const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) =>
        bus.request(`${prefix}.svc`, { i, pad: 'x'.repeat(100) }, { timeoutMs: 50 }).then(() => 'reply', (e: { code?: string }) => e.code)));
      expect(outcomes).to.not.include('reply');
    }
    await waitFor(() => mute.closeCode !== undefined, { timeoutMs: 5000, what: () => `the mute responder to be closed (offered ${mute.delivered})` });
    expect(mute.closeCode).to.equal(CLOSE_CODES.slowConsumer);
    expect(mute.delivered, 'requests offered before the close').to.be.above(50).and.below(1500);
  });

  it('ws hub - 1,000 never-acked inflight:1 subscriptions on one connection and 5,000 events grow the hub by megabytes, not a gigabyte', async () => {
    // The numbers (the subscription limit raised to 1,000 for it), in a process of its own
    // so RSS is the hub's. Before the byte bound this grew by ~1 GiB; now it is ~10 MiB.
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', 'test/helpers/hub-memory-probe.ts', '1000', '5000', '15000'],
        { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 25_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    const result = JSON.parse(out) as { subscribed: number; acks: number; closeCode?: number; rssGrowthMiB: number };
    expect(result.subscribed, out).to.equal(1000);
    expect(result.rssGrowthMiB, out).to.be.below(200);
    expect(result.acks, out).to.equal(5000);
    expect(result.closeCode, out).to.equal(CLOSE_CODES.slowConsumer);
  });
});
