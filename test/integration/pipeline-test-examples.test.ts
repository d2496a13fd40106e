import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

const examplePipelines = readdirSync('examples').map((d) => join('examples', d, 'pipeline.json')).filter((f) => existsSync(f));
const IOT = 'examples/iot-mqtt/pipeline.json';

interface CaseShape { name: string; expect?: Array<{ data?: Record<string, unknown> }> }
/** A case of the IoT example's test file, by a part of its name. */
function iotCase(part: string): CaseShape {
  const file = JSON.parse(readFileSync('examples/iot-mqtt/pipeline.test.json', 'utf8')) as { cases: CaseShape[] };
  const found = file.cases.find((c) => c.name.includes(part));
  if (!found) throw new Error(`examples/iot-mqtt/pipeline.test.json has no case named *${part}*`);
  return found;
}


describe('signalbus test on the examples', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'signalbus-pipeline-test-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('pipeline test - every example pipeline ships a test file, and signalbus test passes it (exit 0)', () => {
    expect(examplePipelines).to.include.members([IOT, 'examples/iot-nats/pipeline.json', 'examples/iot-amqp/pipeline.json']);
    for (const p of examplePipelines) {
      expect(existsSync(p.replace(/\.json$/, '.test.json')), `${p} has no test file`).to.equal(true);
      const r = cli(['test', p]);
      expect(r.status, `${p}:\n${r.stdout}${r.stderr}`).to.equal(0);
      expect(r.stdout).to.match(/\n[1-9]\d* passed, 0 failed/);
      expect(r.stdout).not.to.include('FAIL');
    }
  });

  it('pipeline test - a wrong expectation fails (exit 1) with a diff: expected against got, and the closest output', () => {
    const overheat = iotCase('raised once');
    const window = iotCase('window closes with its readings');
    overheat.expect![0]!.data!.value = 99; // the alert is raised at 87
    const wrong = join(dir, 'wrong.test.json');
    writeFileSync(wrong, JSON.stringify({ cases: [overheat, window] }));
    const junit = join(dir, 'report.xml');
    const r = cli(['test', IOT, wrong, '--junit', junit]);
    expect(r.status, r.stdout + r.stderr).to.equal(1);
    expect(r.stdout).to.include(`FAIL ${overheat.name}`);
    expect(r.stdout).to.include('expect[0]: wanted exactly 1 output on alerts.d1 of type alert.raised with data');
    expect(r.stdout).to.match(/closest \(of \d+\): alerts\.d1 alert\.raised \{/);
    expect(r.stdout).to.include('data/value: expected 99, got 87');
    expect(r.stdout).to.include(`ok   ${window.name}`);
    expect(r.stdout).to.include('1 passed, 1 failed');
    const xml = readFileSync(junit, 'utf8');
    expect(xml).to.include('tests="2" failures="1" errors="0"');
    expect(xml).to.include('data/value: expected 99, got 87');
  });

  it('pipeline test - case names on the command line pick cases', () => {
    const r = cli(['test', IOT, 'late']);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/\n1 passed, 0 failed/);
  });

  it('pipeline test - an unusable test file exits 2 with a typed error naming the JSON path', () => {
    const bad = join(dir, 'bad.test.json');
    writeFileSync(bad, JSON.stringify({ cases: [{ name: 'x', input: [], expect: [{ subject: 'alerts.>', data: { value: { $between: [1, 2] } } }] }] }));
    const r = cli(['test', IOT, bad]);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('/cases/0/expect/0/data/value/$between');
    expect(r.stderr).to.include('SB_ERR_PIPELINE_TEST_INVALID');
    const missing = cli(['test', join(dir, 'no-pipeline.json')]);
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.include('cannot read');
  });

  it('pipeline test - --watch runs again when the test file changes', async () => {
    const file = join(dir, 'watched.test.json');
    const window = iotCase('window closes with its readings');
    writeFileSync(file, JSON.stringify({ cases: [window] }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'test', IOT, file, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    try {
      await waitFor(() => out.includes('watching'), { timeoutMs: 30_000, what: () => `the first run and the watch (got: ${out})` });
      expect(out).to.include('1 passed, 0 failed');
      const broken = structuredClone(window);
      broken.expect![0]!.data!.count = 4;
      writeFileSync(file, JSON.stringify({ cases: [broken] }));
      await waitFor(() => out.includes('0 passed, 1 failed'), { timeoutMs: 30_000, what: () => `the second run (got: ${out})` });
      expect(out).to.include('data/count: expected 4, got 3');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
