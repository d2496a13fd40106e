import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROKER_PORTS, requireBroker } from '../helpers/brokers.js';
import { runCli } from '../helpers/cli-process.js';
import { freePort, NatsServerProcess } from '../helpers/nats-server-process.js';
import { waitFor } from '../helpers/wait.js';

/** The READMEs whose `signalbus` commands are run here (the top one and those that show commands). */
const READMES = ['README.md', 'examples/iot-mqtt/README.md', 'examples/iot-nats/README.md', 'examples/contract-tests/README.md', 'contracts/README.md'];
/**
 * Shown but not run, each with its reason: a shell loop starting the same `run` as the lines
 * before it on a 3-node cluster (the reliability suites run that set-up), and examples/iot-amqp
 * (three instances on quorum queues, not listed above: test/reliability/scale-out-amqp.test.ts).
 */
const NOT_RUN = [/^for i in 0 1 2; do npx signalbus run examples\/iot-nats\/pipeline\.json --instance i\$i & done$/];

/**
 * Every `signalbus` command these READMEs show in a code block is run here, as written, through a
 * shell (environment prefixes, quoting). What is changed, and why:
 * - `npx signalbus` / `signalbus` becomes `node --import tsx cli/main.ts` (the sources; npx
 *   runs the built copy of the same file), and a leading `npm ci &&` is left out;
 * - the demo's fixed ports move to free ones (other suites may hold 8080 and 18830 meanwhile);
 * - commands on NATS go to a nats-server of this test's own: the iot-nats pipeline creates a
 *   JetStream stream on devices.>, sensor.>, alerts.> that would catch other suites' subjects.
 * - `--against origin/main` compares with HEAD where the clone has no origin/main;
 * - `--junit report.xml` writes to a temporary directory instead of the working tree.
 * The synopsis blocks (CLI sections) are checked against each command's --help.
 */

const CLI = 'node --import tsx cli/main.ts';

interface Shown { line: string; block: 'shell' | 'synopsis' }

/** The `signalbus` lines of README.md's code blocks, comments stripped. */
export function readmeCommands(markdown: string): Shown[] {
  const shown: Shown[] = [];
  for (const m of markdown.matchAll(/^```(\w*)\n([^]*?)^```/gm)) {
    const lang = m[1]!;
    if (!['', 'sh', 'bash', 'shell'].includes(lang)) continue;
    for (const raw of m[2]!.replace(/\\\n\s*/g, '').split('\n')) {
      const line = raw.replace(/\s+#.*$/, '').replace(/\s*&$/, '').replace(/^\$\s+/, '').trim();
      if (!/(^|\s|&&\s)(npx\s+)?signalbus\s/.test(line)) continue;
      shown.push({ line, block: lang === '' && /[<[]/.test(line) ? 'synopsis' : 'shell' });
    }
  }
  return shown;
}

/** A README line as a shell command on the sources: `exec` so the process we signal is the command itself. */
function asShell(line: string, rewrite: Array<[string, string]>): string {
  let cmd = line.replace(/^npm ci && /, '').replace(/(^|\s)(npx\s+)?signalbus\s/, `$1${CLI} `);
  for (const [from, to] of rewrite) cmd = cmd.split(from).join(to);
  // Environment assignments stay in front of `exec`, where sh applies them to the command.
  const env = /^((?:[A-Z_][A-Z0-9_]*=\S*\s+)*)(.*)$/.exec(cmd)!;
  return `${env[1]}exec ${env[2]}`;
}

class Shell {
  stdout = '';
  stderr = '';
  status: number | null | undefined;
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  constructor(readonly command: string, env: NodeJS.ProcessEnv = {}) {
    this.child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (d) => { this.stdout += d; });
    this.child.stderr!.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.child.on('close', (s) => { this.status = s; resolve(s); }));
  }
  /** Both streams, as a terminal shows them (in the order of each). */
  get all(): string { return `${this.stdout}\n${this.stderr}`; }
  async waitFor(stream: 'stdout' | 'stderr' | 'all', text: RegExp, timeoutMs = 30_000): Promise<void> {
    await waitFor(() => text.test(this[stream]) || this.status !== undefined, { timeoutMs, intervalMs: 20,
      what: () => `${String(text)} from \`${this.command}\` (stdout: ${this.stdout.slice(-1500)}; stderr: ${this.stderr.slice(-1500)})` });
    expect(this[stream], `${this.command} exited ${String(this.status)}: ${this.stderr}`).to.match(text);
  }
  async stop(): Promise<number | null> {
    if (this.status === undefined) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }
}

