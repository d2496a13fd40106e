/**
 * The web console in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
 * playwright-core, no browser download. Under CI=true a missing browser fails; elsewhere the
 * suite is skipped with the reason.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { Bus, type Envelope } from '../../core/index.js';
import { validatePipeline } from '../../cli/pipeline/load.js';
import { startPipeline } from '../../cli/pipeline/run-pipeline.js';
import { HttpGateway } from '../../gateway/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import { freePort } from '../helpers/free-port.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const secret = 'web-console-secret-of-at-least-32-bytes!';
const token = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('10m').sign(new TextEncoder().encode(secret));

/** Every console error and uncaught exception of the page; a test ends by expecting none. */
function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

const cellTexts = (page: Page, selector: string) => page.locator(selector).allTextContents();

describe('web console', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let dir: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) missingPrerequisite(this, `${CHROMIUM} is missing (apt-get install -y chromium)`);
    let playwright: typeof import('playwright-core');
    try { playwright = await import('playwright-core'); } catch { return missingPrerequisite(this, 'playwright-core is not installed'); }
    browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    dir = mkdtempSync(join(tmpdir(), 'signalbus-web-console-'));
  });

  after(async () => { await browser?.close(); });

  it('web console - the demo\'s page shows its alerts, a metric-field row per service and a dead letter with its reason', async () => {
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const demo: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'demo', '--duration', '90s', '--mqtt-port', String(mqttPort), '--http-port', String(httpPort)],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout!.on('data', (d) => { out += d; });
    demo.stderr!.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((r) => demo.on('exit', r));
    try {
      await waitFor(() => out.includes('\n'), { timeoutMs: 30_000, what: () => `the demo's first line (output: ${out})` });
      const first = out.split('\n')[0]!;
      const url = /(http:\/\/\S+\/)/.exec(first)?.[1];
      expect(url, `the first line names the console: ${first}`).to.equal(`http://127.0.0.1:${httpPort}/`);

      const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors = pageErrors(page);
      await page.goto(url!);
      const within20s = { timeoutMs: 20_000, intervalMs: 250 };
      await waitFor(async () => (await cellTexts(page, '#alerts-active tbody tr')).some((t) => /sensor-\d+overheat/.test(t)),
        { ...within20s, what: 'an active overheat alert of a demo device' });
      const services = ['ingest', 'filter', 'aggregate', 'alert'];
      await waitFor(async () => {
        const shown = await cellTexts(page, '#fields-table td.service');
        return services.every((s) => shown.some((t) => t === s || t.startsWith(`${s}@`)));
      }, { ...within20s, what: 'a metric-field row of ingest, filter, aggregate and alert' });
      await waitFor(async () => (await cellTexts(page, '#dead-recent td.reason')).some((t) => t.startsWith('SB_ERR_')),
        { ...within20s, what: 'a dead letter with its reason' });
      expect((await page.locator('#dead-reasons li').allTextContents()).join(' ')).to.match(/SB_ERR_\w+ [1-9]/);
      expect(await page.locator('#charts .chart').count(), 'a throughput chart per service').to.be.at.least(4);
      expect(await page.locator('#pipeline-graph g.service').count(), 'the four services in the graph').to.equal(4);
      expect(await page.locator('#status').textContent()).to.equal('live');

      const shot = join(dir, 'web-console-demo.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).to.be.greaterThan(10_000);
      expect(errors, 'console errors in the page').to.deep.equal([]);
      await page.close();
    } finally {
      demo.kill('SIGTERM');
      await exited;
    }
  });

  it('web console - a scaled-out pipeline shows which member holds which partitions', async () => {
    const httpPort = await freePort();
    const pipeline = validatePipeline({
      name: 'console-scaled', instance: 'edge-1',
      transports: { local: `memory://console-scaled-${Date.now()}` },
      embedded: { http: { url: `http://127.0.0.1:${httpPort}` } },
      metrics: { intervalMs: 500 },
      services: [
        { kind: 'filter', config: { input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', where: { path: 'data.temperature', gte: -50, lte: 150 } } },
        { kind: 'aggregate', instances: 2, config: { input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 } } },
      ],
    }, nanoserviceConfigSchemas);
    const running = await startPipeline(pipeline, { logger: silentLogger });
    try {
      const page = await browser!.newPage();
      const errors = pageErrors(page);
      await page.goto(`http://127.0.0.1:${httpPort}/`);
      const partitionsOf = async (member: string) => {
        const rows: string[][] = await page.locator('#ownership-table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
        const cells = rows.find((r) => r[0] === member)?.[1] ?? '';
        return cells.split(',').map((p) => p.trim()).filter((p) => /^\d+$/.test(p)).map(Number);
      };
      // The first copy up takes every partition and hands half over at its next lease round.
      await waitFor(async () => (await partitionsOf('aggregate@edge-1-0')).length > 0 && (await partitionsOf('aggregate@edge-1-1')).length > 0,
        { timeoutMs: 15_000, intervalMs: 250, what: 'both aggregate copies holding partitions on the page' });
      const held = [...await partitionsOf('aggregate@edge-1-0'), ...await partitionsOf('aggregate@edge-1-1')].sort((a, b) => a - b);
      expect(held, 'each of the 16 partitions held by one member').to.deep.equal([...Array(16).keys()]);
      expect(await page.locator('#pipeline-graph g.service').allTextContents()).to.include.members(['filterfilter (filter)', 'aggregate ×2aggregate (aggregate)']);
      await page.screenshot({ path: join(dir, 'web-console-scaled.png'), fullPage: true });
      expect(errors, 'console errors in the page').to.deep.equal([]);
      await page.close();
    } finally {
      await running.stop();
    }
  });

  it('web console - with JWT on, the page asks for a token and shows that tenant\'s alerts and dead letters only (an API key works too)', async () => {
    const bus = new Bus({ service: 'gateway', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const gateway = new HttpGateway({ bus, auth: { jwt: { secret }, apiKeys: { 'key-of-globex-1': 'globex' } }, console: { pushIntervalMs: 200 } });
    const { url } = await gateway.start();
    try {
      const event = (type: string, tenant: string | undefined, extra: Partial<Envelope> = {}): Envelope => ({
        specversion: '1.0', id: randomUUID(), source: 'test', type, tenant, ...extra,
      });
      const alert = (tenant: string, device: string) => bus.publishEnvelope(`alerts.${device}`, event('alert.raised', tenant, {
        data: { alertId: `overheat:${device}`, rule: 'overheat', key: device, deviceId: device, kind: 'threshold', severity: 'critical', value: 91.5, raisedAt: Date.now() },
      }));
      const deadLetter = (tenant: string, reason: string) => bus.publishEnvelope('dlq.devices.x.telemetry', event('raw', tenant, {
        dlqreason: reason, dlqmessage: `bad payload of ${tenant}`, dlqsubject: 'devices.x.telemetry', dlqservice: 'ingest',
      }));
      await alert('acme', 'acme-sensor-1');
      await alert('globex', 'globex-sensor-9');
      await deadLetter('acme', 'SB_ERR_CODEC_DECODE');
      await deadLetter('globex', 'SB_ERR_CONTRACT_INVALID');
      // A metric batch carries no tenant: operators see it, a tenant does not.
      await bus.publishEnvelope('signalbus.metrics.filter', event('metric.field', undefined, {
        data: { service: 'filter', start: new Date(Date.now() - 1000).toISOString(), end: new Date().toISOString(), fields: [{ field: 'filter:sensor.reading received delivered', count: 5, sum: 5, min: 1, max: 1 }] },
      }));
      await waitFor(() => gateway.console!.state.version >= 5, { what: 'the console to have taken the five events' });

      const page = await browser!.newPage();
      const errors = pageErrors(page);
      await page.goto(`${url}/`);
      await page.locator('#token-form').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.locator('#console').isHidden(), 'nothing shown before a token').to.equal(true);

      await page.fill('#token', 'not.a.jwt');
      await page.click('#token-form button[type=submit]');
      await waitFor(async () => /bearer token rejected/.test(await page.locator('#token-problem').textContent() ?? ''), { timeoutMs: 10_000, what: 'the refusal of a bad token' });

      await page.fill('#token', await token({ sub: 'user-1', tenant: 'acme' }));
      await page.click('#token-form button[type=submit]');
      await waitFor(async () => (await cellTexts(page, '#alerts-active tbody tr')).some((t) => t.includes('acme-sensor-1')), { timeoutMs: 10_000, what: 'acme\'s alert' });
      await waitFor(async () => (await cellTexts(page, '#dead-recent td.reason')).includes('SB_ERR_CODEC_DECODE'), { timeoutMs: 10_000, what: 'acme\'s dead letter' });
      expect(await page.locator('#tenant').textContent()).to.equal('tenant acme');
      const shown = await page.locator('main').innerText();
      expect(shown).not.to.include('globex');
      expect(shown).not.to.include('SB_ERR_CONTRACT_INVALID');
      expect(await page.locator('#fields-table tbody tr').count(), 'no metric fields for a tenant').to.equal(0);
      expect(await page.locator('#alerts-active tbody tr').count()).to.equal(1);

      // The filter is the gateway's, not the page's: globex's token reads globex's alert only.
      const globexView = await fetch(`${url}/v1/console/snapshot`, { headers: { authorization: `Bearer ${await token({ sub: 'u', tenant: 'globex' })}` } }).then((r) => r.json()) as { alerts: { active: Array<{ device: string }> } };
      expect(globexView.alerts.active.map((a) => a.device)).to.deep.equal(['globex-sensor-9']);
      expect((await fetch(`${url}/v1/console/snapshot`)).status, 'no token, no snapshot').to.equal(401);

      await page.screenshot({ path: join(dir, 'web-console-jwt.png'), fullPage: true });

      // Another tenant's API key in the same page: globex's events only.
      await page.click('#sign-out');
      await page.fill('#token', 'key-of-globex-1');
      await page.click('#token-form button[type=submit]');
      await waitFor(async () => (await page.locator('#tenant').textContent()) === 'tenant globex'
        && (await cellTexts(page, '#alerts-active tbody tr')).some((t) => t.includes('globex-sensor-9')), { timeoutMs: 10_000, what: 'globex\'s alert' });
      expect(await page.locator('main').innerText()).not.to.include('acme');
      expect(errors, 'console errors in the page').to.deep.equal([]);
      await page.close();
    } finally {
      await gateway.close();
      await bus.stop();
    }
  });
});
