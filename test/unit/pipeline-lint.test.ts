import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerTransport, type Transport } from '../../core/index.js';
import { closest, editDistance } from '../../cli/pipeline/did-you-mean.js';
import { expandEnv } from '../../cli/pipeline/expand.js';
import { lintPipeline, lintPipelineFile, type LintFinding } from '../../cli/pipeline/lint.js';
import { ContractRegistry } from '../../contracts/index.js';
import { fuzzParams, hostileString, oddValue } from '../helpers/fuzz.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const IOT = `${EXAMPLES}iot-mqtt/pipeline.json`;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The IoT example (ingest → filter → aggregate, alert → sinks), expanded with its defaults, changed by `edit`. */
function iot(edit: (p: Json) => void = () => {}): Json {
  const p = expandEnv(JSON.parse(readFileSync(IOT, 'utf8')), {}) as Json;
  edit(p);
  return p;
}

const errors = (findings: LintFinding[]) => findings.filter((f) => f.severity === 'error');
const warnings = (findings: LintFinding[]) => findings.filter((f) => f.severity === 'warning');
const at = (findings: LintFinding[], path: string) => findings.filter((f) => f.path === path);

// A transport without wildcard subscriptions or consumer groups (a key-value store's pub/sub, say).
registerTransport('nowildcards', async () => ({
  name: 'nowildcards',
  capabilities: { requestReply: false, queueGroups: false, durable: false, ordered: true, wildcards: false, redelivery: false, encodesData: true, maxMessageBytes: 1024 },
  close: async () => {},
}) as unknown as Transport);

