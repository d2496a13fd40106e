import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = (args: string[], timeoutMs = 30_000) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { encoding: 'utf8', timeout: timeoutMs });

describe('cli lint', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'signalbus-lint-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The IoT example on one private memory transport, without its PostgreSQL sinks, changed by `edit`. */
  const pipelineFile = (name: string, edit: (p: { services: Array<{ kind: string; config: Record<string, unknown> }> }) => void = () => {}) => {
    const p = JSON.parse(readFileSync('examples/iot-mqtt/pipeline.json', 'utf8'));
    p.transports = { local: `memory://lint-${process.pid}` };
    p.routes = [];
    p.services = p.services.filter((s: { kind: string }) => s.kind !== 'sink');
    edit(p);
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(p));
    return file;
  };

  it('cli lint - a clean pipeline exits 0 and prints no finding; warnings alone exit 0 too', () => {
    const clean = cli(['lint', 'examples/iot-mqtt/pipeline.json']);
    expect(clean.status, clean.stderr).to.equal(0);
    expect(clean.stdout).to.equal('');
    expect(clean.stderr).to.include('0 errors, 0 warnings');
    for (const scaled of ['examples/iot-nats/pipeline.json', 'examples/iot-amqp/pipeline.json']) {
      const r = cli(['lint', scaled]);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr, scaled).to.include('0 errors, 0 warnings');
    }
    // The NATS example without its sinks: nobody inside consumes the aggregates and alerts.
    const p = JSON.parse(readFileSync('examples/iot-nats/pipeline.json', 'utf8'));
    p.services = p.services.filter((s: { kind: string }) => s.kind !== 'sink');
    const unstored = join(dir, 'iot-nats-unstored.json');
    writeFileSync(unstored, JSON.stringify(p));
    const warned = cli(['lint', unstored]);
    expect(warned.status, warned.stderr).to.equal(0);
    expect(warned.stdout.trim().split('\n')).to.deep.equal([
      'warning /services/2/config/output: no service of this pipeline consumes aggregates.*; only subscribers outside the pipeline will see it',
      'warning /services/3/config/output: no service of this pipeline consumes alerts.*; only subscribers outside the pipeline will see it',
    ]);
  });

  it('cli lint - an error is one line naming the JSON path and exits 1; --json says the same for machines', () => {
    const file = pipelineFile('typo', (p) => { (p.services[1]!.config.where as { path: string }).path = 'data.temprature'; });
    const r = cli(['lint', file]);
    expect(r.status).to.equal(1);
    expect(r.stdout.trim().split('\n')).to.include('error /services/1/config/where/path: no such field in sensor.reading 2.0.0; did you mean data.temperature?');
    expect(r.stderr).to.include('1 error');
    const json = cli(['lint', file, '--json']);
    expect(json.status).to.equal(1);
    const report = JSON.parse(json.stdout) as { errors: number; findings: Array<{ severity: string; path: string; message: string }> };
    expect(report.errors).to.equal(1);
    expect(report.findings).to.deep.include({ severity: 'error', path: '/services/1/config/where/path', message: 'no such field in sensor.reading 2.0.0; did you mean data.temperature?' });
    const usage = cli(['lint']);
    expect(usage.status).to.equal(2);
    expect(usage.stderr).to.include('usage: signalbus lint');
    const help = cli(['lint', '--help']);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.include('signalbus lint <pipeline.json>');
  });

  it('cli lint - run lints first: it refuses a pipeline with a lint error before starting anything, and starts one with warnings only', () => {
    const bad = pipelineFile('refused', (p) => { p.services[2]!.config.fields = ['temperature', 'humidty']; });
    const refused = cli(['run', bad, '--duration', '2s']);
    expect(refused.status).to.not.equal(0);
    expect(refused.stderr).to.include('error /services/2/config/fields/1: no such field in sensor.reading 2.0.0; did you mean humidity?');
    expect(refused.stderr).to.include('1 lint error (above); the pipeline was not started');
    expect(refused.stderr).not.to.include('running');
    // The same pipeline without the typo runs: its outputs nobody consumes are warnings only.
    const good = pipelineFile('runs');
    const ran = cli(['run', good, '--duration', '1s', '--log-level', 'silent']);
    expect(ran.status, ran.stderr).to.equal(0);
    expect(ran.stderr).to.include('warning /services/3/config/output: no service of this pipeline consumes alerts.*');
    expect(ran.stderr).to.include('pipeline iot-mqtt running');
  });
});
