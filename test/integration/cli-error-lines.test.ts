import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorLines, runCli } from '../helpers/cli-process.js';

/** One failing command line: its exit status, the code that ends its one stderr line, text that line must (not) hold. */
interface Case { args: string[]; status: number; code: string; has?: string[]; hasNot?: string[] }

describe('cli error lines', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'signalbus-errlines-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
  /** JSON.parse quotes this input, line breaks included, in its message. */
  const brokenJson = () => file('broken.json', '{\n "name": x\n}\n');
  const unknownScheme = () => {
    const p = JSON.parse(readFileSync('examples/iot-mqtt/pipeline.json', 'utf8'));
    p.transports = { local: 'memory://x', mqtt: 'foo://x' };
    p.services = p.services.filter((s: { kind: string }) => s.kind !== 'sink');
    return file('unknown-scheme.json', JSON.stringify(p));
  };

  /** Runs every case at once; each must be one `signalbus: <message> [<code>]` line on stderr. */
  async function expectLines(cases: Case[]): Promise<void> {
    const results = await Promise.all(cases.map((c) => runCli(c.args, { timeoutMs: 60_000 })));
    cases.forEach((c, i) => {
      const r = results[i]!;
      const what = `${c.args.join(' ')}: ${r.stderr}`;
      expect(r.status, what).to.equal(c.status);
      const lines = errorLines(r.stderr).filter((l) => !l.startsWith('warning: '));
      expect(lines, what).to.have.length(1);
      expect(lines[0], what).to.match(new RegExp(`^signalbus: .+ \\[${c.code}\\]$`));
      for (const text of c.has ?? []) expect(lines[0], what).to.include(text);
      for (const text of c.hasNot ?? []) expect(lines[0], what).not.to.include(text);
    });
  }

  it('cli - contracts errors are one signalbus: line with a code (no usage block, no raw git error)', async () => {
    await expectLines([
      { args: ['contracts', 'diff', join(dir, 'nofile.json'), join(dir, 'x.json')], status: 2, code: 'SB_ERR_CONTRACT_LOAD', has: ['nofile.json'] },
      { args: ['contracts', 'bogus'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['"bogus"', 'signalbus contracts --help'] },
      { args: ['contracts', 'diff', 'only-one.json'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['two schema files'] },
      { args: ['contracts', 'check', '--dir', 'contracts/schemas', '--against', 'no-such-ref-xyz'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['--against no-such-ref-xyz'], hasNot: ['Command failed'] },
    ]);
  });

  it('cli - asyncapi errors are one line: unusable input exits 2, a file it cannot write exits 1 with SB_ERR_CLI_OUTPUT', async () => {
    await expectLines([
      { args: ['asyncapi', '--pipeline', join(dir, 'missing.json')], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['missing.json'] },
      { args: ['asyncapi', '--out', join(dir, 'no-such-dir', 'x.json')], status: 1, code: 'SB_ERR_CLI_OUTPUT', has: ['--out'] },
      { args: ['asyncapi', '--server', 'noequals'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['name=url'] },
    ]);
  });

  it('cli - sub at a URL it cannot host says why with SB_ERR_OPTIONS_INVALID', async () => {
    await expectLines([
      { args: ['sub', 'http://127.0.0.1:99999', 'x'], status: 1, code: 'SB_ERR_OPTIONS_INVALID', has: ['is not a URL'] },
      { args: ['sub', 'http://10.255.255.1:24601', 'x.>'], status: 1, code: 'SB_ERR_OPTIONS_INVALID', has: ['10.255.255.1:24601', 'not an address of this machine'] },
      { args: ['sub', 'ws://10.255.255.1:24601', 'x.>'], status: 1, code: 'SB_ERR_OPTIONS_INVALID', has: ['not an address of this machine'] },
      { args: ['sub', 'http://no-such-host.invalid:24601', 'x.>'], status: 1, code: 'SB_ERR_OPTIONS_INVALID', has: ['no-such-host.invalid'] },
    ]);
  });

  it('cli - test: a report it cannot write is SB_ERR_CLI_OUTPUT (exit 1), no matching case a usage error (exit 2)', async () => {
    await expectLines([
      { args: ['test', 'examples/iot-mqtt/pipeline.json', '--junit', join(dir, 'no-such-dir', 'r.xml')], status: 1, code: 'SB_ERR_CLI_OUTPUT', has: ['--junit'] },
      { args: ['test', 'examples/iot-mqtt/pipeline.json', 'no-such-case-xyz'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['no case matched no-such-case-xyz'] },
    ]);
  });

  it('cli - a pipeline or test file that is not JSON is one line, whatever JSON.parse quotes', async () => {
    const broken = brokenJson();
    await expectLines([
      { args: ['asyncapi', '--pipeline', broken], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['not valid JSON'] },
      { args: ['test', broken], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['not valid JSON'] },
      { args: ['test', 'examples/iot-mqtt/pipeline.json', broken], status: 2, code: 'SB_ERR_PIPELINE_TEST_INVALID', has: ['not valid JSON'] },
    ]);
    // run prints the lint finding, then its one error line.
    const run = await runCli(['run', broken]);
    expect(run.status).to.equal(2);
    expect(errorLines(run.stderr), run.stderr).to.have.length(2);
    expect(run.stderr).to.include('error /: not valid JSON');
    const lint = await runCli(['lint', broken]);
    expect(lint.status).to.equal(1);
    expect(lint.stdout.trim().split('\n'), lint.stdout).to.have.length(1);
    expect(lint.stdout).to.match(/^error \/: not valid JSON: .*is not valid JSON\n$/);
  });

  it('cli - status refuses a URL that is neither nats:// nor amqp:// as a usage error', async () => {
    await expectLines([
      { args: ['status', 'mqtt://127.0.0.1:1883'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['nats://', 'amqp://'] },
    ]);
  });

  it('cli - demo refuses the same port for --mqtt-port and --http-port, naming both', async () => {
    await expectLines([
      { args: ['demo', '--mqtt-port', '24123', '--http-port', '24123'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['--mqtt-port', '--http-port'], hasNot: ['another process'] },
    ]);
  });

  it('cli - an unknown transport scheme names the schemes the CLI knows, without library advice', async () => {
    const advice = ['registerTransport', "import 'signalbus/transports'", 'tls'];
    await expectLines([
      { args: ['pub', 'foo://x', 'a', '{}'], status: 1, code: 'SB_ERR_TRANSPORT_UNKNOWN', has: ['"foo:"', 'memory://', 'nats://'], hasNot: advice },
      { args: ['metrics', 'foo://x'], status: 1, code: 'SB_ERR_TRANSPORT_UNKNOWN', has: ['memory://'], hasNot: advice },
    ]);
    const lint = await runCli(['lint', unknownScheme()]);
    expect(lint.status).to.equal(1);
    const finding = lint.stdout.split('\n').find((l) => l.startsWith('error /transports/mqtt'));
    expect(finding, lint.stdout).to.include('memory://');
    for (const text of advice) expect(finding).not.to.include(text);
  });

  it('cli - a negative or fractional --count or --duration is an invalid value, not a missing one', async () => {
    await expectLines([
      { args: ['sub', 'memory://x', 'a.>', '--count', '-1'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['invalid value "-1" for --count', 'positive integer'], hasNot: ['needs a value'] },
      { args: ['metrics', 'memory://x', '--count', '-1'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['positive integer'], hasNot: ['needs a value'] },
      { args: ['run', 'examples/iot-mqtt/pipeline.json', '--duration', '-5s'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['invalid value "-5s" for --duration', 'duration'], hasNot: ['needs a value'] },
      { args: ['sub', 'memory://x', 'a.>', '--count', '1.5'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['positive integer', '1.5'] },
      { args: ['metrics', 'memory://x', '--count', '1.5'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['positive integer', '1.5'] },
      { args: ['sub', 'memory://x', 'a.>', '--count'], status: 2, code: 'SB_ERR_CLI_USAGE', has: ['needs a value'] },
    ]);
  });
});
