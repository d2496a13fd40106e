import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { missingPrerequisite } from '../helpers/brokers.js';
import { CliProcess, runCli } from '../helpers/cli-process.js';
import { freePort } from '../helpers/nats-server-process.js';

const CHROMIUM = '/usr/bin/chromium';

describe('cli sse in a browser', function () {
  this.timeout(90_000);

  // The gateway `signalbus sub http://…` hosts, read by a real browser's EventSource: the frames
  // are standard SSE, the event name is the subject, lastEventId the CloudEvent id.
  it('cli - a browser EventSource gets each event by its subject (addEventListener) with the CloudEvent as data', async function () {
    if (!existsSync(CHROMIUM)) missingPrerequisite(this, `no browser at ${CHROMIUM}`);
    const { chromium } = await import('playwright-core');
    const url = `http://127.0.0.1:${await freePort()}`;
    const host = new CliProcess(['sub', url, 'feed.>']);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      await host.waitForText('subscribed to', { stream: 'stderr' });
      const page = await browser.newPage();
      await page.goto(`${url}/healthz`); // same origin as the stream
      await page.evaluate(() => new Promise<void>((resolve, reject) => {
        const w = globalThis as unknown as { got: unknown[]; unnamed: unknown[] };
        w.got = []; w.unnamed = [];
        const es = new EventSource('/v1/stream/feed.%3E');
        es.addEventListener('feed.a', (e) => { const m = e as unknown as { type: string; lastEventId: string; data: string }; w.got.push({ type: m.type, lastEventId: m.lastEventId, data: JSON.parse(m.data) as unknown }); });
        es.onmessage = (e) => { w.unnamed.push((e as unknown as { data: string }).data); };
        es.onopen = () => resolve();
        es.onerror = () => reject(new Error('EventSource failed'));
      }));
      for (const [subject, n] of [['feed.b', 1], ['feed.a', 2]] as const) {
        const pub = await runCli(['pub', url, subject, JSON.stringify({ n }), '--type', 'feed.item', '--id', `ev-${n}`]);
        expect(pub.status, pub.stderr).to.equal(0);
      }
      await page.waitForFunction(() => (globalThis as unknown as { got: unknown[] }).got.length > 0, undefined, { timeout: 10_000 });
      const { got, unnamed } = await page.evaluate(() => { const w = globalThis as unknown as { got: unknown[]; unnamed: unknown[] }; return { got: w.got, unnamed: w.unnamed }; });
      expect(got).to.have.length(1);
      const [event] = got as Array<{ type: string; lastEventId: string; data: Record<string, unknown> }>;
      expect(event).to.include({ type: 'feed.a', lastEventId: 'ev-2' });
      expect(event!.data).to.include({ specversion: '1.0', id: 'ev-2', type: 'feed.item' });
      expect(event!.data.data).to.deep.equal({ n: 2 });
      expect(unnamed, 'every event is named by its subject').to.deep.equal([]);
    } finally {
      await browser.close();
      await host.stop();
    }
  });
});
