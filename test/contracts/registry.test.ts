import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContractLoadError, ContractUnknownError, ContractVersionError, ContractInvalidError } from '../../core/index.js';
import { ContractRegistry, parseContractUrn, contractUrn } from '../../contracts/index.js';
import { readingV1, readingV2, registry } from './helpers.js';

/** A registry over one temporary directory of files; returns the error it throws, if any. */
function loadFiles(files: Record<string, unknown>): { dir: string; error?: ContractLoadError; registry?: ContractRegistry } {
  const dir = mkdtempSync(join(tmpdir(), 'sb-contracts-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  try {
    return { dir, registry: new ContractRegistry({ standard: false, directories: [dir] }) };
  } catch (e) {
    return { dir, error: e as ContractLoadError };
  }
}

const good = { name: 'demo.thing', version: '1.0.0', schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }, examples: [{ n: 1 }] };

describe('contracts registry', () => {
  const dirs: string[] = [];
  const load = (files: Record<string, unknown>) => { const r = loadFiles(files); dirs.push(r.dir); return r; };
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  it('registry - loads the standard contracts with their examples', () => {
    expect(registry.names()).to.deep.equal(['alert.raised', 'alert.resolved', 'deadletter', 'metric.field', 'sensor.aggregate', 'sensor.reading']);
    expect(registry.versions('sensor.reading')).to.deep.equal(['1.0.0', '2.0.0']);
    for (const cv of registry.all()) {
      expect(cv.definition.examples?.length, `${cv.name} has examples`).to.be.greaterThan(0);
      for (const ex of cv.definition.examples!) expect(cv.check(ex), `${cv.name}@${cv.version}`).to.equal(undefined);
    }
    expect(registry.get('sensor.reading', '2.0.0').protoType?.fullName).to.equal('.signalbus.sensor.v2.Reading');
  });

  it('registry - the sensor.reading upcaster maps every v1 example to valid v2 data', () => {
    for (const ex of registry.get('sensor.reading', '1.0.0').definition.examples!) {
      registry.validate('sensor.reading', '2.0.0', registry.upcast('sensor.reading', '1.0.0', '2.0.0', ex));
    }
    expect(registry.upcast('sensor.reading', '1.0.0', '2.0.0', readingV1)).to.deep.equal({ ...readingV2, ts: Date.parse(readingV1.timestamp) });
  });

  it('registry - dataschema URNs round-trip', () => {
    expect(parseContractUrn(contractUrn('sensor.reading', '2.0.0'))).to.deep.equal({ name: 'sensor.reading', version: '2.0.0' });
    expect(parseContractUrn('https://example.com/schema.json')).to.equal(undefined);
  });

  it('registry - a malformed JSON file is ContractLoadError naming the file', () => {
    const { error, dir } = load({ 'demo.thing/1.0.0.json': '{ "name": "demo.thing", ' });
    expect(error).to.be.instanceOf(ContractLoadError);
    expect(error!.details?.file).to.equal(join(dir, 'demo.thing/1.0.0.json'));
  });

  it('registry - a schema ajv rejects is ContractLoadError naming file, contract and path', () => {
    const { error, dir } = load({ 'demo.thing/1.0.0.json': { ...good, schema: { type: 'object', requried: ['n'] } } });
    expect(error).to.be.instanceOf(ContractLoadError);
    expect(error!.details).to.include({ file: join(dir, 'demo.thing/1.0.0.json'), contract: 'demo.thing', path: '/schema' });
  });

  it('registry - an example that does not validate is ContractLoadError with its path', () => {
    const { error } = load({ 'demo.thing/1.0.0.json': { ...good, examples: [{ n: 1 }, { n: 'one' }] } });
    expect(error).to.be.instanceOf(ContractLoadError);
    expect(error!.details?.path).to.equal('/examples/1/n');
  });

  it('registry - bad names, versions and duplicates are ContractLoadError', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ 'x/1.0.0.json': { ...good, name: 'Demo Thing' } }, '/name'],
      [{ 'x/1.0.json': { ...good, version: '1.0' } }, '/version'],
      [{ 'x/2.0.0.json': good }, '/version'],
      [{ 'a/1.0.0.json': good, 'b/1.0.0.json': good }, '/version'],
      [{ 'x/1.0.0.json': { name: 'demo.thing', version: '1.0.0' } }, ''],
      [{ 'x/1.0.0.json': { ...good, proto: { file: 'missing.proto', message: 'p.M' } } }, '/proto'],
      [{ 'x/1.0.0.json': { ...good, compatibility: 'SIDEWAYS' } }, '/compatibility'],
    ];
    for (const [files, path] of cases) {
      const { error } = load(files);
      expect(error, JSON.stringify(files)).to.be.instanceOf(ContractLoadError);
      expect(error!.details?.path, JSON.stringify(files)).to.equal(path);
    }
  });

  it('registry - a proto and a schema that disagree are caught through the examples', () => {
    const { error } = load({
      'demo.thing/1.0.0.json': { ...good, proto: { file: 'thing.proto', message: 'demo.Thing' } },
      'demo.thing/thing.proto': 'syntax = "proto3"; package demo; message Thing { string n = 1; }',
    });
    expect(error).to.be.instanceOf(ContractLoadError);
    expect(error!.details?.path).to.equal('/examples/0/n');
  });

  it('registry - a missing contract directory is ContractLoadError naming it', () => {
    expect(() => new ContractRegistry({ standard: false, directories: ['/nonexistent/contracts'] })).to.throw(ContractLoadError).with.nested.property('details.file', '/nonexistent/contracts');
  });

  it('registry - lookups of unknown contracts and versions are typed errors', () => {
    expect(() => registry.get('no.such')).to.throw(ContractUnknownError);
    expect(() => registry.get('sensor.reading', '3.0.0')).to.throw(ContractVersionError).with.nested.property('details.contract', 'sensor.reading');
    expect(() => registry.validate('sensor.reading', '2.0.0', { ...readingV2, humidity: -1 })).to.throw(ContractInvalidError).with.nested.property('details.paths[0]', '/humidity');
  });

  it('registry - find, get and the dataschema URN name the same compiled version', () => {
    for (const cv of registry.all()) {
      expect(registry.find(cv.name, cv.version), `${cv.name}@${cv.version}`).to.equal(cv);
      expect(registry.get(cv.name, cv.version)).to.equal(cv);
      expect(registry.byDataschema(cv.urn)).to.equal(cv);
    }
    expect(registry.find('sensor.reading', '3.0.0')).to.equal(undefined);
    expect(registry.find('sensor.reading', '2.0')).to.equal(undefined);
    expect(registry.find('no.such', '1.0.0')).to.equal(undefined);
    expect(registry.find('sensor.reading')).to.equal(registry.get('sensor.reading'));
  });

  it('registry - an inline definition registers and user upcasters chain across versions', () => {
    const r = new ContractRegistry({ standard: false, upcasters: [{ contract: 'demo.thing', from: '1.0.0', to: '2.0.0', upcast: (d: { n: number }) => ({ count: d.n }) }] });
    r.register(good);
    r.register({ name: 'demo.thing', version: '2.0.0', schema: { type: 'object', properties: { count: { type: 'integer' } }, required: ['count'] } });
    r.register({ name: 'demo.thing', version: '2.1.0', schema: { type: 'object', properties: { count: { type: 'integer' }, unit: { type: 'string' } }, required: ['count'] } });
    expect(r.upcast('demo.thing', '1.0.0', '2.1.0', { n: 3 })).to.deep.equal({ count: 3 });
    expect(r.canUpcast('demo.thing', '2.1.0', '2.0.0')).to.equal(false);
  });
});
