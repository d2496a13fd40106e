import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandEnv } from '../../cli/pipeline/expand.js';
import { UsageError } from '../../cli/errors.js';
import { loadPipeline, PipelineInvalidError, validatePipeline } from '../../cli/pipeline/load.js';

const kinds = { filter: { type: 'object', required: ['output'], properties: { output: { type: 'string' }, limit: { type: 'number' } } } };
const base = { name: 'p', transports: { main: 'memory://' }, services: [{ kind: 'filter', config: { output: 'x.y' } }] };

describe('pipeline file', () => {
  it('pipeline - expands ${VAR} and ${VAR:-default} from the environment', () => {
    const out = expandEnv({ a: '${MQTT_URL:-mqtt://127.0.0.1:1883}', b: ['x-${NAME}-y'], c: 3 }, { NAME: 'n' });
    expect(out).to.deep.equal({ a: 'mqtt://127.0.0.1:1883', b: ['x-n-y'], c: 3 });
    expect(expandEnv('${MQTT_URL:-d}', { MQTT_URL: 'mqtt://h:1' })).to.equal('mqtt://h:1');
    expect(() => expandEnv({ t: { u: '${MISSING}' } }, {})).to.throw(UsageError).with.property('details').that.deep.equals({ path: '/t/u', variable: 'MISSING' });
  });

  it('pipeline - accepts a valid file', () => {
    expect(validatePipeline(structuredClone(base), kinds).services).to.have.length(1);
  });

  it('pipeline - errors name the file, the JSON path and the rule broken', () => {
    const cases: Array<[unknown, { path: string; keyword: string }]> = [
      [{ ...base, name: 'bad name' }, { path: '/name', keyword: 'pattern' }],
      [{ ...base, transports: {} }, { path: '/transports', keyword: 'minProperties' }],
      [{ ...base, services: [{ kind: 'nope', config: {} }] }, { path: '/services/0/kind', keyword: 'enum' }],
      [{ ...base, services: [{ kind: 'filter', config: { output: 1 } }] }, { path: '/services/0/config/output', keyword: 'type' }],
      [{ ...base, services: [{ kind: 'filter', config: {} }] }, { path: '/services/0/config', keyword: 'required' }],
      [{ ...base, routes: [{ pattern: 'a.>', transport: 'other' }] }, { path: '/routes/0/transport', keyword: 'transport' }],
      [{ ...base, surprise: true }, { path: '/', keyword: 'additionalProperties' }],
      [{ ...base, services: [base.services[0], base.services[0]] }, { path: '/services/1/name', keyword: 'unique' }],
      [{ ...base, metrics: { labelQueryKeys: ['rule', 'device-id'] } }, { path: '/metrics/labelQueryKeys/1', keyword: 'pattern' }],
      [{ ...base, metrics: { labelQueryKeys: ['rule', 'service'] } }, { path: '/metrics/labelQueryKeys/1', keyword: 'labelQueryKeys' }],
      [{ ...base, metrics: { labelQueryKeys: 'rule' } }, { path: '/metrics/labelQueryKeys', keyword: 'type' }],
    ];
    for (const [value, where] of cases) {
      expect(() => validatePipeline(structuredClone(value), kinds, 'p.json'), where.path).to.throw(PipelineInvalidError)
        .with.property('details').that.deep.equals({ file: 'p.json', ...where });
    }
  });

  it('pipeline - unreadable or malformed files are one-line errors naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-pipeline-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "name": ');
    expect(() => loadPipeline(bad, kinds)).to.throw(PipelineInvalidError).with.property('details').that.deep.equals({ file: bad });
    expect(() => loadPipeline(bad, kinds)).to.throw(PipelineInvalidError).with.property('cause').that.is.instanceOf(SyntaxError);
    const missing = join(dir, 'missing.json');
    expect(() => loadPipeline(missing, kinds)).to.throw(PipelineInvalidError).with.property('details').that.deep.equals({ file: missing });
    expect(() => loadPipeline(missing, kinds)).to.throw(PipelineInvalidError).with.nested.property('cause.code', 'ENOENT');
  });
});
