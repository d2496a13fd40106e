/**
 * The real `signalbus` command as a child process, from the sources (what `npx signalbus` runs
 * once built). Asynchronous on purpose: a broker the test hosts in its own process (aedes) must
 * keep answering while the command runs, which `spawnSync` would block.
 *
 * @example const r = await runCli(['--version']); expect(r.status).to.equal(0);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait.js';

export interface CliResult { status: number | null; stdout: string; stderr: string }

const CLI = ['--import', 'tsx', 'cli/main.ts'];

/** Runs `signalbus <args>` to its end (killed after `timeoutMs`). */
export function runCli(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let stdout = ''; let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve) => child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); }));
}

/** A long-running `signalbus` (sub, demo, run): read what it printed so far, wait for text, stop it. */
export class CliProcess {
  stdout = '';
  stderr = '';
  status: number | null | undefined;
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (d) => { this.stdout += d; });
    this.child.stderr!.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.child.on('close', (status) => { this.status = status; resolve(status); }));
  }

  /** Waits until stdout or stderr (as `stream` says) holds `text`; fails early if the process ended. */
  async waitForText(text: string | RegExp, options: { stream?: 'stdout' | 'stderr'; timeoutMs?: number } = {}): Promise<void> {
    const stream = options.stream ?? 'stdout';
    const has = () => (typeof text === 'string' ? this[stream].includes(text) : text.test(this[stream]));
    await waitFor(() => has() || this.status !== undefined, {
      timeoutMs: options.timeoutMs ?? 20_000, intervalMs: 20,
      what: () => `${String(text)} on ${stream} (stdout: ${this.stdout.slice(-2000)}; stderr: ${this.stderr.slice(-2000)})`,
    });
    if (!has()) throw new Error(`signalbus exited (${String(this.status)}) before printing ${String(text)}: ${this.stderr}`);
  }

  /** SIGTERM (a graceful stop), then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.status !== undefined) return this.status;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }
}

/** stderr lines other than npm's own notices. */
export function errorLines(stderr: string): string[] {
  return stderr.trim().split('\n').filter((l) => l !== '' && !l.startsWith('npm warn'));
}