describe('cli README commands', function () {
  this.timeout(240_000);
  const shownIn = new Map(READMES.map((file) => [file, readmeCommands(readFileSync(file, 'utf8'))]));
  const shown = [...shownIn.values()].flat();
  const started: Shell[] = [];
  let nats: NatsServerProcess | undefined;
  afterEach(async () => {
    for (const s of started.splice(0)) await s.stop();
    await nats?.stop();
    nats = undefined;
  });

  it('cli - README shows signalbus commands (the extraction finds them)', () => {
    expect(shown.filter((s) => s.block === 'shell').map((s) => s.line)).to.include('npm ci && npx signalbus demo --duration 15s');
    expect(shown.filter((s) => s.block === 'synopsis').length).to.be.at.least(8);
    for (const [file, commands] of shownIn) expect(commands, file).not.to.deep.equal([]);
    for (const skipped of NOT_RUN) expect(shown.some((c) => skipped.test(c.line)), `${String(skipped)} still shown`).to.equal(true);
  });

  it('cli - every command of the READMEs\' CLI synopses has a --help that names each of its options', async () => {
    for (const { line } of shown.filter((s) => s.block === 'synopsis')) {
      const command = /^signalbus (\S+)/.exec(line)![1]!;
      const help = await runCli([command, '--help']);
      expect(help.status, line).to.equal(0);
      expect(help.stdout, line).to.include(`signalbus ${command}`);
      for (const option of line.match(/--[a-z][a-z-]*/g) ?? []) expect(help.stdout, `${line}: ${option}`).to.include(option);
    }
  });

  for (const [file, commands] of shownIn) {
    const lines = commands.filter((s) => s.block === 'shell' && !NOT_RUN.some((r) => r.test(s.line))).map((s) => s.line);
    if (lines.length === 0) continue;
    it(`cli - every shell command of ${file} runs: one-shot ones to their end, long-running ones start, print their first lines and stop cleanly`, async function () {
      await runShown(this, lines);
    });
  }

  async function runShown(ctx: Mocha.Context, lines: string[]): Promise<void> {
    const needs = new Set(lines.flatMap((l) => (/mqtt:\/\/127\.0\.0\.1:1883/.test(l) ? ['mosquitto'] : []).concat(/postgres:\/\//.test(l) ? ['postgres'] : [])));
    for (const broker of needs) await requireBroker(ctx, broker as keyof typeof BROKER_PORTS);
    const rewrite: Array<[string, string]> = [];
    const hasOriginMain = spawnSync('git', ['rev-parse', '--verify', '-q', 'origin/main']).status === 0;
    rewrite.push([' --junit report.xml', ` --junit ${join(mkdtempSync(join(tmpdir(), 'signalbus-readme-')), 'report.xml')}`]);
    if (!hasOriginMain) rewrite.push(['--against origin/main', '--against HEAD']);
    let env: NodeJS.ProcessEnv = {};
    if (lines.some((l) => /nats/.test(l))) {
      nats = await NatsServerProcess.start({ jetstream: true });
      rewrite.push(['nats://127.0.0.1:4222', nats.url]);
      env = { NATS_URL: nats.url };
    }
    const ran: string[] = [];
    for (const line of lines) {
      const sub = /signalbus\s+(\S+)/.exec(line)![1];
      if (sub === 'demo') {
        const [mqttPort, httpPort] = [await freePort(), await freePort()];
        const shell = new Shell(`${asShell(line, rewrite)} --mqtt-port ${mqttPort} --http-port ${httpPort}`, env);
        const status = await Promise.race([shell.exited, new Promise<'slow'>((r) => setTimeout(() => r('slow'), 90_000))]);
        if (status === 'slow') await shell.stop();
        expect(status, `${line}: ${shell.stderr}`).to.equal(0);
        expect(shell.stdout).to.match(/^console: open http:\/\/127\.0\.0\.1:\d+\/ in a browser\n/);
        expect(shell.stdout).to.match(/Final summary[^]*alerts raised [1-9]/);
      } else if (sub === 'run') {
        // Runs until stopped: it must come up, and stop cleanly on SIGTERM (after the commands below).
        const shell = new Shell(asShell(line, rewrite), env);
        started.push(shell);
        await shell.waitFor('stderr', /^pipeline [\w-]+ running: /m, 60_000);
      } else if (sub === 'contracts') {
        const shell = new Shell(asShell(line, rewrite), env);
        const status = await shell.exited;
        // diff: 0 compatible, 1 breaking (what the README shows it finding); 2 would be unusable input.
        expect(status, `${line}: ${shell.stderr}`).to.be.oneOf(/\bdiff\b/.test(line) ? [0, 1] : [0]);
        expect(shell.stdout + shell.stderr, line).not.to.match(/SB_ERR_|usage:/);
      } else if (sub === 'sub') {
        // Prints until stopped: it must subscribe, and stop cleanly.
        const shell = new Shell(asShell(line, rewrite), env);
        started.push(shell);
        await shell.waitFor('stderr', /^subscribed to /m);
      } else if (sub === 'lint' || (sub === 'test' && !line.includes('--watch'))) {
        const shell = new Shell(asShell(line, rewrite), env);
        // lint: 0 clean (the README's finding is for a file with a typo), test: 0 every case passes.
        expect(await shell.exited, `${line}: ${shell.stdout.slice(-1500)} ${shell.stderr.slice(-1500)}`).to.equal(0);
        expect(shell.stdout + shell.stderr, line).to.match(sub === 'lint' ? /0 errors/ : /\d+ passed, 0 failed/);
      } else if (sub === 'test') {
        // --watch runs until stopped: one full run, then it watches.
        const shell = new Shell(asShell(line, rewrite), env);
        started.push(shell);
        await shell.waitFor('all', /\d+ passed, 0 failed[^]*watching /, 60_000);
      } else if (sub === '--version') {
        const shell = new Shell(asShell(line, rewrite), env);
        expect(await shell.exited, shell.stderr).to.equal(0);
        expect(shell.stdout).to.equal(`${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}\n`);
      } else if (sub === 'status') {
        const pipeline = /--pipeline (\S+)/.exec(line)?.[1];
        // Shown after the instances start; it reads their leases, which they take within moments.
        let shell!: Shell;
        await waitFor(async () => {
          shell = new Shell(asShell(line, rewrite), env);
          await shell.exited;
          // Both instances of the README (a and b) are seen, and the partitions have owners.
          return shell.status !== 0 || /live instances \(a, b\)/.test(shell.stdout);
        }, { timeoutMs: 30_000, intervalMs: 500, what: () => `status to show the instances (${shell.stdout} ${shell.stderr})` });
        expect(shell.status, `${line}: ${shell.stderr}`).to.equal(0);
        expect(shell.stdout).to.include(`pipeline ${pipeline ?? ''}`).and.to.match(/live instances \(a, b\)/);
      } else {
        expect.fail(`README shows "${line}" and this test has no way to run it yet: add one`);
      }
      ran.push(line);
    }
    for (const s of started.splice(0)) expect(await s.stop(), `${s.command}: ${s.stderr.slice(-1500)}`).to.equal(0);
    expect(ran).to.deep.equal(lines);
  }

  it('cli - the commands demo --help and the demo itself suggest work while it runs', async () => {
    const help = (await runCli(['demo', '--help'])).stdout;
    const suggested = help.slice(help.indexOf('While it runs')).split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
    expect(suggested.length).to.be.at.least(3);
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const demo = new Shell(`exec ${CLI} demo --duration 120s --mqtt-port ${mqttPort} --http-port ${httpPort}`);
    started.push(demo);
    await demo.waitFor('stdout', /^\s+\d+ devices/m);
    const printed = demo.stdout.split('\n').slice(1).map((l) => /^\s+\w+:\s+(.*?)(\s{2,}\(.*)?$/.exec(l)?.[1]).filter((c): c is string => c !== undefined);
    expect(printed.length, demo.stdout).to.be.at.least(3);
    const ports: Array<[string, string]> = [['127.0.0.1:8080', `127.0.0.1:${httpPort}`], ['-p 18830', `-p ${mqttPort}`], ['127.0.0.1:18830', `127.0.0.1:${mqttPort}`]];
    const commands = [...suggested.map((c) => ({ from: 'demo --help', c })), ...printed.map((c) => ({ from: 'the demo', c }))];
    for (const { from, c } of commands) {
      const line = asShell(c, ports);
      // What each must show: an alert (raised or resolved), or the demo's metric series.
      const expected = /metrics$/.test(c) ? /signalbus_metric_fields_total\{service="alert"/
        : /curl -N/.test(c) ? /^id: [^\n]+\nevent: alerts\.sensor-\d+\ndata: \{[^\n]*"type":"alert\.(raised|resolved)"/m
          : /^alerts[./]sensor-\d+ .*alert\.(raised|resolved)/m;
      const shell = new Shell(line);
      try {
        await shell.waitFor('stdout', expected, 40_000);
      } catch (err) {
        throw new Error(`${from} suggests \`${c}\`, which did not show ${String(expected)}: ${(err as Error).message}`);
      } finally {
        await shell.stop();
      }
    }
    expect(await demo.stop()).to.equal(0);
  });
});
