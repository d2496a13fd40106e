import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { requireBroker } from '../helpers/brokers.js';

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

/** `signalbus sub … --count 1` in the background, then `signalbus pub`; resolves with what sub printed. */
async function roundTrip(url: string): Promise<Record<string, unknown>> {
  const subject = `cli.${randomUUID().slice(0, 8)}.hello`;
  const sub = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sub', url, 'cli.*.hello', '--count', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = ''; let err = '';
  sub.stdout.on('data', (d) => { out += d; });
  sub.stderr.on('data', (d) => { err += d; });
  const deadline = Date.now() + 20_000;
  while (!err.includes('subscribed to')) {
    if (Date.now() > deadline || sub.exitCode !== null) throw new Error(`sub did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise<number | null>((r) => sub.on('exit', r));
  // A pub may race a broker-side subscription that is still being set up: try a few times.
  for (let i = 0; i < 5 && out === ''; i++) {
    const pub = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'pub', url, subject, '{"temperature":21.5}', '--type', 'sensor.reading', '--header', 'tenant=acme'], { encoding: 'utf8', timeout: 20_000 });
    expect(pub.status, pub.stderr).to.equal(0);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 1500))]);
  }
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
  if (code === 'timeout') sub.kill();
  expect(code, err).to.equal(0);
  return JSON.parse(out.trim().split('\n')[0]!) as Record<string, unknown>;
}

describe('cli over every transport', function () {
  this.timeout(90_000);
  const cases: Array<[string, () => Promise<string>, 'nats' | 'rabbitmq' | 'mosquitto' | undefined]> = [
    ['nats', async () => 'nats://127.0.0.1:4222', 'nats'],
    ['amqp', async () => 'amqp://guest:guest@127.0.0.1:5672', 'rabbitmq'],
    ['mqtt 5', async () => 'mqtt://127.0.0.1:1883', 'mosquitto'],
    ['mqtt 3.1.1', async () => 'mqtt://127.0.0.1:1883?protocolVersion=4', 'mosquitto'],
    ['http (sub hosts the gateway)', async () => `http://127.0.0.1:${await freePort()}`, undefined],
    ['ws (sub hosts the hub)', async () => `ws://127.0.0.1:${await freePort()}`, undefined],
  ];
  for (const [name, url, broker] of cases) {
    it(`cli - pub and sub work with ${name}`, async function () {
      if (broker) await requireBroker(this, broker);
      const event = await roundTrip(await url());
      expect(event).to.include({ specversion: '1.0', type: 'sensor.reading' });
      expect(event.data).to.deep.equal({ temperature: 21.5 });
      expect(String(event.id)).to.have.length(36);
    });
  }
});
