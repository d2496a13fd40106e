import { expect } from 'chai';
import fc from 'fast-check';
import { Bus, CodecDecodeError, CodecTooDeepError, ContractInvalidError, OptionsInvalidError, type Envelope } from '../../core/index.js';
import { ContractRegistry } from '../../contracts/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { compileMapping, compileSubjectTemplate, createIngestService, KeyedDedupe, runNanoservice, subjectToken, withKey } from '../../nanoservices/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('nanoservice ingest', () => {
  describe('mapping', () => {
    it('mapping - takes ids from subject tokens, renames, adds static fields, receive time and tenant', () => {
      const map = compileMapping({
        subjectTokens: { deviceId: 1, site: -2 }, rename: { temp: 'temperature', 'env.hum': 'humidity' },
        static: { source: 'mqtt', calibrated: false }, tenantField: 'tenant', tenant: 'default-tenant', receivedAt: 'receivedAt',
      });
      const out = map(bytes('{"ts":1700000000000,"temp":21.5,"env":{"hum":40},"extra":1}'), 'devices.d7.berlin.telemetry', undefined, 42);
      expect(out).to.deep.equal({ ts: 1700000000000, temperature: 21.5, humidity: 40, extra: 1, source: 'mqtt', calibrated: false, deviceId: 'd7', site: 'berlin', receivedAt: 42, tenant: 'default-tenant' });
      expect(map({ ts: 1 }, 'devices.d7.berlin.telemetry', 'acme', 1).tenant, 'a tenant on the message wins').to.equal('acme');
    });

    it('mapping - subject tokens win over payload fields of the same name, pick keeps only listed fields', () => {
      const map = compileMapping({ subjectTokens: { deviceId: 1 }, pick: ['ts', 'temperature'] });
      expect(map('{"deviceId":"spoofed","ts":1,"temperature":2,"junk":3}', 'devices.real.telemetry', undefined, 0))
        .to.deep.equal({ ts: 1, temperature: 2, deviceId: 'real' });
    });

    it('mapping - malformed JSON is a CodecDecodeError, non-objects and type errors are ContractInvalidError', () => {
      const map = compileMapping({ required: { ts: 'number', temperature: 'number', deviceId: 'string', n: 'integer', tags: 'array', meta: 'object', ok: 'boolean' } });
      const good = { ts: 1, temperature: 2, deviceId: 'd', n: 3, tags: [], meta: {}, ok: true };
      expect(map(good, 's', undefined, 0)).to.include({ ts: 1 });
      expect(() => map(bytes('{"ts":1,'), 's', undefined, 0)).to.throw(CodecDecodeError);
      expect(() => map(new Uint8Array([0xff, 0xfe]), 's', undefined, 0)).to.throw(CodecDecodeError);
      for (const payload of ['[1,2]', '"text"', 'null', '42', undefined]) {
        expect(() => map(payload === undefined ? undefined : bytes(payload), 's', undefined, 0), String(payload)).to.throw(ContractInvalidError);
      }
      const wrong: Array<[string, unknown]> = [['ts', '1'], ['temperature', Number.NaN], ['temperature', null], ['deviceId', 5], ['n', 1.5], ['tags', {}], ['meta', []], ['ok', 'yes']];
      for (const [field, value] of wrong) {
        expect(() => map({ ...good, [field]: value }, 's', undefined, 0), `${field}=${String(value)}`).to.throw(ContractInvalidError).with.nested.property('details.field', field);
      }
      const { temperature: _t, ...missing } = good;
      expect(() => map(missing, 's', undefined, 0)).to.throw(ContractInvalidError).with.nested.property('details.field', 'temperature');
    });

    it('mapping - a leading BOM is skipped in bytes and in text; too-deep JSON is a CodecTooDeepError', () => {
      const map = compileMapping({});
      expect(map(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('{"ts":1}')]), 's', undefined, 0)).to.deep.equal({ ts: 1 });
      expect(map('\ufeff{"ts":1}', 's', undefined, 0)).to.deep.equal({ ts: 1 });
      expect(() => map(`{"a":${'['.repeat(200)}${']'.repeat(200)}}`, 's', undefined, 0)).to.throw(CodecTooDeepError);
    });

    it('mapping - reports a subject-token field whose payload value differed', () => {
      const map = compileMapping({ subjectTokens: { deviceId: 1 } });
      const heard: string[] = [];
      map('{"deviceId":"spoofed"}', 'devices.real.telemetry', undefined, 0, (f) => heard.push(f));
      map('{"deviceId":"real"}', 'devices.real.telemetry', undefined, 0, (f) => heard.push(f));
      map('{}', 'devices.real.telemetry', undefined, 0, (f) => heard.push(f));
      expect(heard).to.deep.equal(['deviceId']);
    });

    it('mapping - a subject without the token position is invalid data', () => {
      const map = compileMapping({ subjectTokens: { deviceId: 3 } });
      expect(() => map({}, 'devices.d1.telemetry', undefined, 0)).to.throw(ContractInvalidError);
    });

    it('mapping - a decoded payload becomes the data, a caller\'s object is copied and left as it was', () => {
      const map = compileMapping({ subjectTokens: { deviceId: 1 }, static: { site: 'berlin' } });
      const given = { ts: 1, temperature: 2 };
      expect(map(given, 'devices.d7.telemetry', undefined, 0)).to.deep.equal({ ts: 1, temperature: 2, site: 'berlin', deviceId: 'd7' });
      expect(given, 'the caller\'s object is not written to').to.deep.equal({ ts: 1, temperature: 2 });
      const polluted = map(bytes('{"ts":1,"__proto__":{"admin":true}}'), 'devices.d7.telemetry', undefined, 0);
      expect(Object.keys(polluted)).to.deep.equal(['ts', 'site', 'deviceId']);
      expect((polluted as { admin?: boolean }).admin).to.equal(undefined);
      expect(Object.getPrototypeOf(polluted)).to.equal(Object.prototype);
    });

    it('mapping - renames read the payload as it came, also when two share a parent', () => {
      const map = compileMapping({ rename: { 'env.t': 'temperature', 'env.h': 'humidity' } });
      expect(map(bytes('{"ts":1,"env":{"t":3,"h":4}}'), 's', undefined, 0)).to.deep.equal({ ts: 1, temperature: 3, humidity: 4 });
    });

    it('mapping - subjectToken reads a token as split(".") would, from either end (property)', () => {
      const subject = fc.array(fc.constantFrom('a', 'bb', '', 'c-1', '.'), { maxLength: 6 }).map((parts) => parts.join(''));
      fc.assert(fc.property(subject, fc.integer({ min: -8, max: 8 }), (s, index) => {
        const parts = s.split('.');
        expect(subjectToken(s, index)).to.equal(parts[index < 0 ? parts.length + index : index]);
      }), { numRuns: 2000 });
    });

    it('subject template - one value makes one subject string; renderKeyed reads the key as render(withKey(…)) does', () => {
      const alerts = compileSubjectTemplate('alerts.{deviceId}', 'output');
      const first = alerts.render({ deviceId: 'd 7' });
      expect(first).to.equal('alerts.d_7');
      expect(alerts.render({ deviceId: 'd 7' }), 'the same string object, whose hash maps keep').to.equal(first);
      expect(alerts.render({ deviceId: 7 })).to.equal('alerts.7');
      expect(() => alerts.render({ deviceId: '' })).to.throw(ContractInvalidError).with.nested.property('details.field', 'deviceId');
      const data = { deviceId: 'spoofed', rule: 'overheat', nested: { site: 'berlin' } };
      for (const template of ['alerts.{deviceId}', 'alerts.{rule}.{deviceId}', 'a.{nested.site}.{deviceId}', 'fixed.subject', 'a.{deviceId.x}', 'a.{missing}']) {
        const t = compileSubjectTemplate(template, 'output');
        const want = (() => { try { return t.render(withKey(data, 'deviceId', 'd-9')); } catch (err) { return (err as ContractInvalidError).code; } })();
        const got = (() => { try { return t.renderKeyed(data, 'deviceId', 'd-9'); } catch (err) { return (err as ContractInvalidError).code; } })();
        expect(got, template).to.equal(want);
      }
      expect(compileSubjectTemplate('alerts.{deviceId}', 'output').renderKeyed({}, 'deviceId', 'd-9')).to.equal('alerts.d-9');
    });

    it('mapping - config errors name the field', () => {
      const cases: Array<[object, string]> = [
        [{ subjectTokens: { deviceId: 'one' } }, 'subjectTokens.deviceId'],
        [{ rename: { temp: 'bad name' } }, 'rename.temp'],
        [{ static: { site: { nested: 1 } } }, 'static.site'],
        [{ required: { ts: 'date' } }, 'required.ts'],
        [{ pick: 'ts' }, 'pick'],
        [{ receivedAt: '' }, 'receivedAt'],
      ];
      for (const [config, field] of cases) expect(() => compileMapping(config as never), field).to.throw(OptionsInvalidError).with.nested.property('details.field', field);
    });

    it('dedupe - remembers the last window values per key and forgets the oldest', () => {
      const d = new KeyedDedupe(2, 2);
      d.add('a', 1); d.add('a', 2); d.add('a', 3);
      expect([d.has('a', 1), d.has('a', 2), d.has('a', 3)]).to.deep.equal([false, true, true]);
      d.add('b', 1); d.add('c', 1);
      expect(d.size).to.equal(2);
      expect(d.has('a', 3), 'least recently used key forgotten').to.equal(false);
    });
  });

  describe('service', () => {
    let bus: Bus;
    let out: Envelope[];
    let dlq: Envelope[];
    beforeEach(async () => {
      bus = new Bus({ service: 'ingest@t1', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger, retry: { maxAttempts: 3, initialDelayMs: 1 } });
      out = []; dlq = [];
      await bus.subscribe('sensor.reading.>', (m) => { out.push(m); });
      await bus.subscribe('dlq.>', (m) => { dlq.push(m); });
    });
    afterEach(() => bus.stop());

    it('ingest - turns raw device telemetry into sensor.reading 2.0.0 keyed by device', async () => {
      await runNanoservice(bus, createIngestService({ tenant: 'acme', static: { site: 'berlin' } }));
      await bus.publish('devices.d7.telemetry', bytes('{"ts":1700000000000,"temperature":21.5,"humidity":40}'));
      await bus.publish('devices.d8.telemetry', { ts: 1700000000001, temperature: 22, humidity: 41 });
      await waitFor(() => out.length === 2, { what: 'out.length === 2' });
      expect(out).to.have.length(2);
      expect(out[0]).to.include({ type: 'sensor.reading', partitionkey: 'd7', tenant: 'acme', dataschema: 'urn:signalbus:contract:sensor.reading:2.0.0' });
      expect(out[0]!.data, 'no extra fields: sensor.reading 2.0.0 is closed').to.deep.equal({ ts: 1700000000000, temperature: 21.5, humidity: 40, site: 'berlin', deviceId: 'd7' });
      expect(out[1]!.partitionkey).to.equal('d8');
      expect(bus.metrics.totals().get('ingest@t1:sensor.reading?deviceId=d7 received forwarded')?.count).to.equal(1);
    });

    it('ingest - dead-letters bad payloads at once with the reason and keeps going', async () => {
      await runNanoservice(bus, createIngestService());
      await bus.publish('devices.d1.telemetry', bytes('{"ts":1,"temperature":'));
      await bus.publish('devices.d2.telemetry', bytes('{"ts":1,"temperature":"hot","humidity":1}'));
      await bus.publish('devices.d3.telemetry', bytes('{"ts":1,"humidity":1}'));
      await bus.publish('devices.d4.telemetry', bytes('{"ts":1,"temperature":20,"humidity":1}'));
      await waitFor(() => out.length === 1 && dlq.length === 3, { what: 'out.length === 1 && dlq.length === 3' });
      expect(dlq.map((m) => [m.dlqsubject, m.dlqreason, m.dlqattempts])).to.deep.equal([
        ['devices.d1.telemetry', 'SB_ERR_CODEC_DECODE', '1'],
        ['devices.d2.telemetry', 'SB_ERR_CONTRACT_INVALID', '1'],
        ['devices.d3.telemetry', 'SB_ERR_CONTRACT_INVALID', '1'],
      ]);
      expect(dlq[1]!.dlqmessage).to.be.a('string').and.not.equal('');
      expect(out.map((m) => m.partitionkey)).to.deep.equal(['d4']);
      const totals = bus.metrics.totals();
      expect(totals.get('ingest@t1:sensor.reading?deviceId=d1 invalid deadlettered')?.count).to.equal(1);
      expect(totals.get('ingest@t1:sensor.reading?deviceId=d3 invalid deadlettered')?.count).to.equal(1);
    });

    it('ingest - a payload deviceId that differs from the topic\'s is replaced and counted mismatch overridden', async () => {
      await runNanoservice(bus, createIngestService());
      await bus.publish('devices.d7.telemetry', bytes('{"deviceId":"d9","ts":1,"temperature":20,"humidity":1}'));
      await bus.publish('devices.d7.telemetry', bytes('{"deviceId":"d7","ts":2,"temperature":20,"humidity":1}'));
      await bus.publish('devices.d7.telemetry', bytes('{"ts":3,"temperature":20,"humidity":1}'));
      await waitFor(() => out.length === 3, { what: 'three readings forwarded' });
      expect(out.map((m) => (m.data as { deviceId: string }).deviceId)).to.deep.equal(['d7', 'd7', 'd7']);
      const totals = bus.metrics.totals();
      expect(totals.get('ingest@t1:sensor.reading?deviceId=d7&field=deviceId mismatch overridden')?.count, 'only the differing one').to.equal(1);
      expect(totals.get('ingest@t1:sensor.reading?deviceId=d7 received forwarded')?.count).to.equal(3);
    });

    it('ingest - a BOM-prefixed payload is read without the BOM; JSON nested too deep is dead-lettered SB_ERR_CODEC_TOO_DEEP', async () => {
      await runNanoservice(bus, createIngestService());
      const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('{"ts":1,"temperature":20,"humidity":1}')]);
      await bus.publish('devices.d1.telemetry', bom);
      await bus.publish('devices.d2.telemetry', bytes(`{"ts":1,"temperature":20,"humidity":1,"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}`));
      await bus.publish('devices.d3.telemetry', bytes('{"ts":1,"temperature":20,"humidity":1}'));
      await waitFor(() => out.length === 2 && dlq.length === 1, { what: 'two forwarded, one dead-lettered' });
      expect(out.map((m) => m.partitionkey)).to.deep.equal(['d1', 'd3']);
      expect(dlq[0]).to.include({ dlqsubject: 'devices.d2.telemetry', dlqreason: 'SB_ERR_CODEC_TOO_DEEP' });
    });

    it('ingest - a validate hook that throws dead-letters the payload as contract-invalid', async () => {
      const seen: unknown[] = [];
      await runNanoservice(bus, createIngestService({
        validate: (type, version, data) => { seen.push([type, version]); if ((data as { temperature: number }).temperature > 200) throw new Error('temperature above maximum 200'); },
      }));
      await bus.publish('devices.d1.telemetry', { ts: 1, temperature: 500, humidity: 1 });
      await bus.publish('devices.d1.telemetry', { ts: 2, temperature: 20, humidity: 1 });
      await waitFor(() => out.length === 1 && dlq.length === 1, { what: 'out.length === 1 && dlq.length === 1' });
      expect(seen[0]).to.deep.equal(['sensor.reading', '2.0.0']);
      expect(dlq.map((m) => m.dlqreason)).to.deep.equal(['SB_ERR_CONTRACT_INVALID']);
      expect(out).to.have.length(1);
    });

    it('ingest - on a Bus with a contract registry and no validate hook, data the contract refuses is dead-lettered with its reason and counted invalid', async () => {
      const checked = new Bus({
        service: 'ingest@t2', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false,
        logger: silentLogger, contracts: new ContractRegistry().hooks(), retry: { maxAttempts: 3, initialDelayMs: 1 },
      });
      const readings: Envelope[] = []; const dead: Envelope[] = [];
      try {
        await checked.subscribe('sensor.reading.>', (m) => { readings.push(m); });
        await checked.subscribe('dlq.>', (m) => { dead.push(m); });
        await runNanoservice(checked, createIngestService());
        // Humidity 150 passes ingest's own `required` check (a number) but not sensor.reading 2.0.0 (at most 100).
        await checked.publish('devices.d1.telemetry', bytes('{"ts":1,"temperature":20,"humidity":150}'));
        await checked.publish('devices.d2.telemetry', bytes('{"ts":2,"temperature":20,"humidity":50}'));
        await waitFor(() => readings.length === 1 && dead.length === 1, { what: 'readings.length === 1 && dead.length === 1' });
        expect(dead[0]).to.include({ dlqsubject: 'devices.d1.telemetry', dlqreason: 'SB_ERR_CONTRACT_INVALID', dlqattempts: '1', dlqservice: 'ingest@t2' });
        expect(readings[0]).to.include({ partitionkey: 'd2', dataschema: 'urn:signalbus:contract:sensor.reading:2.0.0' });
        const totals = checked.metrics.totals();
        expect(totals.get('ingest@t2:sensor.reading?deviceId=d1 invalid deadlettered')?.count).to.equal(1);
        expect(totals.get('ingest@t2:sensor.reading?deviceId=d1 received forwarded')).to.equal(undefined);
        expect(totals.get('ingest@t2:sensor.reading?deviceId=d2 received forwarded')?.count).to.equal(1);
      } finally {
        await checked.stop();
      }
    });

    it('ingest - drops per-key duplicates when dedupe is on', async () => {
      await runNanoservice(bus, createIngestService({ dedupe: { field: 'ts', window: 10 } }));
      for (const [d, ts] of [['d1', 1], ['d1', 1], ['d2', 1], ['d1', 2], ['d1', 1]] as const) {
        await bus.publish(`devices.${d}.telemetry`, { ts, temperature: 20, humidity: 1 });
      }
      await waitFor(() => (bus.metrics.totals().get('ingest@t1:sensor.reading?deviceId=d1 duplicate dropped')?.count ?? 0) === 2, { what: '(bus.metrics.totals().get(\'ingest@t1:sensor.reading?deviceId=d1 duplicate dropped\')?.count ?? 0) === 2' });
      expect(out.map((m) => `${m.partitionkey}:${(m.data as { ts: number }).ts}`)).to.deep.equal(['d1:1', 'd2:1', 'd1:2']);
      expect(bus.metrics.totals().get('ingest@t1:sensor.reading?deviceId=d1 duplicate dropped')?.count).to.equal(2);
    });

    it('ingest - config errors name the field', () => {
      expect(() => createIngestService({ version: 'v2' })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'version');
      expect(() => createIngestService({ output: 'sensor..x' })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'output');
      expect(() => createIngestService({ dedupe: { field: 'ts', window: -1 } })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'dedupe.window');
    });
  });
});
