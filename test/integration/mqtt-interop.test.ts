import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { Bus, type Envelope } from '../../core/index.js';
import { transportFromUrl } from '../../transports/index.js';
import { MqttTransport, startEmbeddedBroker } from '../../transports/mqtt/index.js';
import { missingPrerequisite, requireBroker } from '../helpers/brokers.js';
import { ownMosquitto, testPort } from '../helpers/own-mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const URL = 'mqtt://127.0.0.1:1883';
const PUB = '/usr/bin/mosquitto_pub';
const SUB = '/usr/bin/mosquitto_sub';

/** Runs mosquitto_pub without blocking the event loop (the embedded broker lives in this process). */
function mosquittoPub(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(PUB, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub failed (${code}): ${err}`))));
  });
}

/** Starts mosquitto_sub and collects its output lines. */
function mosquittoSub(args: string[]): { lines: string[]; stop(): void } {
  const p = spawn(SUB, args);
  const lines: string[] = [];
  let buf = '';
  p.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
  });
  return { lines, stop: () => { p.kill('SIGTERM'); } };
}

describe('mqtt interop', function () {
  this.timeout(30_000);
  const buses: Bus[] = [];
  const bus = async (transport: MqttTransport | Awaited<ReturnType<typeof transportFromUrl>>) => {
    const b = new Bus({ service: 'interop@test', transport, metrics: false, logger: silentLogger });
    buses.push(b);
    await b.start();
    return b;
  };
  before(async function () {
    await requireBroker(this, 'mosquitto');
    if (spawnSync(PUB, ['--help']).error) missingPrerequisite(this, 'mosquitto_pub / mosquitto_sub are not installed (apt-get install mosquitto-clients)');
  });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  for (const version of [5, 4] as const) {
    it(`mqtt interop - raw device JSON from mosquitto_pub reaches a raw subscription (MQTT ${version === 5 ? '5' : '3.1.1'})`, async () => {
      const device = `sensor-${randomUUID().slice(0, 8)}`;
      const b = await bus(new MqttTransport({ url: URL, protocolVersion: version, logger: silentLogger }));
      const got: Array<{ env: Envelope; subject: string }> = [];
      await b.subscribe(`devices.${device}.telemetry`, async (m, ctx) => { got.push({ env: m, subject: ctx.subject }); }, { raw: true });
      await mosquittoPub(['-h', '127.0.0.1', '-p', '1883', '-q', '1', '-t', `devices/${device}/telemetry`, '-m', '{"ts":1763900000000,"temperature":21.5}']);
      await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the device message' });
      const { env, subject } = got[0]!;
      expect(subject).to.equal(`devices.${device}.telemetry`);
      expect(env.subject).to.equal(`devices/${device}/telemetry`);
      expect(env.type).to.equal('mqtt.raw');
      expect(env.datacontenttype).to.equal('application/json');
      expect(JSON.parse(Buffer.from(env.data as Uint8Array).toString('utf8'))).to.deep.equal({ ts: 1763900000000, temperature: 21.5 });
    });
  }

  for (const version of [5, 4] as const) {
    it(`mqtt interop - a subscription without raw dead-letters device payloads and keeps handling CloudEvents (MQTT ${version === 5 ? '5' : '3.1.1'})`, async () => {
      const topic = `interop/${randomUUID().slice(0, 8)}`;
      const subject = topic.replace('/', '.');
      const b = await bus(new MqttTransport({ url: URL, protocolVersion: version, logger: silentLogger }));
      const got: unknown[] = []; const dead: Envelope[] = [];
      await b.subscribe(subject, async (m) => { got.push(m.data); });
      await b.subscribe(`dlq.${subject}`, async (m) => { dead.push(m); }, { raw: true });
      await mosquittoPub(['-h', '127.0.0.1', '-t', topic, '-m', '{"not":"a cloudevent"}']);
      await b.publish(subject, { ok: 1 });
      await waitFor(() => got.length === 1 && dead.length === 1, { timeoutMs: 5000, what: 'the CloudEvent and the dead letter' });
      expect(got).to.deep.equal([{ ok: 1 }]);
      expect(dead[0]).to.include({ dlqreason: 'SB_ERR_ENVELOPE_INVALID', dlqsubject: subject, type: 'mqtt.raw' });
      // MQTT 5 carries the bytes as they came; 3.1.1's structured events carry JSON data as JSON.
      const data = dead[0]!.data instanceof Uint8Array ? JSON.parse(Buffer.from(dead[0]!.data).toString()) as unknown : dead[0]!.data;
      expect(data, 'the payload').to.deep.equal({ not: 'a cloudevent' });
    });
  }

  it('mqtt interop - mosquitto_sub sees a 3.1.1 envelope as CloudEvents JSON', async () => {
    const subject = `interop.${randomUUID().slice(0, 8)}.out`;
    const sub = mosquittoSub(['-h', '127.0.0.1', '-V', 'mqttv311', '-t', subject.replace(/\./g, '/'), '-C', '1']);
    try {
      const b = await bus(await transportFromUrl('mqtt://127.0.0.1:1883?protocolVersion=4'));
      // mosquitto_sub says nothing when it has subscribed: publish until it prints the first event it got.
      const sent = new Map<string, Envelope>();
      await waitFor(async () => {
        const e = await b.publish(subject, { temperature: 21.5 }, { type: 'sensor.reading' });
        sent.set(e.id, e);
        return sub.lines.length >= 1;
      }, { timeoutMs: 5000, what: 'mosquitto_sub output', intervalMs: 50 });
      const event = JSON.parse(sub.lines[0]!);
      const one = sent.get(event.id);
      expect(one, 'an event this test published').to.not.equal(undefined);
      expect(event).to.include({ specversion: '1.0', id: one!.id, type: 'sensor.reading', source: one!.source, datacontenttype: 'application/json' });
      expect(event.data).to.deep.equal({ temperature: 21.5 });
    } finally { sub.stop(); }
  });

  it('mqtt interop - a plain mqtt client sees MQTT 5 attributes as user properties and the content type', async () => {
    const subject = `interop.${randomUUID().slice(0, 8)}.props`;
    const plain = await mqtt.connectAsync(URL, { protocolVersion: 5 });
    try {
      const got: mqtt.IPublishPacket[] = [];
      plain.on('message', (_t, _p, packet) => got.push(packet));
      await plain.subscribeAsync(subject.replace(/\./g, '/'), { qos: 1 });
      const b = await bus(new MqttTransport({ url: URL, logger: silentLogger }));
      const sent = await b.publish(subject, { temperature: 21.5 }, { type: 'sensor.reading', partitionKey: 'sensor-7' });
      await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the message' });
      const props = got[0]!.properties!;
      expect(props.contentType).to.equal('application/json');
      expect(props.userProperties).to.include({ specversion: '1.0', id: sent.id, type: 'sensor.reading', partitionkey: 'sensor-7', traceparent: sent.traceparent });
      expect(JSON.parse(got[0]!.payload.toString())).to.deep.equal({ temperature: 21.5 });
    } finally { await plain.endAsync(); }
  });

  it('mqtt interop - a QoS 2 CloudEvent from a plain mqtt client reaches a QoS 2 subscription with every attribute', async () => {
    // QoS 2 packets are decoded by mqtt.js (it keeps the PUBREC/PUBREL state), not by the fast path.
    const subject = `interop.${randomUUID().slice(0, 8)}.qos2`;
    const b = await bus(new MqttTransport({ url: URL, qos: 2, logger: silentLogger }));
    const got: Envelope[] = [];
    await b.subscribe(subject, async (m) => { got.push(m); });
    const plain = await mqtt.connectAsync(URL, { protocolVersion: 5 });
    try {
      await plain.publishAsync(subject.replace(/\./g, '/'), JSON.stringify({ temperature: 30 }), {
        qos: 2,
        properties: {
          contentType: 'application/json',
          userProperties: { specversion: '1.0', id: 'qos2-1', source: 'plain-client', type: 'sensor.reading', tenant: 'acme' },
        },
      });
      await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the QoS 2 message' });
      expect(got[0]).to.include({ specversion: '1.0', id: 'qos2-1', source: 'plain-client', type: 'sensor.reading', tenant: 'acme', datacontenttype: 'application/json' });
      expect(got[0]!.data).to.deep.equal({ temperature: 30 });
    } finally { await plain.endAsync(); }
  });

  it('mqtt interop - a 3.1.1 requester gets answers from an MQTT 5 responder', async () => {
    const subject = `interop.${randomUUID().slice(0, 8)}.rr`;
    const server = await bus(new MqttTransport({ url: URL, logger: silentLogger }));
    const client = await bus(new MqttTransport({ url: URL, protocolVersion: 4, logger: silentLogger }));
    await server.subscribe(subject, async (m) => ({ echo: m.data }));
    const reply = await client.request(subject, { n: 1 }, { timeoutMs: 3000 });
    expect(reply.data).to.deep.equal({ echo: { n: 1 } });
  });

  it('mqtt interop - mosquitto_pub reaches the embedded broker', async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    try {
      const b = await bus(await transportFromUrl(broker.url));
      const got: Envelope[] = [];
      await b.subscribe('devices.*.telemetry', async (m) => { got.push(m); }, { raw: true });
      await mosquittoPub(['-h', '127.0.0.1', '-p', String(broker.port), '-t', 'devices/d1/telemetry', '-m', '{"temperature":1}']);
      await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the device message' });
      expect(got[0]!.subject).to.equal('devices/d1/telemetry');
      await b.stop();
    } finally { await broker.stop(); }
  });
});

describe('mqtt connection errors', function () {
  this.timeout(30_000);
  const port = testPort(28_100);
  const broker = ownMosquitto({ port, users: { device: 'right-password' } });
  before(async function () {
    await broker.start();
  });
  after(async () => { await broker.dispose(); });

  for (const version of [5, 4] as const) {
    it(`mqtt connection errors - bad credentials are a TransportAuthError naming the reason code (MQTT ${version === 5 ? '5' : '3.1.1'})`, async () => {
      const t = new MqttTransport({ url: `mqtt://device:wrong@127.0.0.1:${port}`, protocolVersion: version, logger: silentLogger });
      const err = await t.connect().then(() => null, (e) => e);
      await t.close();
      expect(err?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
      // Mosquitto answers a wrong password with "not authorized": 135 on MQTT 5, 5 on 3.1.1.
      expect(err.details.reasonCode).to.equal(version === 5 ? 135 : 5);
      const ok = new MqttTransport({ url: `mqtt://127.0.0.1:${port}`, username: 'device', password: 'right-password', protocolVersion: version, logger: silentLogger });
      await ok.connect();
      await ok.close();
    });
  }

  it('mqtt connection errors - an unreachable broker is a TransportConnectError', async () => {
    const t = new MqttTransport({ url: `mqtt://127.0.0.1:${port + 1}`, logger: silentLogger });
    const err = await t.connect().then(() => null, (e) => e);
    await t.close();
    expect(err?.code).to.equal('SB_ERR_TRANSPORT_CONNECT');
  });

  it('mqtt connection errors - publishes wait while disconnected up to maxBufferedPublishes, then BackpressureError', async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (msg: string) => { warnings.push(msg); }, child: () => logger };
    const t = new MqttTransport({ url: `mqtt://device:right-password@127.0.0.1:${port}`, qos: 1, maxBufferedPublishes: 5, reconnect: { initialDelayMs: 100 }, logger });
    await t.connect();
    await broker.stop();
    await waitFor(() => warnings.includes('mqtt connection lost; reconnecting'), { what: 'the client to notice the broker is gone' });
    const env = (i: number): Envelope => ({ specversion: '1.0', id: `id-${i}`, source: 's', type: 't', data: Buffer.from(String(i)) });
    const waiting = Array.from({ length: 5 }, (_, i) => t.publish('offline.test', env(i)));
    const over = await t.publish('offline.test', env(5)).then(() => null, (e) => e);
    expect(over?.code).to.equal('SB_ERR_BACKPRESSURE');
    // The broker returns: the queued publishes go out and resolve.
    await broker.start();
    await Promise.all(waiting);
    await t.close();
  });

  it('mqtt connection errors - URL options are validated with the field named', async () => {
    for (const [url, field] of [
      ['mqtt://127.0.0.1:1883?qos=3', 'qos'], ['mqtt://127.0.0.1:1883?protocolVersion=3', 'protocolVersion'],
      ['mqtt://127.0.0.1:1883?clean=false', 'clientId'], ['mqtt://127.0.0.1:1883?clean=false&clientId=a', 'qos'],
    ] as const) {
      const err = await transportFromUrl(url).then(() => null, (e) => e);
      expect(err?.code, url).to.equal('SB_ERR_OPTIONS_INVALID');
      expect(err.details.field, url).to.equal(field);
    }
    const t = await transportFromUrl('mqtts://127.0.0.1:8883?protocolVersion=4&qos=1&clientId=ingest-1&clean=false') as MqttTransport;
    expect(t.options).to.include({ protocolVersion: 4, qos: 1, clientId: 'ingest-1', clean: false, durable: true });
    expect(t.capabilities.durable).to.equal(true);
  });
});
