import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `pg` is an optional peer dependency. Without it the sink must say so (SB_ERR_SINK_DRIVER_MISSING
 * and how to install it) and the other nanoservices must not need it. The child process runs the
 * real CLI with a module hook that makes `pg` unresolvable, as in a project that never installed it.
 */
const HIDE_PG = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
  export async function resolve(specifier, context, next) {
    if (specifier === 'pg' || specifier.startsWith('pg/')) {
      const err = new Error("Cannot find package 'pg' imported from " + context.parentURL);
      err.code = 'ERR_MODULE_NOT_FOUND';
      throw err;
    }
    return next(specifier, context);
  }\`));
`;

describe('sink - without the pg package', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-nopg-'));
    writeFileSync(join(dir, 'hide-pg.mjs'), HIDE_PG);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const runPipeline = (services: unknown[]) => {
    const file = join(dir, `pipeline-${services.length}.json`);
    writeFileSync(file, JSON.stringify({ name: 'nopg', transports: { local: 'memory://nopg' }, services }));
    return spawnSync(process.execPath, ['--import', 'tsx', '--import', join(dir, 'hide-pg.mjs'), 'cli/main.ts', 'run', file, '--duration', '1s'], { encoding: 'utf8', timeout: 25_000 });
  };

  it('sink - a pipeline with a sink fails to start with SB_ERR_SINK_DRIVER_MISSING and says to install pg', () => {
    const r = runPipeline([{ kind: 'sink', name: 'store', config: { input: 'sensor.>', url: 'postgres://postgres@127.0.0.1:5432/test' } }]);
    expect(r.status, r.stderr).to.not.equal(0);
    expect(r.stderr).to.include('SB_ERR_SINK_DRIVER_MISSING');
    expect(r.stderr).to.include('npm install pg');
    expect(r.stderr, 'one clear line, no stack').to.not.match(/\n\s+at /);
  });

  it('sink - a pipeline without a sink runs without pg', () => {
    const r = runPipeline([{ kind: 'filter', config: { input: 'sensor.>', output: 'valid.{data.id}', where: { path: 'data.t', gte: 0 } } }]);
    expect(r.status, r.stderr).to.equal(0);
  });
});
