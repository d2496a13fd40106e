import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { runCli } from '../helpers/cli-process.js';

describe('cli --version', function () {
  this.timeout(60_000);

  it('cli - --version prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`${version}\n`);
    expect((await runCli(['--help'])).stdout).to.include('signalbus --version');
  });
});
