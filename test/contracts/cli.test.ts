import { expect } from 'chai';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAsyncapiCommand, runContractsCommand, standardSchemasDir, type CommandIo } from '../../contracts/index.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  return { out, err, io };
}

describe('contracts cli', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'sb-cli-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });
  const write = (name: string, value: unknown) => { const p = join(dir, name); writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value)); return p; };

  it('contracts diff - exits 0 for compatible schemas', async () => {
    const a = write('a.json', { type: 'object', properties: { x: { type: 'integer' } }, additionalProperties: false });
    const b = write('b.json', { type: 'object', properties: { x: { type: 'number' } }, additionalProperties: false });
    const c = capture();
    expect(await runContractsCommand(['diff', a, b, '--mode', 'backward'], c.io)).to.equal(0);
    expect(c.out).to.deep.equal([]);
  });

  it('contracts diff - exits 1 listing each breaking change on its own line', async () => {
    const a = write('a.json', { type: 'object', properties: { x: { type: 'integer' } }, additionalProperties: false });
    const b = write('b.json', { type: 'object', properties: { x: { type: 'number' }, y: { type: 'string' } }, required: ['y'], additionalProperties: false });
    const c = capture();
    expect(await runContractsCommand(['diff', a, b, '--mode', 'full'], c.io)).to.equal(1);
    expect(c.out).to.have.length(3);
    expect(c.out.some((l) => l.startsWith('required-added /y'))).to.equal(true);
    expect(c.out.some((l) => l.startsWith('type-widened /x'))).to.equal(true);
  });

  it('contracts diff - compares the standard sensor.reading protos and contract files', async () => {
    const std = standardSchemasDir();
    const c = capture();
    expect(await runContractsCommand(['diff', join(std, 'sensor.reading/1.0.0.proto'), join(std, 'sensor.reading/2.0.0.proto')], c.io)).to.equal(1);
    expect(c.out.join('\n')).to.contain('field-number-reused');
    expect(await runContractsCommand(['diff', join(std, 'sensor.reading/2.0.0.json'), join(std, 'sensor.reading/2.0.0.json'), '--mode', 'FULL_TRANSITIVE'], capture().io)).to.equal(0);
  });

  it('contracts diff - explains each failing direction with an instance one schema accepts and the other rejects', async () => {
    const a = write('a.json', { type: 'object', properties: { x: { type: 'number' } }, additionalProperties: false });
    const b = write('b.json', { type: 'object', properties: { x: { type: 'integer' } }, additionalProperties: false });
    const c = capture();
    expect(await runContractsCommand(['diff', a, b, '--mode', 'full'], c.io)).to.equal(1);
    expect(c.out).to.deep.equal(['type-narrowed /x: writer type number is not all read as integer (number not accepted)']);
    const example = c.err.find((l) => l.startsWith('backward example: '));
    expect(example, c.err.join('\n')).to.match(/is valid under the old schema and rejected by the new \(\/x must be integer\)$/);
    const instance = JSON.parse(/^backward example: (.*) is valid/.exec(example!)![1]!) as { x: number };
    expect(Number.isInteger(instance.x)).to.equal(false);
    expect(c.err.some((l) => l.startsWith('forward'))).to.equal(false); // integer data is number data
  });

  it('contracts diff - a breaking verdict without an example says it rests on the rules', async () => {
    const a = write('a.json', { type: 'string', pattern: '^a' });
    const b = write('b.json', { type: 'string', pattern: '^[a-z]' });
    const c = capture();
    expect(await runContractsCommand(['diff', a, b], c.io)).to.equal(1);
    expect(c.out).to.deep.equal(['pattern-changed /: pattern ^a → ^[a-z]']);
    expect(c.err.join('\n')).to.contain('backward: no example instance found; the verdict rests on the rules listed');
  });

  it('contracts diff - exits 2 on unusable input', async () => {
    const good = write('good.json', { type: 'string' });
    const bad = write('bad.json', '{ not json');
    const wrong = write('wrong.json', { type: 'strng' });
    for (const args of [['diff', good, bad], ['diff', good, wrong], ['diff', good, join(dir, 'missing.json')], ['diff', good], ['diff', good, good, '--mode', 'sideways'], ['frobnicate']]) {
      const c = capture();
      expect(await runContractsCommand(args, c.io), args.join(' ')).to.equal(2);
      expect(c.err.join('\n')).to.not.equal('');
    }
  });

  it('contracts check - the standard contracts pass, including the v1→v2 upcast', async () => {
    const c = capture();
    expect(await runContractsCommand(['check', '--dir', standardSchemasDir()], c.io)).to.equal(0);
    expect(c.err.join('\n')).to.contain('compatible');
  });

  it('contracts check - a breaking minor version fails, a missing upcaster fails, and a baseline catches edits', async () => {
    const schemas = join(dir, 'schemas');
    cpSync(standardSchemasDir(), schemas, { recursive: true });
    const baseline = join(dir, 'baseline');
    cpSync(schemas, baseline, { recursive: true });
    // 2.1.0 makes the optional `site` required: not BACKWARD compatible with 2.0.0.
    const v2 = JSON.parse(readFileSync(join(schemas, 'sensor.reading/2.0.0.json'), 'utf8'));
    const v21 = { ...v2, version: '2.1.0', upcastFrom: undefined, proto: undefined, schema: { ...v2.schema, required: [...v2.schema.required, 'site'] }, examples: [v2.examples[1]] };
    writeFileSync(join(schemas, 'sensor.reading/2.1.0.json'), JSON.stringify(v21));
    // alert.raised 2.0.0 has no upcaster from 1.0.0.
    const alert = JSON.parse(readFileSync(join(schemas, 'alert.raised/1.0.0.json'), 'utf8'));
    writeFileSync(join(schemas, 'alert.raised/2.0.0.json'), JSON.stringify({ ...alert, version: '2.0.0' }));
    // A published version edited in place.
    const metric = JSON.parse(readFileSync(join(schemas, 'metric.field/1.0.0.json'), 'utf8'));
    writeFileSync(join(schemas, 'metric.field/1.0.0.json'), JSON.stringify({ ...metric, schema: { ...metric.schema, required: ['service'] } }));
    const c = capture();
    expect(await runContractsCommand(['check', '--dir', schemas, '--against', baseline], c.io)).to.equal(1);
    const text = c.out.join('\n');
    expect(text).to.contain('sensor.reading 2.0.0 -> 2.1.0 [json-schema] required-added /site');
    expect(text).to.contain('alert.raised 1.1.0 -> 2.0.0 [upcast] upcaster-missing');
    expect(text).to.contain('metric.field 1.0.0@baseline -> 1.0.0 [registry] version-modified');
    expect(text).to.contain('sensor.reading 2.0.0@baseline -> 2.1.0 [json-schema] required-added /site');
    const none = capture();
    expect(await runContractsCommand(['check', '--dir', schemas, '--mode', 'none'], none.io)).to.equal(1); // upcaster still missing
    expect(none.out.every((l) => l.includes('[upcast]'))).to.equal(true);
  });

  it('contracts check - against a git ref reads the same directory at that commit', async function () {
    const c = capture();
    // HEAD of this checkout: its contracts/schemas may be absent (first commit of them), which is a valid, empty baseline.
    expect(await runContractsCommand(['check', '--dir', standardSchemasDir(), '--against', 'HEAD'], c.io)).to.equal(0);
    const bad = capture();
    expect(await runContractsCommand(['check', '--dir', standardSchemasDir(), '--against', 'no-such-ref-xyz'], bad.io)).to.equal(2);
  });

  /** Writes the versions of one contract `t.x` (JSON Schema only) into a fresh directory. */
  const contractDir = (versions: Array<{ version: string; compatibility?: string; schema: unknown }>) => {
    const d = join(dir, `c${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(d, 't.x'), { recursive: true });
    for (const v of versions) writeFileSync(join(d, 't.x', `${v.version}.json`), JSON.stringify({ name: 't.x', ...v }));
    return d;
  };
  const closed = (properties: Record<string, unknown>) => ({ type: 'object', properties, additionalProperties: false });

  it('contracts check - each version is held to the mode it declares, not the newest one', async () => {
    // 1.1.0 declares FORWARD and adds a property to a closed model (old readers refuse it); 1.2.0 declares NONE.
    const d = contractDir([
      { version: '1.0.0', compatibility: 'BACKWARD', schema: closed({ a: { type: 'string' } }) },
      { version: '1.1.0', compatibility: 'FORWARD', schema: closed({ a: { type: 'string' }, b: { type: 'integer' } }) },
      { version: '1.2.0', compatibility: 'NONE', schema: { type: 'integer' } },
    ]);
    const c = capture();
    expect(await runContractsCommand(['check', '--dir', d], c.io)).to.equal(1);
    expect(c.out).to.deep.equal(['t.x 1.0.0 -> 1.1.0 [json-schema] property-added-to-closed-model /b: "b" is written but the reader\'s content model is closed to it']);
    const forced = capture();
    expect(await runContractsCommand(['check', '--dir', d, '--mode', 'backward'], forced.io)).to.equal(1);
    expect(forced.out.every((l) => l.startsWith('t.x 1.1.0 -> 1.2.0'))).to.equal(true);
  });

  it('contracts check - a declared FULL mode fails a change that only one direction reads; a declared NONE passes anything', async () => {
    const widen = [{ type: 'integer' }, { type: 'number' }];
    const full = contractDir(widen.map((schema, i) => ({ version: `1.${i}.0`, compatibility: 'FULL', schema })));
    const c = capture();
    expect(await runContractsCommand(['check', '--dir', full], c.io)).to.equal(1);
    expect(c.out).to.deep.equal(['t.x 1.0.0 -> 1.1.0 [json-schema] type-widened /: writer type number is not all read as integer (number not accepted)']);
    const none = contractDir([{ type: 'string' }, { type: 'integer' }].map((schema, i) => ({ version: `1.${i}.0`, compatibility: 'NONE', schema })));
    expect(await runContractsCommand(['check', '--dir', none], capture().io)).to.equal(0);
  });

  it('contracts check - a declared transitive mode compares each version with every earlier one of its major', async () => {
    const enumOf = (...values: string[]) => ({ enum: values });
    const series = [enumOf('a', 'b', 'c'), enumOf('a', 'b'), enumOf('a', 'b', 'c')];
    const forward = contractDir(series.map((schema, i) => ({ version: `1.${i}.0`, compatibility: 'FORWARD_TRANSITIVE', schema })));
    const c = capture();
    expect(await runContractsCommand(['check', '--dir', forward], c.io)).to.equal(1);
    expect(c.out.map((l) => l.split(' [')[0])).to.deep.equal(['t.x 1.1.0 -> 1.2.0']);
    const types = [{ type: 'integer' }, { type: 'number' }, { type: 'number', maximum: 10 }];
    const backward = contractDir(types.map((schema, i) => ({ version: `1.${i}.0`, compatibility: 'BACKWARD_TRANSITIVE', schema })));
    const b = capture();
    expect(await runContractsCommand(['check', '--dir', backward], b.io)).to.equal(1);
    expect(b.out.map((l) => l.split(' [')[0])).to.deep.equal(['t.x 1.0.0 -> 1.2.0', 't.x 1.1.0 -> 1.2.0']);
    const plain = contractDir(types.map((schema, i) => ({ version: `1.${i}.0`, compatibility: 'BACKWARD', schema })));
    const p = capture();
    expect(await runContractsCommand(['check', '--dir', plain], p.io)).to.equal(1);
    expect(p.out.map((l) => l.split(' [')[0])).to.deep.equal(['t.x 1.1.0 -> 1.2.0']);
  });

  it('contracts check --against - a declared transitive mode compares a new version with every baseline version of its major', async () => {
    const baseline = contractDir([
      { version: '1.0.0', compatibility: 'FULL_TRANSITIVE', schema: { enum: ['a', 'b', 'c'] } },
      { version: '1.1.0', compatibility: 'FULL_TRANSITIVE', schema: { enum: ['a', 'b', 'c', 'd'] } },
    ]);
    const current = join(dir, 'current');
    cpSync(baseline, current, { recursive: true });
    writeFileSync(join(current, 't.x', '1.2.0.json'), JSON.stringify({ name: 't.x', version: '1.2.0', compatibility: 'FULL_TRANSITIVE', schema: { enum: ['a', 'b', 'c', 'd'] } }));
    const c = capture();
    expect(await runContractsCommand(['check', '--dir', current, '--against', baseline], c.io)).to.equal(1);
    const pairs = [...new Set(c.out.map((l) => l.split(' [')[0]))];
    expect(pairs).to.include('t.x 1.0.0@baseline -> 1.2.0');
  });

  it('contracts cli - unusable input is one line with its code: an unknown subcommand, one file for diff, a bad git ref', async () => {
    const cases: Array<[string[], string, string]> = [
      [['frobnicate'], 'SB_ERR_CLI_USAGE', '"frobnicate"'],
      [['diff', write('one.json', { type: 'string' })], 'SB_ERR_CLI_USAGE', 'two schema files'],
      [['check', '--dir', standardSchemasDir(), '--against', 'no-such-ref-xyz'], 'SB_ERR_CLI_USAGE', '--against no-such-ref-xyz'],
      [['diff', join(dir, 'nofile.json'), join(dir, 'x.json')], 'SB_ERR_CONTRACT_LOAD', 'nofile.json'],
    ];
    for (const [args, code, text] of cases) {
      const c = capture();
      expect(await runContractsCommand(args, c.io), args.join(' ')).to.equal(2);
      expect(c.err, args.join(' ')).to.have.length(1);
      expect(c.err[0], args.join(' ')).to.match(new RegExp(`^${code}: `)).and.include(text).and.not.include('Command failed');
    }
  });

  it('contracts cli - a fail() in the io gets the error itself (the signalbus command prints it in its own format)', async () => {
    const failed: unknown[] = [];
    const c = capture();
    expect(await runContractsCommand(['frobnicate'], { ...c.io, fail: (err) => failed.push(err) })).to.equal(2);
    expect(c.err).to.deep.equal([]);
    expect(failed).to.have.length(1);
    expect(failed[0]).to.have.property('code', 'SB_ERR_CLI_USAGE');
  });

  it('asyncapi cli - a bad --server is a usage error, an --out it cannot write exits 1 with SB_ERR_CLI_OUTPUT; one line each, no usage block', async () => {
    const server = capture();
    expect(await runAsyncapiCommand(['--server', 'noequals'], server.io)).to.equal(2);
    expect(server.err).to.have.length(1);
    expect(server.err[0]).to.match(/^SB_ERR_CLI_USAGE: /);
    const out = capture();
    expect(await runAsyncapiCommand(['--out', join(dir, 'no-such-dir', 'x.json')], out.io)).to.equal(1);
    expect(out.err).to.have.length(1);
    expect(out.err[0]).to.match(/^SB_ERR_CLI_OUTPUT: --out /);
  });

  it('contracts check - a malformed contract file exits 2 naming it', async () => {
    const schemas = join(dir, 'schemas');
    cpSync(join(standardSchemasDir(), 'alert.raised'), join(schemas, 'alert.raised'), { recursive: true });
    writeFileSync(join(schemas, 'alert.raised/1.1.0.json'), '{"name": "alert.raised", "version": "1.1.0", "schema": {"type": "objekt"}}');
    const c = capture();
    expect(await runContractsCommand(['check', '--dir', schemas], c.io)).to.equal(2);
    expect(c.err.join('\n')).to.contain('SB_ERR_CONTRACT_LOAD').and.to.contain('1.1.0.json');
  });
});
