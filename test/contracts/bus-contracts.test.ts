import { expect } from 'chai';
import { Bus, ContractInvalidError, ContractUnknownError, ContractVersionError } from '../../core/index.js';
import { ContractRegistry } from '../../contracts/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { collector, memoryWorld, readingV1, readingV2, registry } from './helpers.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

/** The attributes of a sensor.reading envelope as the Bus builds it before the contract check. */
const baseEnvelope = () => ({
  specversion: '1.0' as const, id: 'e1', source: '/test', type: 'sensor.reading',
  time: '2026-11-23T00:00:00.000Z', datacontenttype: 'application/json', subject: 'sensor.reading.berlin',
});

describe('contracts bus', () => {
  let world: ReturnType<typeof memoryWorld>;
  beforeEach(() => { world = memoryWorld(); });
  afterEach(async () => { await world.stopAll(); });

  it('contracts bus - publish stamps dataschema with the newest version and delivers valid data', async () => {
    const producer = world.bus('ingest');
    const consumer = world.bus('filter');
    const c = collector();
    await consumer.subscribe('sensor.reading.>', c.handler, { accept: '^2' });
    const sent = await producer.publish('sensor.reading.berlin', readingV2, { type: 'sensor.reading' });
    expect(sent.dataschema).to.equal('urn:signalbus:contract:sensor.reading:2.0.0');
    const [got] = await c.next(1);
    expect(got!.data).to.deep.equal(readingV2);
    expect(got!.dataschema).to.equal('urn:signalbus:contract:sensor.reading:2.0.0');
  });

  it('contracts bus - publish of invalid data is refused with SB_ERR_CONTRACT_INVALID and the paths', async () => {
    const producer = world.bus('ingest');
    const bad = { ...readingV2, temperature: 'hot', extra: 1 };
    let err: unknown;
    try { await producer.publish('sensor.reading.berlin', bad, { type: 'sensor.reading' }); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(ContractInvalidError);
    const e = err as ContractInvalidError;
    expect(e.code).to.equal('SB_ERR_CONTRACT_INVALID');
    expect(e.details?.paths).to.include.members(['/temperature', '/extra']);
    expect(e.details?.contract).to.equal('sensor.reading');
    expect(e.details?.version).to.equal('2.0.0');
  });

  it('contracts bus - publish with an explicit version validates against that version', async () => {
    const producer = world.bus('gateway');
    const sent = await producer.publish('sensor.reading.berlin', readingV1, { type: 'sensor.reading', version: '1.0.0' });
    expect(sent.dataschema).to.equal('urn:signalbus:contract:sensor.reading:1.0.0');
    let err: unknown;
    try { await producer.publish('sensor.reading.berlin', readingV2, { type: 'sensor.reading', version: '1.0.0' }); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(ContractInvalidError);
  });

  it('contracts bus - publish of an unknown version or an unknown contract with a version is refused', async () => {
    const producer = world.bus('ingest');
    const errors: unknown[] = [];
    for (const [type, version] of [['sensor.reading', '9.0.0'], ['no.such.contract', '1.0.0']] as const) {
      try { await producer.publish('x.y', readingV2, { type, version }); } catch (e) { errors.push(e); }
    }
    expect(errors[0]).to.be.instanceOf(ContractVersionError);
    expect(errors[1]).to.be.instanceOf(ContractUnknownError);
  });

  it('contracts bus - a type that names no contract passes through unchecked', async () => {
    const producer = world.bus('ingest');
    const consumer = world.bus('filter');
    const c = collector();
    await consumer.subscribe('free.form', c.handler, { accept: '^1' });
    const sent = await producer.publish('free.form', { anything: true }, { type: 'free.form' });
    expect(sent.dataschema).to.equal(undefined);
    const [got] = await c.next(1);
    expect(got!.data).to.deep.equal({ anything: true });
  });

  it('contracts bus - an invalid message from a raw publisher is dead-lettered at once with dlqreason and dlqmessage naming the path', async () => {
    const raw = world.bus('legacy', false);
    const consumer = world.bus('filter');
    const handled = collector();
    const dead = collector();
    await consumer.subscribe('sensor.reading.>', handled.handler, { accept: '^2' });
    await raw.subscribe('dlq.sensor.reading.>', dead.handler);
    await raw.publish('sensor.reading.berlin', { ...readingV2, humidity: 140 }, { type: 'sensor.reading', headers: { dataschema: 'urn:signalbus:contract:sensor.reading:2.0.0' } });
    const [copy] = await dead.next(1);
    expect(copy!.dlqreason).to.equal('SB_ERR_CONTRACT_INVALID');
    expect(copy!.dlqmessage, 'the reason in words').to.be.a('string').and.not.equal('');
    expect(copy!.dlqattempts).to.equal('1');
    expect(handled.got).to.have.length(0);
  });

  it('contracts bus - a message without dataschema is read as the newest accepted version', async () => {
    const raw = world.bus('device', false);
    const consumer = world.bus('filter');
    const c = collector();
    await consumer.subscribe('sensor.reading.>', c.handler, { accept: '^2' });
    await raw.publish('sensor.reading.berlin', readingV2, { type: 'sensor.reading' });
    const [got] = await c.next(1);
    expect(got!.data).to.deep.equal(readingV2);
  });

  it('contracts bus - a v1 message is upcast for a consumer accepting ^2', async () => {
    const producer = world.bus('gateway');
    const consumer = world.bus('filter');
    const c = collector();
    await consumer.subscribe('sensor.reading.>', c.handler, { accept: '^2' });
    await producer.publish('sensor.reading.berlin', readingV1, { type: 'sensor.reading', version: '1.0.0' });
    const [got] = await c.next(1);
    expect(got!.dataschema).to.equal('urn:signalbus:contract:sensor.reading:2.0.0');
    expect(got!.data).to.deep.equal({ deviceId: 'sensor-7', ts: Date.parse(readingV1.timestamp), temperature: 21.5, humidity: 40, site: 'berlin' });
  });

  it('contracts bus - a consumer accepting ^1 gets v1 as it is and dead-letters v2 with SB_ERR_CONTRACT_VERSION', async () => {
    const producer = world.bus('gateway');
    const consumer = world.bus('old-filter');
    const c = collector();
    const dead = collector();
    await consumer.subscribe('sensor.reading.>', c.handler, { accept: '^1' });
    await producer.subscribe('dlq.sensor.reading.>', dead.handler);
    await producer.publish('sensor.reading.berlin', readingV1, { type: 'sensor.reading', version: '1.0.0' });
    await producer.publish('sensor.reading.berlin', readingV2, { type: 'sensor.reading', version: '2.0.0' });
    const [got] = await c.next(1);
    expect(got!.data).to.deep.equal(readingV1);
    const [copy] = await dead.next(1);
    expect(copy!.dlqreason).to.equal('SB_ERR_CONTRACT_VERSION');
    expect(c.got).to.have.length(1);
  });

  it('contracts bus - an unknown major is dead-lettered with SB_ERR_CONTRACT_VERSION', async () => {
    const raw = world.bus('future', false);
    const consumer = world.bus('filter');
    const dead = collector();
    await consumer.subscribe('sensor.reading.>', async () => {}, { accept: '^2' });
    await raw.subscribe('dlq.sensor.reading.>', dead.handler);
    await raw.publish('sensor.reading.berlin', readingV2, { type: 'sensor.reading', headers: { dataschema: 'urn:signalbus:contract:sensor.reading:3.0.0' } });
    const [copy] = await dead.next(1);
    expect(copy!.dlqreason).to.equal('SB_ERR_CONTRACT_VERSION');
    expect(copy!.dataschema, 'the dead letter keeps the version it was refused for').to.equal('urn:signalbus:contract:sensor.reading:3.0.0');
  });

  it('contracts bus - protobuf and JSON bodies of one contract, chosen per publisher, reach one consumer alike', async () => {
    const jsonPublisher = world.bus('json-gw');
    const protoPublisher = world.bus('proto-gw');
    const consumer = world.bus('filter');
    const c = collector();
    await consumer.subscribe('sensor.reading.>', c.handler, { accept: '^2' });
    await jsonPublisher.publish('sensor.reading.a', readingV2, { type: 'sensor.reading' });
    const sent = await protoPublisher.publish('sensor.reading.b', readingV2, { type: 'sensor.reading', contentType: 'application/protobuf' });
    expect(sent.data).to.be.instanceOf(Uint8Array);
    const got = await c.next(2);
    const byType = Object.fromEntries(got.map((g) => [g.datacontenttype, g.data]));
    expect(byType['application/json']).to.deep.equal(readingV2);
    expect(byType['application/protobuf']).to.deep.equal(readingV2);
  });

  it('contracts bus - a protobuf v1 body is decoded with the v1 message and upcast to v2', async () => {
    const producer = world.bus('proto-gw');
    const consumer = world.bus('filter');
    const c = collector();
    await consumer.subscribe('sensor.reading.>', c.handler, { accept: '^2' });
    await producer.publish('sensor.reading.b', readingV1, { type: 'sensor.reading', version: '1.0.0', contentType: 'application/protobuf' });
    const [got] = await c.next(1);
    expect(got!.data).to.deep.equal({ deviceId: 'sensor-7', ts: Date.parse(readingV1.timestamp), temperature: 21.5, humidity: 40, site: 'berlin' });
  });

  it('contracts bus - protobuf publish of a contract without a proto is refused', async () => {
    const producer = world.bus('x');
    let err: unknown;
    try { await producer.publish('alert.raised.x', { alertId: 'a', rule: 'r', key: 'k', kind: 'rate', severity: 'info', value: 1, raisedAt: 1 }, { type: 'alert.raised', contentType: 'application/protobuf' }); } catch (e) { err = e; }
    expect((err as { code?: string }).code).to.equal('SB_ERR_CODEC_ENCODE');
  });

  describe('contracts bus - checked once per process', () => {
    const forwardWorld: Bus[] = [];
    afterEach(async () => { await Promise.all(forwardWorld.splice(0).map((b) => b.stop())); });

    /** Counts how often a registry's sensor.reading 2.0.0 validator runs. */
    function countChecks(r: ContractRegistry) {
      const cv = r.compiled('sensor.reading', '2.0.0');
      const check = cv.check.bind(cv);
      const counter = { calls: 0 };
      cv.check = (data: unknown) => { counter.calls++; return check(data); };
      return counter;
    }

    it('contracts bus - an in-process consumer on the same registry trusts the publish-time check', async () => {
      const own = new ContractRegistry();
      const checks = countChecks(own);
      const hooks = own.hooks();
      const envelope = { ...baseEnvelope(), data: { ...readingV2 } };
      hooks.outbound(envelope, undefined);
      expect(checks.calls).to.equal(1);
      expect(hooks.inbound(envelope, '^2').data).to.deep.equal(readingV2);
      expect(own.hooks().inbound(envelope, '^2').data).to.deep.equal(readingV2);
      expect(checks.calls).to.equal(1);
    });

    it('contracts bus - a consumer on another registry checks again', async () => {
      const publisherSide = new ContractRegistry();
      const consumerSide = new ContractRegistry();
      const consumerChecks = countChecks(consumerSide);
      const envelope = { ...baseEnvelope(), data: { ...readingV2 } };
      publisherSide.hooks().outbound(envelope, undefined);
      consumerSide.hooks().inbound(envelope, '^2');
      expect(consumerChecks.calls).to.equal(1);
    });

    it('contracts bus - data replaced after the publish-time check is checked again and refused', async () => {
      const hooks = registry.hooks();
      const envelope = { ...baseEnvelope(), data: { ...readingV2 } as Record<string, unknown> };
      hooks.outbound(envelope, undefined);
      const copy = { ...envelope, data: { ...readingV2, temperature: 'hot' } };
      expect(() => hooks.inbound(copy, '^2')).to.throw(ContractInvalidError);
      envelope.data = { ...readingV2, extra: 1 };
      expect(() => hooks.inbound(envelope, '^2')).to.throw(ContractInvalidError);
    });

    it('contracts bus - what a handler publishes is checked, even the object it was handed (it may have edited it in place)', async () => {
      const own = new ContractRegistry();
      const checks = countChecks(own);
      const broker = new MemoryBroker();
      const bus = (service: string) => {
        const b = new Bus({ service, transport: new MemoryTransport({ broker }), metrics: false, contracts: own.hooks(), retry: { maxAttempts: 1 }, logger: silentLogger });
        forwardWorld.push(b);
        return b;
      };
      const producer = bus('ingest'); const filter = bus('filter'); const consumer = bus('alert');
      const forwarded = collector(); const refused: unknown[] = [];
      await filter.subscribe('sensor.reading.>', async (m, ctx) => {
        await ctx.publish('sensor.valid.x', m.data, { type: m.type, version: '2.0.0' });
        (m.data as Record<string, unknown>).temperature = 'hot';
        await ctx.publish('sensor.valid.x', m.data, { type: m.type, version: '2.0.0' }).catch((e: unknown) => { refused.push(e); });
      });
      await consumer.subscribe('sensor.valid.>', forwarded.handler);
      await producer.publish('sensor.reading.berlin', { ...readingV2 }, { type: 'sensor.reading', version: '2.0.0' });
      await forwarded.next(1);
      await waitFor(() => refused.length === 1, { timeoutMs: 1000, what: 'the object edited in place refused' });
      expect(forwarded.got, 'only the unedited forward').to.have.length(1);
      expect((refused[0] as ContractInvalidError).code).to.equal('SB_ERR_CONTRACT_INVALID');
      expect(checks.calls, 'the publish, the forward and the edited forward').to.equal(3);
    });

    it('contracts bus - a publish-time mark never reaches the wire encoding', () => {
      const envelope = { ...baseEnvelope(), data: { ...readingV2 } };
      registry.hooks().outbound(envelope, undefined);
      expect(Object.getOwnPropertySymbols(envelope)).to.have.length(2);
      expect(JSON.parse(JSON.stringify(envelope))).to.deep.equal({ ...baseEnvelope(), data: readingV2, dataschema: 'urn:signalbus:contract:sensor.reading:2.0.0' });
    });
  });
});
