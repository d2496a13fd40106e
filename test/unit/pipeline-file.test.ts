import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandEnv } from '../../cli/pipeline/expand.js';
import { loadPipeline, PipelineInvalidError, validatePipeline } from '../../cli/pipeline/load.js';

const kinds = { filter: { type: 'object', required: ['output'], properties: { output: { type: 'string' }, limit: { type: 'number' } } } };
const base = { name: 'p', transports: { main: 'memory://' }, services: [{ kind: 'filter', config: { output: 'x.y' } }] };

describe('pipeline file', () => {
  it('pipeline - expands ${VAR} and ${VAR:-default} from the environment', () => {
    const out = expandEnv({ a: '${MQTT_URL:-mqtt://127.0.0.1:1883}', b: ['x-${NAME}-y'], c: 3 }, { NAME: 'n' });
    expect(out).to.deep.equal({ a: 'mqtt://127.0.0.1:1883', b: ['x-n-y'], c: 3 });
    expect(expandEnv('${MQTT_URL:-d}', { MQTT_URL: 'mqtt://h:1' })).to.equal('mqtt://h:1');
    expect(() => expandEnv({ t: { u: '${MISSING}' } }, {})).to.throw(/\/t\/u: environment variable MISSING/);
  });

  it('pipeline - accepts a valid file', () => {
    expect(validatePipeline(structuredClone(base), kinds).services).to.have.length(1);
  });

  it('pipeline - errors name the JSON path and what was expected', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...base, name: 'bad name' }, /\/name: must match pattern/],
      [{ ...base, transports: {} }, /\/transports: must NOT have fewer than 1 properties/],
      [{ ...base, services: [{ kind: 'nope', config: {} }] }, /\/services\/0\/kind: must be one of filter/],
      [{ ...base, services: [{ kind: 'filter', config: { output: 1 } }] }, /\/services\/0\/config\/output: must be string/],
      [{ ...base, services: [{ kind: 'filter', config: {} }] }, /\/services\/0\/config: must have required property 'output'/],
      [{ ...base, routes: [{ pattern: 'a.>', transport: 'other' }] }, /\/routes\/0\/transport: "other" is not one of transports/],
      [{ ...base, surprise: true }, /must NOT have additional properties "surprise"/],
      [{ ...base, services: [base.services[0], base.services[0]] }, /\/services\/1\/name: "filter" is used twice/],
    ];
    for (const [value, message] of cases) {
      expect(() => validatePipeline(structuredClone(value), kinds, 'p.json'), String(message)).to.throw(PipelineInvalidError, message);
    }
  });

  it('pipeline - unreadable or malformed files are one-line errors naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-pipeline-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "name": ');
    expect(() => loadPipeline(bad, kinds)).to.throw(PipelineInvalidError, /bad\.json: not valid JSON/);
    expect(() => loadPipeline(join(dir, 'missing.json'), kinds)).to.throw(PipelineInvalidError, /missing\.json: cannot read/);
  });
});
