import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Bus, type Envelope } from '../../core/index.js';
import { HttpGateway, type ConsoleSnapshot, type HttpGatewayOptions } from '../../gateway/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

const secret = 'console-routes-secret-of-at-least-32-bytes';
const bearer = async (claims: Record<string, unknown>) =>
  `Bearer ${await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(secret))}`;

describe('http gateway console routes', function () {
  this.timeout(20_000);
  const open: Array<{ gateway: HttpGateway; bus: Bus }> = [];
  const start = async (options: Omit<HttpGatewayOptions, 'bus'>) => {
    const bus = new Bus({ service: 'gateway', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    const gateway = new HttpGateway({ bus, ...options });
    open.push({ gateway, bus });
    return { bus, gateway, url: (await gateway.start()).url };
  };
  afterEach(async () => {
    for (const { gateway, bus } of open.splice(0)) { await gateway.close(); await bus.stop(); }
  });

  it('http gateway console - off by default: GET / and the console routes are 404', async () => {
    const { url } = await start({});
    expect((await fetch(`${url}/`)).status).to.equal(404);
    expect((await fetch(`${url}/v1/console/snapshot`)).status).to.equal(404);
  });

  it('http gateway console - the page is served without credentials; session always answers 200, snapshot and stream need a token', async () => {
    const { url } = await start({ auth: { jwt: { secret } }, console: true });
    const page = await fetch(`${url}/`);
    expect([page.status, page.headers.get('content-type')]).to.deep.equal([200, 'text/html; charset=utf-8']);
    expect(await page.text()).to.include('/console/console.js');
    expect((await fetch(`${url}/console/console.js`)).headers.get('content-type')).to.equal('text/javascript; charset=utf-8');

    const anonymous = await fetch(`${url}/v1/console/session`);
    expect(anonymous.status).to.equal(200);
    expect(await anonymous.json()).to.include({ authenticated: false, status: 401, code: 'SB_ERR_AUTH_UNAUTHORIZED' });
    const signedIn = await fetch(`${url}/v1/console/session`, { headers: { authorization: await bearer({ sub: 'u1', tenant: 'acme' }) } });
    expect(await signedIn.json()).to.deep.equal({ authenticated: true, principal: 'u1', tenant: 'acme' });
    const untenanted = await fetch(`${url}/v1/console/session`, { headers: { authorization: await bearer({ sub: 'u1' }) } });
    expect(await untenanted.json()).to.include({ authenticated: false, status: 403 });

    for (const path of ['/v1/console/snapshot', '/v1/console/stream']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).to.equal(401);
      expect(res.headers.get('content-type'), path).to.equal('application/problem+json');
    }
  });

  it('http gateway console - the stream sends snapshots at most once per interval, not one frame per event', async () => {
    const { bus, url } = await start({ console: { pushIntervalMs: 400 } });
    const res = await fetch(`${url}/v1/console/stream`);
    expect(res.headers.get('content-type')).to.equal('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const frames: ConsoleSnapshot[] = [];
    let buffer = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n');
          if (lines[0] === 'event: snapshot') frames.push(JSON.parse(lines[1]!.slice('data: '.length)) as ConsoleSnapshot);
        }
      }
    })();
    await waitFor(() => frames.length === 1, { what: 'the first snapshot, sent at once' });
    const began = Date.now();
    for (let i = 0; i < 500; i++) {
      await bus.publishEnvelope('dlq.devices.d1.telemetry', {
        specversion: '1.0', id: randomUUID(), source: 'test', type: 'raw', dlqreason: 'SB_ERR_CODEC_DECODE', dlqmessage: `bad ${i}`, dlqsubject: 'devices.d1.telemetry',
      });
    }
    await waitFor(() => frames.at(-1)!.deadLetters.total === 500, { timeoutMs: 5000, what: 'a snapshot counting all 500 dead letters' });
    // The first, then one per interval at most (and one more for a tick that fell mid-way).
    expect(frames.length, 'frames for 500 dead letters').to.be.at.most(2 + Math.ceil((Date.now() - began) / 400));
    const last = frames.at(-1)!;
    expect(last.deadLetters.byReason).to.deep.equal({ SB_ERR_CODEC_DECODE: 500 });
    expect(last.deadLetters.recent).to.have.length(20);
    expect(last.deadLetters.recent[0]).to.include({ subject: 'devices.d1.telemetry', message: 'bad 499' });
    await reader.cancel();
    await reading.catch(() => undefined);
  });

  it('http gateway console - what the inbound rules refuse (a control character in a header) is not summarised, as the gateway\'s streams do not carry it', async () => {
    const { bus, gateway, url } = await start({ console: true });
    const transport = bus.transportFor('dlq.devices.d1.telemetry');
    const deadLetter = (id: string, dlqmessage: string): Envelope => ({
      specversion: '1.0', id, source: 'test', type: 'raw', dlqreason: 'SB_ERR_CODEC_DECODE', dlqmessage, dlqsubject: 'devices.d1.telemetry',
    });
    // Straight on the transport, as another process's client would: no Bus checks it on the way out.
    await transport.publish('dlq.devices.d1.telemetry', deadLetter('bad', 'forged\u0007line'));
    await transport.publish('dlq.devices.d1.telemetry', deadLetter('good', 'a real one'));
    await waitFor(() => gateway.console!.state.snapshot(undefined, {}).deadLetters.total >= 1, { what: 'the valid dead letter summarised' });
    const snapshot = (await (await fetch(`${url}/v1/console/snapshot`)).json()) as ConsoleSnapshot;
    expect(snapshot.deadLetters.total).to.equal(1);
    expect(snapshot.deadLetters.recent.map((d) => d.message)).to.deep.equal(['a real one']);
  });
});
