import { expect } from 'chai';
import fc from 'fast-check';
import { Bus, OptionsInvalidError, type Envelope } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { compilePredicate, createFilterService, forwardOptions, runNanoservice, type Predicate } from '../../nanoservices/index.js';
import { silentLogger } from '../helpers/silent-logger.js';

const reading = (data: Record<string, unknown>) => ({ type: 'sensor.reading', tenant: 'acme', data });

describe('nanoservice filter', () => {
  describe('predicate', () => {
    it('predicate - compares numbers on nested paths with every operator', () => {
      const m = reading({ temperature: 21, site: { city: 'berlin' } });
      expect(compilePredicate({ path: 'data.temperature', eq: 21 })(m)).to.equal(true);
      expect(compilePredicate({ path: 'data.temperature', ne: 21 })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.temperature', gt: 21 })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.temperature', gte: 21 })(m)).to.equal(true);
      expect(compilePredicate({ path: 'data.temperature', lt: 21.5 })(m)).to.equal(true);
      expect(compilePredicate({ path: 'data.temperature', lte: 20 })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.temperature', gte: -50, lte: 150 })(m)).to.equal(true);
      expect(compilePredicate({ path: 'data.site.city', in: ['paris', 'berlin'] })(m)).to.equal(true);
      expect(compilePredicate({ path: 'tenant', eq: 'acme' })(m)).to.equal(true);
      expect(compilePredicate({ path: 'data.site.city', exists: true })(m)).to.equal(true);
    });

    it('predicate - a missing path fails every operator but exists false, ne included', () => {
      const m = reading({ temperature: 21 });
      for (const op of ['eq', 'ne', 'gt', 'gte', 'lt', 'lte'] as const) {
        expect(compilePredicate({ path: 'data.humidity', [op]: 1 } as Predicate)(m), op).to.equal(false);
        expect(compilePredicate({ path: 'data.temperature.deeper', [op]: 1 } as Predicate)(m), `${op} under a number`).to.equal(false);
      }
      expect(compilePredicate({ path: 'data.humidity', in: [1, null] })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.humidity', exists: true })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.humidity', exists: false })(m)).to.equal(true);
      expect(compilePredicate({ path: 'nothing.here', exists: false })(undefined)).to.equal(true);
    });

    it('predicate - null is a value that exists, equals only null and fails ordering', () => {
      const m = reading({ humidity: null });
      expect(compilePredicate({ path: 'data.humidity', exists: true })(m)).to.equal(true);
      expect(compilePredicate({ path: 'data.humidity', eq: null })(m)).to.equal(true);
      expect(compilePredicate({ path: 'data.humidity', ne: null })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.humidity', ne: 0 })(m)).to.equal(true);
      expect(compilePredicate({ path: 'data.humidity', in: [null] })(m)).to.equal(true);
      for (const op of ['gt', 'gte', 'lt', 'lte'] as const) expect(compilePredicate({ path: 'data.humidity', [op]: 0 } as Predicate)(m), op).to.equal(false);
      expect(compilePredicate({ path: 'data.humidity.x', exists: false })(m)).to.equal(true);
    });

    it('predicate - type mismatches are false, never coerced', () => {
      const m = reading({ t: '21', n: 21, b: true, time: '2024-05-01T10:00:00Z' });
      expect(compilePredicate({ path: 'data.t', eq: 21 })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.t', gt: 20 })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.n', gt: '20' })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.n', in: ['21'] })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.b', eq: 1 })(m)).to.equal(false);
      expect(compilePredicate({ path: 'data.time', gte: '2024-05-01T00:00:00Z' })(m), 'ISO strings order as text').to.equal(true);
      expect(compilePredicate({ path: 'data', gt: 1 })(m), 'object vs number').to.equal(false);
    });

    it('predicate - empty all is true, empty any is false, not negates', () => {
      expect(compilePredicate({ all: [] })({})).to.equal(true);
      expect(compilePredicate({ any: [] })({})).to.equal(false);
      expect(compilePredicate({ not: { all: [] } })({})).to.equal(false);
      const p = compilePredicate({ any: [{ path: 'a', eq: 1 }, { all: [{ path: 'b', gt: 1 }, { not: { path: 'c', exists: true } }] }] });
      expect(p({ a: 1 })).to.equal(true);
      expect(p({ b: 2 })).to.equal(true);
      expect(p({ b: 2, c: 0 })).to.equal(false);
      expect(p({})).to.equal(false);
    });

    it('predicate - reads own properties only, never the prototype', () => {
      expect(compilePredicate({ path: 'data.toString', exists: true })(reading({}))).to.equal(false);
      expect(compilePredicate({ path: 'data.length', eq: 2 })(reading({ x: [1, 2] }))).to.equal(false);
      expect(compilePredicate({ path: 'data.x.1', eq: 2 })(reading({ x: [1, 2] })), 'array index').to.equal(true);
    });

    it('predicate - bad predicates fail at compile time with the config path', () => {
      const bad: Array<[unknown, string]> = [
        [{ path: 'a' }, 'where.all[0]'],
        [{ path: 'a', gt: true }, 'where.all[0].gt'],
        [{ path: 'a', eq: { x: 1 } }, 'where.all[0].eq'],
        [{ path: 'a', in: 'x' }, 'where.all[0].in'],
        [{ path: 'a', exists: 'yes' }, 'where.all[0].exists'],
        [{ path: 'a', between: [1, 2] }, 'where.all[0].between'],
        [{ path: 'a..b', eq: 1 }, 'where.all[0].path'],
        [{ path: '__proto__.x', eq: 1 }, 'where.all[0].path'],
        [{ any: {} }, 'where.all[0].any'],
        [{ not: { path: 'a', eq: 1 }, path: 'b' }, 'where.all[0]'],
        [{ path: 'a', gt: Number.NaN }, 'where.all[0].gt'],
      ];
      for (const [p, field] of bad) {
        expect(() => compilePredicate({ all: [p as Predicate] }), JSON.stringify(p)).to.throw(OptionsInvalidError)
          .with.property('details').that.deep.equals({ field });
      }
    });

    it('predicate - compiled predicates agree with a naive interpreter (property)', () => {
      const paths = ['a', 'b', 'a.b', 'a.b.c', 'x.0'];
      const scalar = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('a', 'b', '', null, true, false));
      const leaf = fc.record({
        path: fc.constantFrom(...paths),
        op: fc.constantFrom('eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists'),
        num: fc.integer({ min: -3, max: 3 }), str: fc.constantFrom('a', 'b'), useStr: fc.boolean(), scalar, list: fc.array(scalar, { maxLength: 3 }), flag: fc.boolean(),
      }).map(({ path, op, num, str, useStr, scalar: s, list, flag }): Predicate => {
        if (op === 'in') return { path, in: list };
        if (op === 'exists') return { path, exists: flag };
        if (op === 'eq' || op === 'ne') return { path, [op]: s } as Predicate;
        return { path, [op]: useStr ? str : num } as Predicate;
      });
      const predicate = fc.letrec<{ p: Predicate }>((tie) => ({
        p: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf,
          fc.record({ all: fc.array(tie('p'), { maxLength: 3 }) }), fc.record({ any: fc.array(tie('p'), { maxLength: 3 }) }), fc.record({ not: tie('p') })),
      })).p;
      const value = fc.letrec<{ v: unknown }>((tie) => ({
        v: fc.oneof({ depthSize: 'small' }, scalar, fc.constant(undefined), fc.array(tie('v'), { maxLength: 2 }),
          fc.dictionary(fc.constantFrom('a', 'b', 'c', 'x', '0'), tie('v'), { maxKeys: 3 })),
      })).v;
      fc.assert(fc.property(predicate, value, (p, root) => compilePredicate(p)(root) === interpret(p, root)), { numRuns: 2000 });
    });
  });

  describe('service', () => {
    let broker: MemoryBroker;
    let bus: Bus;
    beforeEach(() => { broker = new MemoryBroker(); bus = new Bus({ service: 'filter@t1', transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger }); });
    afterEach(() => bus.stop());

    it('filter - forwards passing messages with type, partition key and extensions, drops the rest, counting both', async () => {
      const out: Envelope[] = [];
      await bus.subscribe('sensor.valid.>', (m) => { out.push(m); });
      const running = await runNanoservice(bus, createFilterService({
        input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', keyField: 'data.deviceId',
        where: { path: 'data.temperature', gte: -50, lte: 150 },
      }));
      const headers = { dataschema: 'urn:signalbus:contract:sensor.reading:2.0.0', site: 'berlin' };
      const sent = await bus.publish('sensor.reading.d1', { deviceId: 'd1', temperature: 21 }, { type: 'sensor.reading', partitionKey: 'd1', headers });
      await bus.publish('sensor.reading.d1', { deviceId: 'd1', temperature: 900 }, { type: 'sensor.reading', partitionKey: 'd1', headers });
      await bus.publish('sensor.reading.d2', { deviceId: 'd2', temperature: -51 }, { type: 'sensor.reading', partitionKey: 'd2', headers });
      await running.stop();
      expect(out).to.have.length(1);
      expect(out[0]).to.include({ type: 'sensor.reading', partitionkey: 'd1', site: 'berlin', causationid: sent.id, correlationid: sent.id, dataschema: headers.dataschema });
      expect(out[0]!.data).to.deep.equal({ deviceId: 'd1', temperature: 21 });
      const totals = bus.metrics.totals();
      expect(totals.get('filter@t1:sensor.reading?deviceId=d1 passed forwarded')?.count).to.equal(1);
      expect(totals.get('filter@t1:sensor.reading?deviceId=d1 rejected dropped')?.count).to.equal(1);
      expect(totals.get('filter@t1:sensor.reading?deviceId=d2 rejected dropped')?.count).to.equal(1);
    });

    it('filter - a code predicate combines with the declarative one', async () => {
      const out: unknown[] = [];
      await bus.subscribe('ok', (m) => { out.push(m.data); });
      await runNanoservice(bus, createFilterService({ input: 'in', output: 'ok', where: { path: 'data.n', gt: 0 }, predicate: (m) => (m.data as { n: number }).n % 2 === 0 }));
      for (const n of [-2, 1, 2, 3, 4]) await bus.publish('in', { n });
      expect(out).to.deep.equal([{ n: 2 }, { n: 4 }]);
    });

    it('filter - forwardOptions keeps type, key, content type, version and every extension; dataschema-only headers are made once', () => {
      const dataschema = 'urn:signalbus:contract:sensor.reading:2.0.0';
      const base: Envelope = { specversion: '1.0', id: 'i', source: 's', type: 'sensor.reading', time: 't', datacontenttype: 'application/json', partitionkey: 'd1', traceparent: 'tp', correlationid: 'c', data: {} };
      const first = forwardOptions({ ...base, dataschema });
      expect(first).to.deep.equal({ type: 'sensor.reading', partitionKey: 'd1', contentType: 'application/json', version: '2.0.0', headers: { dataschema } });
      expect(Object.isFrozen(first.headers)).to.equal(true);
      expect(forwardOptions({ ...base, id: 'j', dataschema }).headers, 'the same frozen headers for the same dataschema').to.equal(first.headers);
      expect(forwardOptions({ ...base, dataschema, site: 'berlin' })).to.deep.include({ version: '2.0.0', headers: { dataschema, site: 'berlin' } });
      expect(forwardOptions({ ...base, site: 'berlin' })).to.deep.equal({ type: 'sensor.reading', partitionKey: 'd1', contentType: 'application/json', headers: { site: 'berlin' } });
      expect(forwardOptions({ ...base, dataschema: 'https://example.com/schema' })).to.deep.equal({ type: 'sensor.reading', partitionKey: 'd1', contentType: 'application/json', headers: { dataschema: 'https://example.com/schema' } });
    });

    it('filter - forwardOptions agrees with forwarding every string extension but the regenerated ones (property)', () => {
      const regenerated = ['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'data', 'traceparent', 'tracestate', 'correlationid', 'causationid', 'tenant', 'partitionkey', 'dlqreason'];
      const name = fc.constantFrom('dataschema', 'site', 'revision', 'causationids', ...regenerated);
      const value = fc.oneof(fc.constantFrom('urn:signalbus:contract:a.b:1.2.3', 'urn:signalbus:contract:x:2.0.0', 'plain'), fc.integer());
      fc.assert(fc.property(fc.dictionary(name, value), (attrs) => {
        const message = { specversion: '1.0', id: 'i', source: 's', type: 't', ...attrs } as never;
        const want: Record<string, unknown> = { type: (message as { type: unknown }).type };
        const m = message as Record<string, unknown>;
        if (m.partitionkey !== undefined) want.partitionKey = m.partitionkey;
        if (m.datacontenttype !== undefined) want.contentType = m.datacontenttype;
        const ds = m.dataschema;
        if (typeof ds === 'string' && ds.startsWith('urn:signalbus:contract:')) want.version = ds.slice(ds.lastIndexOf(':') + 1);
        const headers = Object.fromEntries(Object.entries(m).filter(([k, v]) => typeof v === 'string' && !regenerated.includes(k)));
        if (Object.keys(headers).length > 0) want.headers = headers;
        expect(forwardOptions(message)).to.deep.equal(want);
      }), { numRuns: 500 });
    });

    it('filter - config errors name the field', () => {
      expect(() => createFilterService({ input: 'in', output: 'out' })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'where');
      expect(() => createFilterService({ input: 'in', output: 'out.{', where: { all: [] } })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'output');
      expect(() => createFilterService({ input: 'in', output: 'out', where: { all: [] }, maxInFlight: 0 })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'maxInFlight');
    });
  });
});

