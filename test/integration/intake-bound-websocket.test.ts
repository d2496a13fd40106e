/**
 * The WebSocket client with a slow handler (issue 20, item 1). The hub sends a subscription no
 * more unacked deliveries than its `inflight` window, which the client sets to the Bus' bound, so
 * against the project's hub the queue stays within maxInFlight + maxPending and the hub holds the
 * publisher back. Against a hub that ignores the window, the client lets one more window wait and
 * drops (and acks) the rest, counted as `intake dropped` and logged, instead of queueing without bound.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { Bus } from '../../core/index.js';
import { WebSocketHub } from '../../hub/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { WebSocketTransport } from '../../transports/websocket/index.js';
import { dropWarnings, intakeDropped, LoadWatch, warningLog } from '../helpers/intake-watch.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('intake bound: websocket client', function () {
  this.timeout(20_000);
  const watch = new LoadWatch();
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => { watch.stop(); for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); });

  const maxInFlight = 1; const maxPending = 50; const window = maxInFlight + maxPending;

  it('websocket - a slow subscriber of the hub keeps its queue within maxInFlight + maxPending and the hub holds the publisher back', async () => {
    const hubBus = new Bus({ service: 'hub@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const hub = new WebSocketHub({ bus: hubBus, port: 0, logger: silentLogger });
    await hub.listen();
    cleanups.push(() => hubBus.stop(), () => hub.close());
    const bus = new Bus({ service: 'slow@test', transport: new WebSocketTransport({ url: hub.url, logger: silentLogger }), metrics: false, logger: silentLogger });
    cleanups.push(() => bus.stop());
    const prefix = `intake.${randomUUID().slice(0, 8)}`;
    let handled = 0;
    const sub = await bus.subscribe(`${prefix}.>`, async () => { watch.sample(); await sleep(1); handled++; }, { maxInFlight, maxPending });
    watch.watch(sub);
    const n = 1500;
    for (let i = 0; i < n; i++) await hubBus.publish(`${prefix}.dev${i % 10}`, { i });
    await waitFor(() => handled === n || watch.most > window + 1, { timeoutMs: 15_000, what: () => `${n} handled (got ${handled})` });
    expect(watch.most, 'most held at once').to.be.at.most(window + 1);
    expect(handled, 'everything handled').to.equal(n);
    expect(intakeDropped(bus)).to.equal(0);
  });

  it('websocket - against a hub that ignores the inflight window, the queue stays bounded and the rest is dropped, acked, counted and logged', async () => {
    const n = 5000;
    const acked = new Set<number>();
    let asked: number | undefined;
    const rogue = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'cloudevents.json' });
    rogue.on('connection', (ws) => {
      ws.on('message', (raw) => {
        const f = JSON.parse(raw.toString()) as { op: string; id: number; sid: string; inflight?: number; ids?: number[] };
        if (f.op === 'ack') { for (const id of f.ids ?? []) acked.add(id); return; }
        if (f.op !== 'sub') { ws.send(JSON.stringify({ op: 'ack', ids: [f.id] })); return; } // unsub
        asked = f.inflight;
        ws.send(JSON.stringify({ op: 'ack', ids: [f.id] }));
        // The whole flood at once, whatever window the client asked for.
        for (let i = 1; i <= n; i++) {
          const event = { specversion: '1.0', id: `e${i}`, source: 'urn:rogue', type: 't', datacontenttype: 'application/json', data: { i } };
          ws.send(JSON.stringify({ op: 'msg', sid: f.sid, subject: 'rogue.dev', id: i, event }));
        }
      });
    });
    await new Promise<void>((r) => rogue.once('listening', () => r()));
    cleanups.push(() => new Promise((r) => { for (const c of rogue.clients) c.terminate(); rogue.close(() => r(undefined)); }));
    const { logger, warnings } = warningLog();
    const url = `ws://127.0.0.1:${(rogue.address() as AddressInfo).port}/`;
    const bus = new Bus({ service: 'slow@test', transport: new WebSocketTransport({ url, logger: silentLogger }), metrics: false, logger });
    cleanups.push(() => bus.stop());
    let handled = 0;
    const sub = await bus.subscribe('rogue.>', async () => { watch.sample(); await sleep(2); handled++; }, { maxInFlight, maxPending });
    watch.watch(sub);
    await waitFor(() => handled + intakeDropped(bus) === n || watch.most > 2 * window,
      { timeoutMs: 15_000, what: () => `${n} handled or dropped (handled ${handled}, dropped ${intakeDropped(bus)})` });
    expect(asked, 'the window the client asked for').to.equal(window);
    expect(watch.most, 'most held at once: the Bus\' bound and one more window waiting').to.be.at.most(2 * window);
    expect(watch.mostWaiting).to.be.at.most(window);
    expect(intakeDropped(bus), 'dropped').to.be.greaterThan(n / 2);
    await waitFor(() => acked.size === n, { timeoutMs: 5000, what: () => `every delivery acked, handled or dropped (acked ${acked.size})` });
    const lines = dropWarnings(warnings);
    expect(lines.length, 'drop warnings').to.be.within(1, 2);
    expect(lines[0]).to.include({ pattern: 'rogue.>', bound: window });
  });
});
