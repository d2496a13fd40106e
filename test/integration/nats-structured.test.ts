/**
 * NATS structured content mode (`contentMode: 'structured'`): the event as CloudEvents JSON in
 * the body, no header block; every transport reads both modes and answers a request in its mode.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, headers as natsHeaders, type Msg, type NatsConnection } from 'nats';
import { Bus, ContractInvalidError, OptionsInvalidError, RemoteHandlerError, type Envelope } from '../../core/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { natsOptionsFromUrl } from '../../transports/nats/options.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const te = new TextEncoder();
const td = new TextDecoder();
const NATS = 'nats://127.0.0.1:4222';

describe('nats structured mode', function () {
  this.timeout(20_000);
  let plain: NatsConnection;
  let structured: Bus;
  let binary: Bus;
  let prefix: string;
  before(async function () { await requireBroker(this, 'nats'); });
  beforeEach(async () => {
    prefix = `structured.${randomUUID().slice(0, 8)}`;
    plain = await connect({ servers: NATS });
    structured = new Bus({ service: 'structured@test', transport: new NatsTransport({ servers: NATS, contentMode: 'structured' }), metrics: false, logger: silentLogger });
    binary = new Bus({ service: 'binary@test', transport: new NatsTransport({ servers: NATS }), metrics: false, logger: silentLogger });
    await Promise.all([structured.start(), binary.start()]);
  });
  afterEach(async () => { await Promise.all([structured.stop(), binary.stop()]); await plain.close(); });

  it('nats structured - a publish goes as one JSON event in the body with no NATS headers', async () => {
    const seen: Msg[] = [];
    plain.subscribe(`${prefix}.out`, { callback: (_e, m) => { seen.push(m); } });
    await plain.flush();
    const sent = await structured.publish(`${prefix}.out`, { temperature: 22, note: 'café "quoted"' }, { type: 'sensor.reading', partitionKey: 'sensor 7', headers: { tenant: 'acme' } });
    await waitFor(() => seen.length === 1, { timeoutMs: 5000, what: 'the structured message' });
    expect(seen[0]!.headers, 'no header block').to.equal(undefined);
    const event = JSON.parse(td.decode(seen[0]!.data)) as Record<string, unknown>;
    expect(event).to.deep.equal({
      specversion: '1.0', id: sent.id, source: sent.source, type: 'sensor.reading', time: sent.time, traceparent: sent.traceparent,
      correlationid: sent.id, partitionkey: 'sensor 7', tenant: 'acme', datacontenttype: 'application/json', data: { temperature: 22, note: 'café "quoted"' },
    });
  });

  it('nats structured - binary and structured Buses read each other, both ways, bytes included', async () => {
    const byBinary: Envelope[] = []; const byStructured: Envelope[] = [];
    await binary.subscribe(`${prefix}.to-binary`, (m) => { byBinary.push(m); });
    await structured.subscribe(`${prefix}.to-structured`, (m) => { byStructured.push(m); });
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await structured.publish(`${prefix}.to-binary`, { n: 1 }, { type: 't.json', headers: { note: 'ünï 50%' } });
    await structured.publish(`${prefix}.to-binary`, bytes, { type: 't.bytes' });
    await binary.publish(`${prefix}.to-structured`, { n: 2 }, { type: 't.json' });
    await waitFor(() => byBinary.length === 2 && byStructured.length === 1, { timeoutMs: 5000, what: 'both directions' });
    expect(byBinary[0]!.data).to.deep.equal({ n: 1 });
    expect(byBinary[0]!.note).to.equal('ünï 50%');
    expect(byBinary[1]!.datacontenttype).to.equal('application/octet-stream');
    expect(Buffer.from(byBinary[1]!.data as Uint8Array).equals(Buffer.from(bytes))).to.equal(true);
    expect(byStructured[0]!.data).to.deep.equal({ n: 2 });
  });

  it('nats structured - a request is answered in the mode it came in, whichever mode the responder sends in', async () => {
    await binary.subscribe(`${prefix}.double`, (m) => ({ n: (m.data as { n: number }).n * 2 }));
    await structured.subscribe(`${prefix}.triple`, (m) => ({ n: (m.data as { n: number }).n * 3 }));
    expect((await structured.request(`${prefix}.double`, { n: 21 }, { timeoutMs: 3000 })).data).to.deep.equal({ n: 42 });
    expect((await binary.request(`${prefix}.triple`, { n: 5 }, { timeoutMs: 3000 })).data).to.deep.equal({ n: 15 });
    // On the wire: a structured request gets a structured reply from the binary-mode responder...
    const q = await plain.request(`${prefix}.double`, te.encode(JSON.stringify({ specversion: '1.0', id: 'q1', source: 'plain', type: 'calc', data: { n: 4 } })), { timeout: 3000 });
    expect(q.headers, 'no header block on the reply').to.equal(undefined);
    const reply = JSON.parse(td.decode(q.data)) as Record<string, unknown>;
    expect(reply).to.include({ specversion: '1.0', type: 'calc.reply', causationid: 'q1', correlationid: 'q1' });
    expect(reply.data).to.deep.equal({ n: 8 });
    // ...and a binary request a binary reply from the structured-mode one.
    const h = natsHeaders();
    h.set('ce-specversion', '1.0'); h.set('ce-id', 'q2'); h.set('ce-source', 'plain'); h.set('ce-type', 'calc'); h.set('content-type', 'application/json');
    const b = await plain.request(`${prefix}.triple`, te.encode('{"n":2}'), { timeout: 3000, headers: h });
    expect(b.headers?.get('ce-causationid')).to.equal('q2');
    expect(JSON.parse(td.decode(b.data))).to.deep.equal({ n: 6 });
  });

  it('nats structured - a failing handler\'s error reply reaches a structured requester as RemoteHandlerError with its code', async () => {
    await binary.subscribe(`${prefix}.fails`, () => { throw new ContractInvalidError('temperature must be a number'); });
    const err = await structured.request(`${prefix}.fails`, { temperature: 'warm' }, { timeoutMs: 3000 }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(RemoteHandlerError);
    expect((err as RemoteHandlerError).remoteCode).to.equal('SB_ERR_CONTRACT_INVALID');
    expect((err as Error).message).to.match(/temperature must be a number/);
  });

  it('nats structured - a plain client\'s structured CloudEvent reaches a default (binary) Bus as that event, not as a raw payload', async () => {
    const got: Envelope[] = [];
    await binary.subscribe(`${prefix}.in`, (m) => { got.push(m); });
    await binary.transportFor(`${prefix}.in`).connect();
    const event = { specversion: '1.0', id: 'plain-1', source: '/devices/sensor-7', type: 'sensor.reading', time: '2025-11-13T10:00:00Z', datacontenttype: 'application/json', tenant: 'acme', data: { temperature: 21.5 } };
    plain.publish(`${prefix}.in`, te.encode(JSON.stringify(event)));
    await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the structured event' });
    expect(got[0]).to.deep.equal(event);
  });

  it('nats structured - bad structured events are dead-lettered with their reason; a device\'s own JSON stays a raw payload', async () => {
    const handled: Envelope[] = []; const raw: Envelope[] = []; const dead: Envelope[] = [];
    await binary.subscribe(`${prefix}.bad.*`, (m) => { handled.push(m); });
    await binary.subscribe(`${prefix}.raw`, (m) => { raw.push(m); }, { raw: true });
    await binary.subscribe(`dlq.${prefix}.bad.*`, (m) => { dead.push(m); }, { raw: true });
    await binary.transportFor(`${prefix}.raw`).connect();
    const base = '"specversion":"1.0","source":"s","type":"t"';
    plain.publish(`${prefix}.bad.repeated`, te.encode(`{${base},"id":"a","id":"b","data":1}`));
    plain.publish(`${prefix}.bad.deep`, te.encode(`{${base},"id":"d","data":${'['.repeat(200)}${']'.repeat(200)}}`));
    plain.publish(`${prefix}.bad.number`, te.encode(`{${base},"id":"n","sequence":5,"data":1}`));
    plain.publish(`${prefix}.bad.noid`, te.encode(`{${base},"data":1}`));
    plain.publish(`${prefix}.bad.twice`, te.encode(`{${base},"id":"w","data":1,"data_base64":"AQ=="}`));
    plain.publish(`${prefix}.bad.base64`, te.encode(`{${base},"id":"x","data_base64":"@@@!!"}`));
    plain.publish(`${prefix}.raw`, te.encode('{"specversion":"my device firmware 2","temperature":3}'));
    await waitFor(() => dead.length === 6 && raw.length === 1, { timeoutMs: 5000, what: 'six dead letters and the raw payload' });
    expect(handled, 'no handler sees a refused event').to.have.length(0);
    const reasons = Object.fromEntries(dead.map((d) => [d.dlqsubject, d.dlqreason]));
    expect(reasons).to.deep.equal({
      [`${prefix}.bad.repeated`]: 'SB_ERR_ENVELOPE_INVALID',
      [`${prefix}.bad.deep`]: 'SB_ERR_CODEC_TOO_DEEP',
      [`${prefix}.bad.number`]: 'SB_ERR_HEADER_INVALID',
      [`${prefix}.bad.noid`]: 'SB_ERR_ENVELOPE_INVALID',
      [`${prefix}.bad.twice`]: 'SB_ERR_ENVELOPE_INVALID',
      [`${prefix}.bad.base64`]: 'SB_ERR_ENVELOPE_INVALID',
    });
    expect(raw[0]!.type).to.equal(`${prefix}.raw`);
    expect(JSON.parse(td.decode(raw[0]!.data as Uint8Array))).to.deep.equal({ specversion: 'my device firmware 2', temperature: 3 });
  });

  it('nats structured - contentMode is checked, and read from a nats:// URL', () => {
    expect(() => new NatsTransport({ contentMode: 'json' as never })).to.throw(OptionsInvalidError, /contentMode must be binary or structured/);
    expect(natsOptionsFromUrl(new URL('nats://127.0.0.1:4222?contentMode=structured')).contentMode).to.equal('structured');
    expect(() => new NatsTransport(natsOptionsFromUrl(new URL('nats://127.0.0.1:4222?contentMode=xml')))).to.throw(OptionsInvalidError);
  });
});

describe('nats structured mode on JetStream', function () {
  this.timeout(30_000);
  let bus: Bus;
  let plain: NatsConnection;
  let prefix: string;
  let stream: string;
  before(async function () { await requireBroker(this, 'nats'); });
  beforeEach(async () => {
    const id = randomUUID().slice(0, 8);
    prefix = `structuredjs.${id}`; stream = `SB_STRUCTURED_${id}`;
    plain = await connect({ servers: NATS });
    bus = new Bus({
      service: 'structured-js@test', metrics: false, logger: silentLogger,
      transport: new NatsTransport({ servers: NATS, contentMode: 'structured', jetstream: { stream, subjects: [`${prefix}.>`], storage: 'memory', ackWaitMs: 5000 } }),
    });
    await bus.start();
  });
  afterEach(async () => {
    await bus.stop();
    await (await plain.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await plain.close();
  });

  it('nats structured - stored events carry only Nats-Msg-Id as a header, are de-duplicated by it, and requests go through the stream', async () => {
    const got: Envelope[] = [];
    await bus.subscribe(`${prefix}.readings`, (m) => { got.push(m); });
    await bus.subscribe(`${prefix}.calc`, (m) => ({ n: (m.data as { n: number }).n + 1 }));
    const envelope: Envelope = { specversion: '1.0', id: randomUUID(), source: 'test', type: 'sensor.reading', datacontenttype: 'application/json', data: { t: 1 } };
    await bus.publishEnvelope(`${prefix}.readings`, envelope);
    await bus.publishEnvelope(`${prefix}.readings`, envelope); // the same id: the stream drops the copy
    await bus.publish(`${prefix}.readings`, { t: 2 }, { type: 'sensor.reading' });
    await waitFor(() => got.length === 2, { timeoutMs: 5000, what: 'two stored events' });
    expect(got.map((m) => m.data)).to.deep.equal([{ t: 1 }, { t: 2 }]);
    const stored = await (await plain.jetstreamManager()).streams.getMessage(stream, { seq: 1 });
    expect([...stored.header.keys()]).to.deep.equal(['Nats-Msg-Id']);
    expect(JSON.parse(td.decode(stored.data))).to.include({ id: envelope.id, type: 'sensor.reading' });
    expect((await bus.request(`${prefix}.calc`, { n: 41 }, { timeoutMs: 5000 })).data).to.deep.equal({ n: 42 });
  });
});