/** Interprets a predicate directly, written from the documented semantics, independent of the compiler. */
function interpret(p: Predicate, root: unknown): boolean {
  if ('all' in p) return p.all.every((q) => interpret(q, root));
  if ('any' in p) return p.any.some((q) => interpret(q, root));
  if ('not' in p) return !interpret(p.not, root);
  let v: unknown = root;
  for (const seg of p.path.split('.')) v = v !== null && typeof v === 'object' && Object.hasOwn(v, seg) ? (v as Record<string, unknown>)[seg] : undefined;
  const c = p as unknown as Record<string, unknown>;
  const results: boolean[] = [];
  const sameKind = (x: unknown) => (typeof x === 'number' || typeof x === 'string') && typeof x === typeof v;
  if ('eq' in c) results.push(v !== undefined && v === c.eq);
  if ('ne' in c) results.push(v !== undefined && v !== c.ne);
  if ('gt' in c) results.push(sameKind(c.gt) && (v as number) > (c.gt as number));
  if ('gte' in c) results.push(sameKind(c.gte) && (v as number) >= (c.gte as number));
  if ('lt' in c) results.push(sameKind(c.lt) && (v as number) < (c.lt as number));
  if ('lte' in c) results.push(sameKind(c.lte) && (v as number) <= (c.lte as number));
  if ('in' in c) results.push(v !== undefined && (c.in as unknown[]).includes(v));
  if ('exists' in c) results.push((v !== undefined) === c.exists);
  return results.every(Boolean);
}
