import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { freePort } from '../helpers/free-port.js';


const cli = (args: string[], timeoutMs = 30_000) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { encoding: 'utf8', timeout: timeoutMs });

describe('cli', function () {
  this.timeout(60_000);

  it('cli - --help lists the commands and every command has its own help', () => {
    const r = cli(['--help']);
    expect(r.status).to.equal(0);
    for (const c of ['pub', 'sub', 'metrics', 'demo', 'run', 'status']) {
      expect(r.stdout).to.include(c);
      const h = cli([c, '--help']);
      expect(h.status, c).to.equal(0);
      expect(h.stdout).to.include(`signalbus ${c}`);
    }
  });

  it('cli - errors are one clear line on stderr and a non-zero exit', () => {
    const cases: Array<[string[], number, string]> = [
      [['frob'], 2, 'unknown command'],
      [['pub', 'memory://', 'a.b', '{bad'], 2, 'not valid JSON'],
      [['pub', 'memory://', 'a..b', '{}'], 1, 'SB_ERR_SUBJECT_INVALID'],
      [['pub', 'carrier-pigeon://x', 'a.b', '{}'], 1, 'SB_ERR_TRANSPORT_UNKNOWN'],
      [['pub', 'memory://', 'a.b', '{}', '--header', 'nonsense'], 2, 'name=value'],
      [['sub', 'memory://'], 2, 'usage'],
      [['pub', 'memory://', 'a.b', '{}', '--bogus'], 2, 'bogus'],
      [['status'], 2, 'usage'],
      [['status', 'mqtt://127.0.0.1:1883'], 2, 'not a nats:// or amqp:// URL'],
      [['status', 'nats://127.0.0.1:4222', '--pipeline', 'no-such-pipeline-here'], 1, 'no scaled pipeline "no-such-pipeline-here" on nats://127.0.0.1:4222 [SB_ERR_CLI_PIPELINE_NOT_FOUND]'],
      [['run', 'examples/iot-nats/pipeline.json', '--instance', 'a b'], 2, '--instance'],
    ];
    for (const [args, status, text] of cases) {
      const r = cli(args);
      expect(r.status, args.join(' ')).to.equal(status);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('npm warn')), args.join(' ')).to.have.length(1);
      expect(r.stderr, args.join(' ')).to.include(text);
    }
  });

  it('cli - demo runs on embedded defaults and exits 0 after its duration with a final summary', async () => {
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'demo', '--duration', '8s', '--mqtt-port', String(mqttPort), '--http-port', String(httpPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const status = await new Promise<number | null>((r) => child.on('exit', r));
    expect(status).to.equal(0);
    expect(out).to.include('Final summary');
    expect(out).to.match(/alerts raised [1-9]/);
    expect(out).to.match(/dead letters [1-9]/);
    for (const service of ['ingest', 'filter', 'aggregate', 'alert']) expect(out).to.match(new RegExp(`metric fields counted by service: .*${service} [1-9]`));
  });
});
