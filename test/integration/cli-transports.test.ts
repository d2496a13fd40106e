import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { requireBroker } from '../helpers/brokers.js';
import { freePort } from '../helpers/nats-server-process.js';
import { waitFor } from '../helpers/wait.js';

/** `signalbus sub … --count 1` in the background, then `signalbus pub`; resolves with what sub printed. */
async function roundTrip(url: string): Promise<Record<string, unknown>> {
  const subject = `cli.${randomUUID().slice(0, 8)}.hello`;
  const sub = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sub', url, 'cli.*.hello', '--count', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = ''; let err = '';
  sub.stdout.on('data', (d) => { out += d; });
  sub.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => sub.on('exit', r));
  // `sub` prints this once its subscription is live: one pub after it must arrive.
  await waitFor(() => err.includes('subscribed to') || sub.exitCode !== null, { timeoutMs: 20_000, what: () => `sub to start (stderr: ${err})` });
  expect(err, 'sub started').to.include('subscribed to');
  const pub = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'pub', url, subject, '{"temperature":21.5}', '--type', 'sensor.reading', '--header', 'tenant=acme'], { encoding: 'utf8', timeout: 20_000 });
  expect(pub.status, pub.stderr).to.equal(0);
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
  if (code === 'timeout') sub.kill();
  expect(code, err).to.equal(0);
  // One line per event: the subject it arrived on, a space, the structured CloudEvent.
  const line = out.trim().split('\n')[0]!;
  expect(line.slice(0, line.indexOf(' ')), 'the subject first').to.equal(subject);
  return JSON.parse(line.slice(line.indexOf(' ') + 1)) as Record<string, unknown>;
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
