import { expect } from 'chai';
import mqtt from 'mqtt';
import { randomUUID } from 'node:crypto';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/index.js';
import { CliProcess, runCli } from '../helpers/cli-process.js';
import { freePort } from '../helpers/nats-server-process.js';

/** One printed line: the subject, a space, the event JSON. */
function parseLine(line: string): { subject: string; event: Record<string, unknown> } {
  const space = line.indexOf(' ');
  return { subject: line.slice(0, space), event: JSON.parse(line.slice(space + 1)) as Record<string, unknown> };
}

describe('cli sub', function () {
  this.timeout(90_000);
  const running: CliProcess[] = [];
  let broker: EmbeddedBroker | undefined;
  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop();
    await broker?.stop();
    broker = undefined;
  });

  it('cli - sub shows the subject each message arrived on, before the event', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const sub = new CliProcess(['sub', url, 'cli.>', '--count', '2']);
    running.push(sub);
    await sub.waitForText('subscribed to', { stream: 'stderr' });
    for (const subject of ['cli.one.hello', 'cli.two']) {
      const pub = await runCli(['pub', url, subject, '{"n":1}', '--type', 'cli.test']);
      expect(pub.status, pub.stderr).to.equal(0);
    }
    expect(await sub.exited, sub.stderr).to.equal(0);
    const lines = sub.stdout.trim().split('\n').map(parseLine);
    expect(lines.map((l) => l.subject)).to.deep.equal(['cli.one.hello', 'cli.two']);
    expect(lines[0]!.event).to.include({ specversion: '1.0', type: 'cli.test' });
    expect(lines[0]!.event.data).to.deep.equal({ n: 1 });
  });

  it('cli - sub --raw shows a JSON device payload as JSON data, not base64, and other bytes as base64', async () => {
    broker = await startEmbeddedBroker({ port: 0 });
    const device = `d${randomUUID().slice(0, 8)}`;
    const sub = new CliProcess(['sub', broker.url, `devices.${device}.*`, '--raw', '--count', '2']);
    running.push(sub);
    await sub.waitForText('subscribed to', { stream: 'stderr' });
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 4 });
    await client.publishAsync(`devices/${device}/telemetry`, '{"temperature":21.5,"ok":true}', { qos: 1 });
    await client.publishAsync(`devices/${device}/blob`, Buffer.from([0xff, 0x00, 0x01]), { qos: 1 });
    await client.endAsync();
    expect(await sub.exited, sub.stderr).to.equal(0);
    const [json, blob] = sub.stdout.trim().split('\n').map(parseLine);
    expect(json!.subject).to.equal(`devices.${device}.telemetry`);
    expect(json!.event.data).to.deep.equal({ temperature: 21.5, ok: true });
    expect(json!.event).to.include({ datacontenttype: 'application/json' }).and.not.to.have.property('data_base64');
    expect(blob!.subject).to.equal(`devices.${device}.blob`);
    expect(blob!.event).to.include({ data_base64: '/wAB' }).and.not.to.have.property('data');
  });

  it('cli - sub memory:// warns that a memory bus only sees its own process', async () => {
    const sub = new CliProcess(['sub', 'memory://x', 'a.>']);
    running.push(sub);
    await sub.waitForText('subscribed to', { stream: 'stderr' });
    expect(sub.stderr).to.match(/warning: a memory:\/\/ bus only sees its own process/);
    const other = new CliProcess(['sub', 'nats://127.0.0.1:4222', 'a.>']);
    running.push(other);
    // The warning is for memory:// only (the broker need not be up: the line comes before connecting, or never).
    await other.waitForText(/subscribed to|SB_ERR_/, { stream: 'stderr' });
    expect(other.stderr).not.to.include('memory://');
  });
});
