import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, headers as natsHeaders, type Msg, type NatsConnection } from 'nats';
import { Bus, type Envelope } from '../../core/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const te = new TextEncoder();
const td = new TextDecoder();

describe('nats interop', function () {
  this.timeout(20_000);
  let plain: NatsConnection;
  let bus: Bus;
  let prefix: string;
  before(async function () { await requireBroker(this, 'nats'); });
  beforeEach(async () => {
    prefix = `interop.${randomUUID().slice(0, 8)}`;
    plain = await connect({ servers: 'nats://127.0.0.1:4222' });
    bus = new Bus({ service: 'interop@test', transport: new NatsTransport(), metrics: false, logger: silentLogger });
    await bus.start();
  });
  afterEach(async () => { await bus.stop(); await plain.close(); });

  it('nats interop - a plain client publishing ce-* headers reaches a signalbus handler as the right envelope', async () => {
    const got: Envelope[] = [];
    await bus.subscribe(`${prefix}.in`, async (m) => { got.push(m); });
    await bus.transportFor(`${prefix}.in`).connect();
    const h = natsHeaders();
    h.set('ce-specversion', '1.0'); h.set('ce-id', 'plain-1'); h.set('ce-source', '/devices/sensor-7'); h.set('ce-type', 'sensor.reading');
    h.set('ce-time', '2025-11-13T10:00:00Z'); h.set('content-type', 'application/json'); h.set('ce-tenant', 'acme');
    h.set('ce-note', 'caf%C3%A9%20au%20lait');
    plain.publish(`${prefix}.in`, te.encode(JSON.stringify({ temperature: 21.5 })), { headers: h });
    await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the plain message' });
    expect(got[0]).to.deep.equal({
      specversion: '1.0', id: 'plain-1', source: '/devices/sensor-7', type: 'sensor.reading', time: '2025-11-13T10:00:00Z',
      datacontenttype: 'application/json', tenant: 'acme', note: 'café au lait', data: { temperature: 21.5 },
    });
  });

  it('nats interop - a signalbus publish is seen by a plain client with the expected headers and body', async () => {
    const seen: Msg[] = [];
    plain.subscribe(`${prefix}.out`, { callback: (_e, m) => { seen.push(m); } });
    await plain.flush();
    const sent = await bus.publish(`${prefix}.out`, { temperature: 22 }, { type: 'sensor.reading', partitionKey: 'sensor 7', headers: { tenant: 'acme' } });
    await waitFor(() => seen.length === 1, { timeoutMs: 5000, what: 'the signalbus message at the plain subscriber' });
    const h = seen[0]!.headers!;
    expect(h.get('ce-specversion')).to.equal('1.0');
    expect(h.get('ce-id')).to.equal(sent.id);
    expect(h.get('ce-source')).to.equal(sent.source);
    expect(h.get('ce-type')).to.equal('sensor.reading');
    expect(h.get('ce-time')).to.equal(sent.time);
    expect(h.get('ce-traceparent')).to.equal(sent.traceparent);
    expect(h.get('ce-correlationid')).to.equal(sent.id);
    expect(h.get('ce-partitionkey')).to.equal('sensor%207');
    expect(h.get('ce-tenant')).to.equal('acme');
    expect(h.get('content-type')).to.equal('application/json');
    expect(h.has('Nats-Msg-Id'), 'core mode sets no Nats-Msg-Id').to.equal(false);
    expect(JSON.parse(td.decode(seen[0]!.data))).to.deep.equal({ temperature: 22 });
  });

  it('nats interop - a plain request is answered by a signalbus handler and a signalbus request by a plain responder', async () => {
    await bus.subscribe(`${prefix}.double`, async (m) => ({ n: (m.data as { n: number }).n * 2 }));
    const h = natsHeaders();
    h.set('ce-specversion', '1.0'); h.set('ce-id', 'q1'); h.set('ce-source', 'plain'); h.set('ce-type', 'calc'); h.set('content-type', 'application/json');
    const reply = await plain.request(`${prefix}.double`, te.encode('{"n":21}'), { timeout: 3000, headers: h });
    expect(JSON.parse(td.decode(reply.data))).to.deep.equal({ n: 42 });
    expect(reply.headers?.get('ce-causationid')).to.equal('q1');

    plain.subscribe(`${prefix}.echo`, { callback: (_e, m) => {
      const rh = natsHeaders();
      for (const [k, v] of [['ce-specversion', '1.0'], ['ce-id', 'r1'], ['ce-source', 'plain'], ['ce-type', 'echo.reply'], ['content-type', 'application/json']]) rh.set(k!, v!);
      m.respond(m.data, { headers: rh });
    } });
    await plain.flush();
    const answer = await bus.request(`${prefix}.echo`, { hello: 'world' }, { timeoutMs: 3000 });
    expect(answer.data).to.deep.equal({ hello: 'world' });
    const none = await bus.request(`${prefix}.nobody`, {}, { timeoutMs: 3000 }).then(() => null, (e) => e);
    expect(none?.code).to.equal('SB_ERR_REQUEST_NO_RESPONDERS');
  });

  it('nats interop - a reply the binding refuses, or one that breaks the envelope rules, fails the request with that error', async () => {
    const replies: Record<string, Array<[string, string]>> = {
      repeated: [['ce-specversion', '1.0'], ['ce-id', 'r1'], ['ce-source', 'plain'], ['ce-type', 't'], ['ce-tenant', 'acme'], ['ce-tenant', 'evil']],
      dataheader: [['ce-specversion', '1.0'], ['ce-id', 'r2'], ['ce-source', 'plain'], ['ce-type', 't'], ['ce-data', 'from a header']],
      badtime: [['ce-specversion', '1.0'], ['ce-id', 'r3'], ['ce-source', 'plain'], ['ce-type', 't'], ['ce-time', 'yesterday']],
    };
    for (const [name, pairs] of Object.entries(replies)) {
      plain.subscribe(`${prefix}.${name}`, { callback: (_e, m) => {
        const rh = natsHeaders();
        for (const [k, v] of pairs) rh.append(k, v);
        m.respond(te.encode('{"ok":true}'), { headers: rh });
      } });
    }
    plain.subscribe(`${prefix}.plainreply`, { callback: (_e, m) => { m.respond(te.encode('{"ok":true}')); } });
    await plain.flush();
    const failure = (name: string) => bus.request(`${prefix}.${name}`, {}, { timeoutMs: 3000 }).then(() => undefined, (e: { code?: string }) => e.code);
    expect(await failure('repeated')).to.equal('SB_ERR_HEADER_INVALID');
    expect(await failure('dataheader')).to.equal('SB_ERR_HEADER_INVALID');
    expect(await failure('badtime')).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(await failure('plainreply'), 'as before: a reply must be a CloudEvent').to.equal('SB_ERR_ENVELOPE_INVALID');
  });

  it('nats interop - a payload that is not a CloudEvent is dead-lettered by the Bus, and handed over as raw where asked', async () => {
    const dead: Msg[] = [];
    const raw: Envelope[] = [];
    plain.subscribe(`dlq.${prefix}.bad`, { callback: (_e, m) => { dead.push(m); } });
    await plain.flush();
    await bus.subscribe(`${prefix}.bad`, async () => { throw new Error('must not be called'); });
    await bus.subscribe(`${prefix}.device`, async (m) => { raw.push(m); }, { raw: true });
    plain.publish(`${prefix}.bad`, te.encode('{"temp":1}'));
    plain.publish(`${prefix}.device`, te.encode('{"temp":2}'));
    await waitFor(() => dead.length === 1 && raw.length === 1, { timeoutMs: 5000, what: 'the dead letter and the raw message' });
    expect(dead[0]!.headers!.get('ce-dlqreason')).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(dead[0]!.headers!.get('ce-dlqsubject')).to.equal(`${prefix}.bad`);
    expect(td.decode(dead[0]!.data)).to.equal('{"temp":1}');
    expect(raw[0]!.type).to.equal(`${prefix}.device`);
    expect(td.decode(raw[0]!.data as Uint8Array)).to.equal('{"temp":2}');
  });
});
