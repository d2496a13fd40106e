import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `signalbus run <pipeline> --instance <id>` child processes for the reliability suites, each
 * logging to its own file (not a pipe: a child blocks on a full stderr pipe its parent is slow to
 * read), with the test's own notes interleaved when the logs are collected.
 * `SCALE_LOG_LEVEL` sets the instances' log level (default warn); `SCALE_LOG_FILE` keeps the logs.
 */
export class PipelineInstances {
  readonly children: ChildProcess[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'signalbus-instances-'));
  private readonly logs: string[] = [];
  private readonly files: string[] = [];

  constructor(private readonly pipelineFile: string, private readonly env: Record<string, string>) {}

  start(id: string): ChildProcess {
    const file = join(this.dir, `${id}.log`);
    const fd = openSync(file, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', this.pipelineFile, '--instance', id, '--log-level', process.env.SCALE_LOG_LEVEL ?? 'warn'], {
      env: { ...process.env, ...this.env }, stdio: ['ignore', 'ignore', fd],
    });
    closeSync(fd);
    this.files.push(file);
    this.children.push(child);
    return child;
  }

  /** A line of the test's own in the collected logs. */
  note(what: string): void { this.logs.push(`test: ${new Date().toISOString()} ${what}`); }

  /** Reads the instances' logs (call from `afterEach`); on a failed test, prints the last of them. */
  collect(failed: boolean): void {
    for (const file of this.files.splice(0)) {
      const id = file.slice(file.lastIndexOf('/') + 1, -4);
      for (const line of readFileSync(file, 'utf8').split('\n')) if (line) this.logs.push(`${id}: ${line.slice(0, 400)}`);
    }
    if (process.env.SCALE_LOG_FILE) writeFileSync(process.env.SCALE_LOG_FILE, this.logs.join('\n'));
    if (failed) {
      const late = this.logs.filter((l) => l.includes('SB_ERR_AGGREGATE_LATE')).length;
      process.stderr.write(`instance logs:\n${this.logs.filter((l) => !l.includes('SB_ERR_AGGREGATE_LATE')).slice(-80).join('\n')}\n${late} late events\n`);
    }
  }

  /** SIGKILLs what still runs, waits for the exits and removes the log directory. */
  async stop(): Promise<void> {
    const running = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = running.map((c) => new Promise((r) => c.once('exit', r)));
    for (const c of running) c.kill('SIGKILL');
    await Promise.all(exited);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