describe('pipeline lint', function () {
  this.timeout(20_000);

  it('pipeline lint - every example pipeline lints without an error', async () => {
    const files = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('pipeline.json'));
    expect(files).to.have.length.greaterThan(2);
    for (const file of files) {
      const { findings, pipeline } = await lintPipelineFile(`${EXAMPLES}${file}`, { env: {} });
      expect(errors(findings), file).to.deep.equal([]);
      expect(pipeline, file).to.be.an('object');
    }
    expect(await lintPipeline(iot()), 'the IoT example: every output has a consumer').to.deep.equal([]);
  });

  it('pipeline lint - a filter predicate path is resolved against the contract of the subject it reads, with a did-you-mean', async () => {
    const findings = await lintPipeline(iot((p) => { p.services[1].config.where.path = 'data.temprature'; }));
    expect(findings).to.deep.equal([{ severity: 'error', path: '/services/1/config/where/path', message: 'no such field in sensor.reading 2.0.0; did you mean data.temperature?' }]);
    const nested = await lintPipeline(iot((p) => {
      p.services[1].config.where = { all: [{ path: 'data.humidity', lt: 100 }, { not: { path: 'data.stauts', eq: 'fault' } }, { path: 'temperature', gt: 0 }, { path: 'tenat', eq: 'acme' }] };
    }));
    expect(at(nested, '/services/1/config/where/all/1/not/path')[0]?.message).to.equal('no such field in sensor.reading 2.0.0; did you mean data.status?');
    expect(at(nested, '/services/1/config/where/all/2/path')[0]?.message).to.equal('the envelope has no attribute "temperature"; did you mean data.temperature?');
    expect(at(nested, '/services/1/config/where/all/3/path')[0]?.message).to.equal('the envelope has no attribute "tenat"; did you mean tenant?');
    expect(errors(nested)).to.have.length(3);
  });

  it('pipeline lint - key, aggregate, alert and time fields are resolved against the contract that reaches them (through the filter)', async () => {
    const findings = await lintPipeline(iot((p) => {
      p.services[1].config.keyField = 'data.deviceid';
      p.services[2].config.fields = ['temperature', 'humidty'];
      p.services[2].config.keyField = 'devId';
      p.services[3].config.rules[0].field = 'temperatur';
      p.services[3].config.timeField = 'tss';
    }));
    expect(errors(findings).map((f) => `${f.path}: ${f.message}`)).to.deep.equal([
      '/services/1/config/keyField: no such field in sensor.reading 2.0.0; did you mean data.deviceId?',
      '/services/2/config/keyField: no such field in sensor.reading 2.0.0 (it has deviceId, ts, temperature, humidity, site, seq, firmware, battery, status, tags)',
      '/services/2/config/fields/1: no such field in sensor.reading 2.0.0; did you mean humidity?',
      '/services/3/config/timeField: no such field in sensor.reading 2.0.0; did you mean ts?',
      '/services/3/config/rules/0/field: no such field in sensor.reading 2.0.0; did you mean temperature?',
    ]);
    // An alert on aggregates keeps the default time field "ts", which sensor.aggregate does not have.
    const onAggregates = await lintPipeline(iot((p) => { p.services[3].config.input = 'sensor.aggregate.>'; p.services[3].config.rules[0].field = 'avg'; }));
    expect(at(onAggregates, '/services/3/config').map((f) => f.message)).to.deep.equal([
      'timeField (default "ts"): no such field in sensor.aggregate 1.0.0 (it has key, metric, site, window, count, sum, min, max, avg, p50, p95, late)',
    ]);
    const windowEnd = await lintPipeline(iot((p) => { p.services[3].config.input = 'sensor.aggregate.>'; p.services[3].config.rules[0].field = 'avg'; p.services[3].config.timeField = 'window.ned'; }));
    expect(at(windowEnd, '/services/3/config/timeField')[0]?.message).to.equal('no such field in sensor.aggregate 1.0.0; did you mean window.end?');
  });

  it('pipeline lint - output placeholders are resolved against what each service renders them from', async () => {
    const findings = await lintPipeline(iot((p) => {
      p.services[0].config.output = 'sensor.reading.{devceId}';
      p.services[1].config.output = 'sensor.valid.{data.deviceid}';
      p.services[2].config.output = 'sensor.aggregate.{metrc}.{deviceId}';
      p.services[3].config.output = 'alerts.{rul}.{deviceId}';
    }));
    expect(errors(findings).map((f) => `${f.path}: ${f.message}`)).to.deep.equal([
      '/services/0/config/output: {devceId}: no such field in sensor.reading 2.0.0; did you mean deviceId?',
      '/services/1/config/output: {data.deviceid}: no such field in sensor.reading 2.0.0; did you mean data.deviceId?',
      '/services/2/config/output: {metrc}: no such field in sensor.aggregate 1.0.0; did you mean metric?',
      '/services/3/config/output: {rul}: no such field in alert.raised 1.1.0 or alert.resolved 1.1.0; did you mean rule?',
    ]);
  });

  it('pipeline lint - what ingest writes and publishes must exist in its contract', async () => {
    const findings = await lintPipeline(iot((p) => {
      p.services[0].config.static = { sitee: 'berlin' };
      p.services[0].config.type = 'sensor.readng';
    }));
    expect(at(findings, '/services/0/config/type')[0]?.message).to.equal('no contract "sensor.readng" is registered; did you mean sensor.reading?');
    const version = await lintPipeline(iot((p) => { p.services[0].config.version = '3.0.0'; }));
    expect(at(version, '/services/0/config/version')[0]?.message).to.equal('sensor.reading has no version 3.0.0 (registered: 1.0.0, 2.0.0)');
    const field = await lintPipeline(iot((p) => { p.services[0].config.static = { sitee: 'berlin' }; }));
    expect(errors(field)).to.deep.equal([{ severity: 'error', path: '/services/0/config/static/sitee', message: 'no such field in sensor.reading 2.0.0; did you mean site?' }]);
  });

  it('pipeline lint - an enum error lists the allowed values (not "must be equal to constant")', async () => {
    const findings = await lintPipeline(iot((p) => {
      p.services[2].config.window.kind = 'tumbeling';
      p.services[3].config.rules[0].kind = 'treshold';
      p.services[3].config.rules[0].severity = 'critcal';
    }));
    expect(errors(findings).map((f) => `${f.path}: ${f.message}`)).to.deep.equal([
      '/services/2/config/window/kind: must be one of "tumbling", "sliding", got "tumbeling"; did you mean tumbling?',
      '/services/3/config/rules/0/kind: must be one of "threshold", "rate", "zscore", got "treshold"; did you mean threshold?',
    ]);
    const stats = await lintPipeline(iot((p) => { p.services[2].config.stats = ['count', 'avrg']; p.services[3].config.rules[0].severity = 'critcal'; }));
    expect(errors(stats).map((f) => `${f.path}: ${f.message}`)).to.deep.equal([
      '/services/2/config/stats/1: must be one of "count", "sum", "min", "max", "avg", "p50", "p95", got "avrg"; did you mean avg?',
      '/services/3/config/rules/0/severity: must be one of "info", "warning", "critical", got "critcal"; did you mean critical?',
    ]);
    for (const f of [...findings, ...stats]) expect(f.message).not.to.include('constant');
  });

  it('pipeline lint - a misspelled property gets a did-you-mean instead of "missing where"', async () => {
    const findings = await lintPipeline(iot((p) => {
      p.services[1].config.wher = p.services[1].config.where;
      delete p.services[1].config.where;
      p.services[2].config.window = { kind: 'tumbling', sizeMS: 5000 };
      p.services[1].config.maxInFlight = 8;
      p.metric = {};
    }));
    expect(findings).to.deep.equal([{ severity: 'error', path: '/metric', message: 'unknown property "metric"; did you mean metrics?' }]);
    const services = await lintPipeline(iot((p) => {
      p.services[1].config.wher = p.services[1].config.where;
      delete p.services[1].config.where;
      p.services[2].config.window = { kind: 'tumbling', sizeMS: 5000 };
      p.services[3].config.rules[0] = { ...p.services[3].config.rules[0], raise: { valeu: 80 } };
    }));
    expect(errors(services).map((f) => `${f.path}: ${f.message}`)).to.deep.equal([
      '/services/1/config/wher: unknown property "wher"; did you mean where?',
      '/services/2/config/window/sizeMS: unknown property "sizeMS"; did you mean sizeMs?',
      '/services/3/config/rules/0/raise/valeu: unknown property "valeu"; did you mean value?',
    ]);
    for (const f of services) expect(f.message).not.to.match(/missing|required/);
    const operator = await lintPipeline(iot((p) => { p.services[1].config.where = { any: [{ path: 'data.status', eqq: 'ok' }] }; }));
    expect(errors(operator)).to.deep.equal([{ severity: 'error', path: '/services/1/config/where/any/0/eqq', message: 'unknown property "eqq"; did you mean eq?' }]);
    const kind = await lintPipeline(iot((p) => { p.services[4].kind = 'snik'; }));
    expect(errors(kind)).to.deep.equal([{ severity: 'error', path: '/services/4/kind', message: 'must be one of ingest, filter, aggregate, alert, sink, got "snik"; did you mean sink?' }]);
  });

  it('pipeline lint - subjects no service produces and outputs nobody consumes are warnings', async () => {
    const findings = await lintPipeline(iot((p) => {
      p.services[2].config.input = 'sensor.vaild.>';
      p.services.splice(6, 1); // nobody stores the alerts any more
    }));
    expect(errors(findings)).to.deep.equal([]);
    expect(warnings(findings).map((f) => `${f.path}: ${f.message}`)).to.deep.equal([
      '/services/2/config/input: no service of this pipeline publishes to sensor.vaild.>; did you mean sensor.valid.*?',
      '/services/3/config/output: no service of this pipeline consumes alerts.*; only subscribers outside the pipeline will see it',
    ]);
    // A service that is wrong in itself is still a producer: no warning piles up behind its error.
    const invalid = await lintPipeline(iot((p) => { p.services[1].config.where = { path: 'data.temperature', gte: 'x', lte: [] }; }));
    expect(warnings(invalid)).to.deep.equal([]);
  });

  it('pipeline lint - a subscription routed to a transport that cannot carry it: a wildcard without wildcards, a group without groups', async () => {
    const findings = await lintPipeline(iot((p) => {
      p.transports.kv = 'nowildcards://x';
      p.transports.mqtt = 'mqtt://127.0.0.1:1883?protocolVersion=4&sharedSubscriptions=false';
      p.routes.push({ pattern: 'sensor.valid.>', transport: 'kv' }, { pattern: 'sensor.reading.>', transport: 'mqtt' });
      p.services[4].config.group = 'store';
    }));
    expect(errors(findings).map((f) => `${f.path}: ${f.message}`)).to.deep.equal([
      '/services/2/config/input: "sensor.valid.>" is routed to transport "kv" (by /routes/4), which has no wildcard subscriptions; route it to a transport with wildcards or subscribe to a concrete subject',
      '/services/3/config/input: "sensor.valid.>" is routed to transport "kv" (by /routes/4), which has no wildcard subscriptions; route it to a transport with wildcards or subscribe to a concrete subject',
      '/services/4/config/group: "sensor.reading.>" is routed to transport "mqtt" (by /routes/5), which has no consumer groups; remove "group" or route it to a transport with groups',
    ]);
    const route = await lintPipeline(iot((p) => { p.routes[0].transport = 'mqt'; p.transports.bad = 'carrier-pigeon://x'; }));
    expect(errors(route).map((f) => f.path)).to.deep.equal(['/transports/bad', '/routes/0/transport']);
    expect(at(route, '/routes/0/transport')[0]?.message).to.equal('"mqt" is not one of transports (local, mqtt, bad); did you mean mqtt?');
  });

  it('pipeline lint - a scaled pipeline whose inputs travel where the coordination cannot replay or share them', async () => {
    const example = (name: string, edit: (p: Json) => void) => {
      const p = expandEnv(JSON.parse(readFileSync(`${EXAMPLES}${name}/pipeline.json`, 'utf8')), {}) as Json;
      edit(p);
      return p;
    };
    const coreNats = await lintPipeline(example('iot-nats', (p) => { p.transports.stream = 'nats://127.0.0.1:4222'; }));
    // The sinks on aggregates.> and alerts.> run unpartitioned: a queue group on core NATS is enough for them.
    expect(errors(coreNats).map((f) => f.path)).to.deep.equal(['/services/1/config/input', '/services/2/config/input', '/services/3/config/input', '/services/4/config/input']);
    expect(errors(coreNats)[0]!.message).to.equal('scaled by NATS, "sensor.reading.>" is routed to the default transport "stream", which keeps no log to replay from; route it to NATS with jetstream=1 (its stream capturing the subject)');
    const classic = await lintPipeline(example('iot-amqp', (p) => { p.transports.broker = 'amqp://guest:guest@127.0.0.1:5672?durable=1'; }));
    // Held acks make even ingest's outside input a single-active-consumer queue.
    expect(errors(classic).map((f) => f.path)).to.deep.equal([0, 1, 2, 3, 4, 5, 6].map((i) => `/services/${i}/config/input`));
    // A sink reading more than one partitioned subject would miss what travels under part.<n>.
    const wide = await lintPipeline(example('iot-nats', (p) => { p.services[4].config.input = 'sensor.>'; }));
    expect(errors(wide)).to.deep.equal([{ severity: 'error', path: '/services/4/config/input', message: 'scale: sink store-readings reads sensor.>, which overlaps the partitioned subjects sensor.reading.>, sensor.valid.> without being equal to it; '
      + 'what travels partitioned would not reach it. Give it exactly one partitioned subject as input (one sink per subject), or a subject no other service reads' }]);
    const noServer = await lintPipeline(example('iot-nats', (p) => { p.transports = { local: 'memory://x' }; p.routes = []; }));
    expect(at(noServer, '/scale/coordination')[0]?.message).to.equal('coordination "nats" needs scale.url or a nats:// transport for its leases and checkpoints');
  });

  it('pipeline lint - what a service refuses at start and files that cannot be read are findings with a JSON path too', async () => {
    const slide = await lintPipeline(iot((p) => { p.services[2].config.window = { kind: 'sliding', sizeMs: 5000, slideMs: 10_000 }; }));
    expect(errors(slide)).to.deep.equal([{ severity: 'error', path: '/services/2/config/window/slideMs', message: 'window.slideMs must be a positive integer <= sizeMs' }]);
    const missing = await lintPipelineFile('/nonexistent/pipeline.json');
    expect(missing.findings).to.have.length(1);
    expect(missing.findings[0]).to.include({ severity: 'error', path: '/' });
    expect(missing.pipeline).to.equal(undefined);
    const defaults = await lintPipelineFile(IOT, { env: {} });
    expect(errors(defaults.findings), 'every ${VAR} of the example has a default').to.deep.equal([]);
    const file = join(mkdtempSync(join(tmpdir(), 'sb-lint-')), 'pipeline.json');
    writeFileSync(file, JSON.stringify(iot((p) => { p.transports.mqtt = '${NO_SUCH_URL}'; })));
    const unset = await lintPipelineFile(file, { env: {} });
    expect(unset.findings).to.deep.equal([{ severity: 'error', path: '/transports/mqtt', message: 'environment variable NO_SUCH_URL is not set and has no default (write ${NO_SUCH_URL:-value})' }]);
    rmSync(dirname(file), { recursive: true });
  });

  it('pipeline lint - any value anywhere in a service config gives findings with a JSON path, never a throw', async () => {
    const registry = new ContractRegistry();
    const keys = ['input', 'output', 'where', 'keyField', 'timeField', 'fields', 'rules', 'window', 'key', 'static', 'rename', 'type', 'version', 'group', 'keyAs'];
    await fc.assert(fc.asyncProperty(fc.nat(6), fc.constantFrom(...keys), fc.oneof(oddValue, hostileString, fc.jsonValue({ maxDepth: 3 })), async (i, key, value) => {
      const findings = await lintPipeline(iot((p) => { p.services[i].config[key] = value; }), { registry });
      for (const f of findings) {
        expect(f.path).to.match(/^\//);
        expect(f.message).to.be.a('string').and.not.equal('');
        expect(['error', 'warning']).to.include(f.severity);
      }
    }), fuzzParams(60, 0.05));
  });

  it('did you mean - edit distance counts a transposition as one step and suggests only close names', () => {
    expect(editDistance('temprature', 'temperature')).to.equal(1);
    expect(editDistance('stauts', 'status')).to.equal(1);
    expect(editDistance('', 'abc')).to.equal(3);
    expect(closest('temprature', ['deviceId', 'temperature', 'humidity'])).to.equal('temperature');
    expect(closest('DeviceID', ['deviceId', 'ts'])).to.equal('deviceId');
    expect(closest('x', ['y', 'ts'])).to.equal(undefined);
    expect(closest('pressure', ['deviceId', 'temperature', 'humidity'])).to.equal(undefined);
  });
});
