import { expect } from 'chai';
import { parseMetricField, type Envelope } from '../../core/index.js';
import type { CaseRun, Output } from '../../cli/pipeline-test/harness.js';
import { PipelineTestInvalidError } from '../../cli/pipeline-test/errors.js';
import { validateTestFile, type TestCase } from '../../cli/pipeline-test/test-file.js';
import { countHolds, verifyCase } from '../../cli/pipeline-test/verify.js';

const out = (subject: string, type: string, data: unknown, extra: Record<string, string> = {}): Output =>
  ({ subject, envelope: { specversion: '1.0', id: subject + type + JSON.stringify(data), source: 'x', type, data, ...extra } as Envelope });

function runOf(outputs: Output[], metrics: Array<[string, number]> = []): CaseRun {
  const deadLetters = outputs.filter((o) => o.envelope.dlqreason !== undefined).map((o) => ({
    subject: String(o.envelope.dlqsubject), reason: String(o.envelope.dlqreason), service: String(o.envelope.dlqservice), message: String(o.envelope.dlqmessage), output: o,
  }));
  return { outputs, deadLetters, metrics: metrics.map(([text, count]) => ({ text, count, field: parseMetricField(text) })), endedAt: 0 };
}

const raised = out('alerts.d1', 'alert.raised', { rule: 'overheat', value: 87, deviceId: 'd1' });
const resolved = out('alerts.d1', 'alert.resolved', { rule: 'overheat', value: 72, deviceId: 'd1' });
const caseOf = (c: Partial<TestCase>): TestCase => ({ name: 'c', input: [], ...c });

