import { expect } from 'chai';
import { Ajv, type ErrorObject } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { OptionsInvalidError } from '../../core/index.js';
import { nanoserviceConfigSchemas, nanoserviceFactories, type NanoserviceKind } from '../../nanoservices/index.js';

/** The IoT example's service configs (issue 8): what a pipeline file would hold. */
const iot: Record<NanoserviceKind, object> = {
  ingest: { input: 'devices.*.telemetry', output: 'sensor.reading.{deviceId}', subjectTokens: { deviceId: 1 }, tenant: 'acme', dedupe: { field: 'ts' } },
  filter: { input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', keyField: 'data.deviceId', where: { all: [{ path: 'data.temperature', gte: -50, lte: 150 }, { not: { path: 'data.humidity', lt: 0 } }] } },
  aggregate: { input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature', 'humidity'], window: { kind: 'tumbling', sizeMs: 5000 }, watermarkDelayMs: 1000, late: 'merge', allowedLatenessMs: 5000, checkpoint: { intervalMs: 10_000 } },
  alert: {
    input: 'sensor.valid.>', keyField: 'deviceId', output: 'alerts.{deviceId}', rules: [
      { name: 'overheat', kind: 'threshold', field: 'temperature', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } },
      { name: 'spike', kind: 'rate', field: 'temperature', perMs: 1000, absolute: true, raise: { value: 5 } },
      { name: 'odd', kind: 'zscore', field: 'humidity', window: 30, raise: { value: 4 }, resolve: { value: 3 } },
    ],
  },
  sink: { input: 'sensor.>', url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'iot', setup: 'create', maxBatchRows: 500, maxBatchDelayMs: 20, reconnect: { maxDelayMs: 2000 } },
};

/** Bad configs: the JSON path the schema must report, and the field the constructor must name. */
const bad: Array<[NanoserviceKind, object, string, string]> = [
  ['ingest', { ...iot.ingest, version: 'v2' }, '/version', 'version'],
  ['ingest', { ...iot.ingest, required: { ts: 'date' } }, '/required/ts', 'required.ts'],
  ['ingest', { ...iot.ingest, dedupe: { field: 'ts', window: 0 } }, '/dedupe/window', 'dedupe.window'],
  ['filter', { ...iot.filter, where: { all: [{ path: 'data.t', gt: true }] } }, '/where', 'where.all[0].gt'],
  ['filter', { ...iot.filter, where: { path: 'data.t' } }, '/where', 'where'],
  ['aggregate', { ...iot.aggregate, window: { kind: 'tumbling', sizeMs: 0 } }, '/window', 'window.sizeMs'],
  ['aggregate', { ...iot.aggregate, late: 'drop' }, '/late', 'late'],
  ['aggregate', { ...iot.aggregate, stats: ['median'] }, '/stats/0', 'stats'],
  ['alert', { ...iot.alert, rules: [{ name: 'x', kind: 'zscore', field: 't', raise: { value: 3 } }] }, '/rules/0', 'rules[0].window'],
  ['alert', { ...iot.alert, rules: [{ name: 'x', kind: 'threshold', field: 't', raise: { value: 'hot' } }] }, '/rules/0/raise/value', 'rules[0].raise.value'],
  ['sink', { ...iot.sink, table: 'readings; drop table x' }, '/table', 'table'],
  ['sink', { ...iot.sink, maxBatchRows: 0 }, '/maxBatchRows', 'maxBatchRows'],
  ['sink', { ...iot.sink, setup: 'migrate' }, '/setup', 'setup'],
];

describe('nanoservice config schemas', () => {
  const warnings: unknown[] = [];
  const logger = { log: () => {}, warn: (...args: unknown[]) => { warnings.push(args); }, error: (...args: unknown[]) => { warnings.push(args); } };
  afterEach(() => { expect(warnings, 'ajv strict mode warnings').to.deep.equal([]); });

  for (const [draft, make] of [['draft-07', () => new Ajv({ allErrors: true, strict: true, logger })], ['2020-12', () => new Ajv2020({ allErrors: true, strict: true, logger })]] as const) {
    it(`schemas - compile under ajv ${draft} and accept the IoT example configs`, () => {
      const ajv = make();
      for (const kind of Object.keys(iot) as NanoserviceKind[]) {
        const validate = ajv.compile(nanoserviceConfigSchemas[kind]);
        expect(validate(iot[kind]), `${kind}: ${JSON.stringify(validate.errors)}`).to.equal(true);
      }
    });

    it(`schemas - report the JSON path of a bad config under ajv ${draft}`, () => {
      const ajv = make();
      for (const [kind, config, path] of bad) {
        const validate = ajv.compile(nanoserviceConfigSchemas[kind]);
        expect(validate(config), `${kind} ${path}`).to.equal(false);
        expect(validate.errors!.map((e: ErrorObject) => e.instancePath), `${kind} ${path}`).to.include(path);
      }
      const unknown = ajv.compile(nanoserviceConfigSchemas.aggregate);
      expect(unknown({ ...iot.aggregate, windw: {} })).to.equal(false);
      expect(unknown.errors!.some((e: ErrorObject) => e.keyword === 'additionalProperties' && (e.params as { additionalProperty: string }).additionalProperty === 'windw')).to.equal(true);
    });
  }

  it('schemas - the factories accept what the schemas accept and reject what they reject, naming the field', () => {
    for (const kind of Object.keys(iot) as NanoserviceKind[]) {
      expect(() => nanoserviceFactories[kind](iot[kind] as never), kind).not.to.throw();
    }
    for (const [kind, config, , field] of bad) {
      expect(() => nanoserviceFactories[kind](config as never), `${kind} ${field}`).to.throw(OptionsInvalidError).with.nested.property('details.field', field);
    }
  });
});
