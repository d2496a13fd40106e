import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPipelineTests } from '../../cli/pipeline-test/runner.js';
import { silentLogger } from '../helpers/silent-logger.js';

describe('pipeline test runner', function () {
  this.timeout(10_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'signalbus-runner-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('pipeline test - a case that cannot run is an error result; the other cases still run', async () => {
    const pipeline = join(dir, 'p.json');
    writeFileSync(pipeline, JSON.stringify({
      name: 'p', transports: { local: 'memory://p' },
      services: [{ kind: 'filter', config: { input: 'a.>', output: 'b.{data.k}', where: { path: 'data.v', gte: 0 } } }],
    }));
    const tests = join(dir, 'p.test.json');
    writeFileSync(tests, JSON.stringify({ cases: [
      { name: 'passes', input: [{ subject: 'a.x', data: { k: 'x', v: 1 } }], expect: [{ subject: 'b.x', count: 1 }], expectNone: [{ subject: 'a.x' }] },
      { name: 'input refused', input: [{ subject: 'a.y', data: { k: 'y', v: 1 }, headers: { 'Bad Header': 'x' } }] },
      { name: 'fails', input: [{ subject: 'a.z', data: { k: 'z', v: -1 } }], expect: [{ subject: 'b.z' }] },
    ] }));
    const run = await runPipelineTests(pipeline, [tests], { logger: silentLogger });
    expect(run.results.map((r) => [r.name, r.passed, r.error === undefined])).to.deep.equal([['passes', true, true], ['input refused', false, false], ['fails', false, true]]);
    expect(run.results[1]!.error).to.match(/SB_ERR_HEADER_INVALID/);
    expect(run.results[2]!.failures[0]!.details).to.deep.equal(['no outputs at all']);
    const only = await runPipelineTests(pipeline, [tests], { logger: silentLogger, filters: ['fail'] });
    expect(only.results.map((r) => r.name)).to.deep.equal(['fails']);
  });
});
