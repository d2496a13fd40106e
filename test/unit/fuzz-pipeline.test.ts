import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandEnv } from '../../cli/pipeline/expand.js';
import { loadPipeline } from '../../cli/pipeline/load.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { arbitraryBytes, deepJson, expectEnvelopeOrTypedError, FUZZ_TIMEOUT_MS, fuzzParams, hostileString, mutated, oddValue } from '../helpers/fuzz.js';

const valid = {
  name: 'fuzz', transports: { main: 'memory://', mqtt: '${MQTT_URL:-mqtt://127.0.0.1:1883}' },
  routes: [{ pattern: 'devices.>', transport: 'mqtt' }],
  metrics: { intervalMs: 1000 },
  services: [
    { kind: 'filter', name: 'hot', config: { input: 'sensor.reading', output: 'sensor.hot', where: { gt: { path: 'temperature', value: 30 } } } },
    { kind: 'ingest', config: { input: 'devices.*.telemetry', output: 'sensor.reading', contract: 'sensor.reading' } },
  ],
};

/** Files: the valid one mutated as bytes, with values swapped for odd ones at random places, arbitrary bytes, deep JSON. */
const fileText = fc.oneof(
  mutated(fc.constant(Buffer.from(JSON.stringify(valid, null, 2))), 6),
  fc.tuple(fc.constantFrom('name', 'transports', 'routes', 'services', 'metrics', 'scale', 'embedded', 'instance', 'contracts'),
    fc.oneof(oddValue, fc.jsonValue({ maxDepth: 3 }))).map(([k, v]) => Buffer.from(JSON.stringify({ ...valid, [k]: v }))),
  fc.tuple(fc.oneof(hostileString, fc.constantFrom('filter', 'ingest', 'aggregate', 'alert')), fc.oneof(oddValue, fc.jsonValue({ maxDepth: 3 })))
    .map(([kind, config]) => Buffer.from(JSON.stringify({ ...valid, services: [{ kind, config }] }))),
  arbitraryBytes,
  deepJson.map((t) => Buffer.from(JSON.stringify({ ...valid, services: [{ kind: 'filter', config: { deep: 'X' } }] }).replace('"X"', t))),
);

describe('fuzz - pipeline file loader', function () {
  this.timeout(FUZZ_TIMEOUT_MS);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'sb-fuzz-pipeline-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('pipeline fuzz - any file gives a pipeline or a typed error', () => {
    const file = join(dir, 'pipeline.json');
    fc.assert(fc.property(fileText, (bytes) => {
      writeFileSync(file, bytes);
      expectEnvelopeOrTypedError(() => loadPipeline(file, nanoserviceConfigSchemas, {}));
    }), fuzzParams(30, 0.025));
  });
});

describe('fuzz - pipeline ${VAR} expansion', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  it('pipeline fuzz - a ${NAME} the environment does not hold expands to its default, else is a typed error, whatever the name', () => {
    const name = fc.oneof(fc.constantFrom('constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty', 'PATH_X'), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/));
    fc.assert(fc.property(name, fc.option(fc.stringMatching(/^[^}]{0,8}$/), { nil: undefined }), (n, fallback) => {
      const text = fallback === undefined ? `x\${${n}}y` : `x\${${n}:-${fallback}}y`;
      const { value, error } = expectEnvelopeOrTypedError(() => expandEnv({ v: text }, {}));
      if (fallback === undefined) expect(error?.code, String((value as { v?: unknown })?.v)).to.equal('SB_ERR_CLI_USAGE');
      else expect(value).to.deep.equal({ v: `x${fallback}y` });
    }), fuzzParams(200));
  });
});

describe('fuzz - pipeline file loader regressions (minimized counterexamples)', () => {
  it('pipeline - ${toString} in an empty environment is an unset variable (SB_ERR_CLI_USAGE), not Object.prototype.toString\'s source', () => {
    expect(() => expandEnv('${toString}', {})).to.throw().with.property('code', 'SB_ERR_CLI_USAGE');
    expect(expandEnv('${constructor:-d}', {})).to.equal('d');
  });

  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'sb-fuzz-pipeline-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const load = (text: string) => { const file = join(dir, 'p.json'); writeFileSync(file, text); return () => loadPipeline(file, nanoserviceConfigSchemas, {}); };
  const base = { name: 'p', transports: { main: 'memory://' } };

  it('pipeline - a file nested 100,000 deep is refused with SB_ERR_CLI_USAGE, not a stack overflow', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(load(JSON.stringify({ ...base, services: [{ kind: 'filter', config: { deep: 'X' } }] }).replace('"X"', deep)))
      .to.throw().with.property('code', 'SB_ERR_CLI_USAGE');
  });

  it('pipeline - a service kind named like an Object.prototype member is an unknown kind (SB_ERR_CLI_USAGE), not an ajv error', () => {
    for (const kind of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(load(JSON.stringify({ ...base, services: [{ kind, config: {} }] })), kind).to.throw().with.property('code', 'SB_ERR_CLI_USAGE');
    }
  });
});
