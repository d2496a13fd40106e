import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';

/** A long-running `signalbus` we can send SIGINT (the helper's CliProcess stops with SIGTERM). */
function start(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null>; status: () => number | null | undefined } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let status: number | null | undefined;
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { status = code; resolve(code); }));
  return { child, output: () => output, exited, status: () => status };
}

describe('cli keep-alive on memory://', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'signalbus-keepalive-'));
  const children: ChildProcess[] = [];
  afterEach(() => { for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The IoT example on one private memory transport, without its PostgreSQL sinks: nothing holds a socket. */
  const memoryPipeline = () => {
    const p = JSON.parse(readFileSync('examples/iot-mqtt/pipeline.json', 'utf8'));
    p.name = 'keepalive';
    p.transports = { local: `memory://keepalive-${process.pid}` };
    p.routes = [];
    p.services = p.services.filter((s: { kind: string }) => s.kind !== 'sink');
    const file = join(dir, 'pipeline.json');
    writeFileSync(file, JSON.stringify(p));
    return file;
  };

  const cases: Array<[string, () => string[], string, string | undefined]> = [
    ['run', () => ['run', memoryPipeline()], 'pipeline keepalive running', 'pipeline keepalive stopped'],
    ['sub', () => ['sub', 'memory://x', 'a.>'], 'subscribed to a.>', undefined],
    ['metrics', () => ['metrics', 'memory://x'], 'subscribed to signalbus.metrics.>', undefined],
  ];
  for (const [name, args, started, stopped] of cases) {
    it(`cli - ${name} on memory:// keeps running until SIGINT, then stops gracefully and exits 0`, async () => {
      const p = start(args());
      children.push(p.child);
      await waitFor(() => p.output().includes(started) || p.status() !== undefined, { timeoutMs: 30_000, intervalMs: 20, what: () => `${started}: ${p.output()}` });
      expect(p.status(), p.output()).to.equal(undefined);
      // Nothing but the command itself holds the event loop: without it Node exits right after the start line.
      const exitedEarly = await Promise.race([p.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 1500))]);
      expect(exitedEarly, `exited on its own: ${p.output()}`).to.equal(false);
      p.child.kill('SIGINT');
      expect(await p.exited, p.output()).to.equal(0);
      if (stopped) expect(p.output()).to.include(stopped);
    });
  }
});