describe('pipeline test verify', () => {
  it('pipeline test - counts: exact, ranges, and at least one by default', () => {
    expect(countHolds(undefined, 0)).to.equal(false);
    expect(countHolds(undefined, 3)).to.equal(true);
    expect(countHolds(1, 2)).to.equal(false);
    expect(countHolds({ min: 1, max: 2 }, 2)).to.equal(true);
    expect(countHolds({ max: 0 }, 1)).to.equal(false);
  });

  it('pipeline test - a passing case has no failures', () => {
    const c = caseOf({ expect: [{ subject: 'alerts.*', type: 'alert.raised', data: { value: { $gte: 80 } }, count: 1 }], expectNone: [{ subject: 'alerts.d2' }] });
    expect(verifyCase(c, runOf([raised, resolved]))).to.deep.equal([]);
  });

  it('pipeline test - when nothing matched, the diff shows the closest output and each difference', () => {
    const c = caseOf({ expect: [{ subject: 'alerts.d1', type: 'alert.raised', data: { value: 99, rule: 'overheat' }, count: 1 }] });
    const [f, ...rest] = verifyCase(c, runOf([out('sensor.valid.d1', 'sensor.reading', { temperature: 87 }), resolved, raised]));
    expect(rest).to.deep.equal([]);
    expect(f!.where).to.equal('expect[0]');
    expect(f!.summary).to.equal('wanted exactly 1 output on alerts.d1 of type alert.raised with data {"value":99,"rule":"overheat"}, got 0');
    expect(f!.details[0]).to.match(/^closest \(of 3\): alerts\.d1 alert\.raised /);
    expect(f!.details.slice(1)).to.deep.equal(['  data/value: expected 99, got 87']);
  });

  it('pipeline test - a wrong count lists what matched; expectNone lists what should not be there', () => {
    const failures = verifyCase(caseOf({ expect: [{ subject: 'alerts.>', count: 1 }], expectNone: [{ type: 'alert.resolved' }] }), runOf([raised, resolved]));
    expect(failures.map((f) => f.summary)).to.deep.equal([
      'wanted exactly 1 output on alerts.>, got 2',
      'wanted no output of type alert.resolved, got 1',
    ]);
    expect(failures[0]!.details).to.have.length(3);
    expect(failures[1]!.details[0]).to.include('alerts.d1 alert.resolved');
    expect(verifyCase(caseOf({ expect: [{ subject: 'a.b' }] }), runOf([]))[0]!.details).to.deep.equal(['no outputs at all']);
  });

  it('pipeline test - dead letters: each listed one counted by reason, subject and service (app alone matches), any other one fails', () => {
    const dl = (reason: string) => out('dlq.devices.d3.telemetry', 'x', null, { dlqreason: reason, dlqsubject: 'devices.d3.telemetry', dlqservice: 'ingest@edge-1', dlqmessage: 'why' });
    const run = runOf([dl('SB_ERR_CODEC_DECODE'), dl('SB_ERR_CONTRACT_INVALID')]);
    expect(verifyCase(caseOf({ deadLetters: [{ reason: 'SB_ERR_CODEC_DECODE', subject: 'devices.*.telemetry', service: 'ingest', count: 1 }, { reason: 'SB_ERR_CONTRACT_INVALID' }] }), run)).to.deep.equal([]);
    const failures = verifyCase(caseOf({ deadLetters: [{ reason: 'SB_ERR_CODEC_DECODE', service: 'filter' }] }), run);
    expect(failures.map((f) => f.where)).to.deep.equal(['deadLetters[0]', 'deadLetters']);
    expect(failures[1]!.summary).to.equal('2 dead letters not expected');
    expect(verifyCase(caseOf({ deadLetters: [] }), run)).to.have.length(1);
    expect(verifyCase(caseOf({ deadLetters: [] }), runOf([raised]))).to.deep.equal([]);
  });

  it('pipeline test - metric fields: by text without the container, or by parts with a query subset, counts summed', () => {
    const run = runOf([], [['filter@edge-1:sensor.reading?deviceId=d1 rejected dropped', 2], ['filter@edge-1:sensor.reading?deviceId=d2 rejected dropped', 1], ['filter@edge-1:sensor.reading?deviceId=d2 passed forwarded', 5]]);
    const pass = caseOf({ metrics: [
      { field: 'filter:sensor.reading?deviceId=d1 rejected dropped', count: 2 },
      { service: 'filter', event: 'rejected', action: 'dropped', count: 3 },
      { service: 'filter', query: { deviceId: 'd2' }, count: 6 },
      { field: 'filter@edge-1:sensor.reading?deviceId=d2 passed forwarded' },
    ] });
    expect(verifyCase(pass, run)).to.deep.equal([]);
    const [f] = verifyCase(caseOf({ metrics: [{ field: 'filter:sensor.reading?deviceId=d9 rejected dropped', count: 1 }] }), run);
    expect(f!.summary).to.equal('wanted exactly 1 of "filter:sensor.reading?deviceId=d9 rejected dropped", counted 0');
    expect(f!.details).to.include('  filter@edge-1:sensor.reading?deviceId=d1 rejected dropped = 2');
  });

  it('pipeline test - a bad test file is a typed error naming the JSON path', () => {
    const bad: Array<[unknown, string]> = [
      [{ cases: [] }, '/cases'],
      [{ cases: [{ name: 'a', input: [{ subject: 'a.b', data: {}, raw: 'x' }] }] }, '/cases/0/input/0'],
      [{ cases: [{ name: 'a', input: [{ subject: 'a.*', data: {} }] }] }, '/cases/0/input/0/subject'],
      [{ cases: [{ name: 'a', input: [], expect: [{ count: -1 }] }] }, '/cases/0/expect/0/count'],
      [{ cases: [{ name: 'a', input: [], expect: [{ data: { v: { $near: 1 } } }] }] }, '/cases/0/expect/0/data/v/$near'],
      [{ cases: [{ name: 'a', input: [], expect: [{ subject: 'a..b' }] }] }, '/cases/0/expect/0/subject'],
      [{ cases: [{ name: 'a', input: [], metrics: [{ field: 'not a field' }] }] }, '/cases/0/metrics/0/field'],
      [{ cases: [{ name: 'a', input: [] }, { name: 'a', input: [] }] }, '/cases/1/name'],
      [{ cases: [{ name: 'a', input: [], expcet: [] }] }, '/cases/0'],
      [{ cases: [{ name: 'a', input: [{ subject: 'a.b', at: 1, ts: 2 }] }] }, '/cases/0/input/0'],
    ];
    for (const [value, path] of bad) {
      let err: unknown;
      try { validateTestFile(value, 't.json'); } catch (e) { err = e; }
      expect(err, path).to.be.instanceOf(PipelineTestInvalidError);
      expect((err as PipelineTestInvalidError).code).to.equal('SB_ERR_PIPELINE_TEST_INVALID');
      expect((err as PipelineTestInvalidError).details?.path, JSON.stringify(value)).to.equal(path);
    }
  });
});
