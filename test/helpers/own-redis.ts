/**
 * A redis-server process a test owns: its own port and data directory, append-only file on and
 * synced on every write, so a restart keeps streams and consumer groups. The machine's Redis on
 * 6379 is never touched.
 *
 * @example const redis = await OwnRedis.start(); … await redis.restart(); … await redis.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portOpen } from './brokers.js';
import { freePort } from './nats-server-process.js';
import { sleep } from './wait.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export class OwnRedis {
  private child?: ChildProcess;

  private constructor(readonly port: number, readonly dir: string) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), mkdtempSync(join(tmpdir(), 'sb-redis-')));
    await redis.resume();
    return redis;
  }

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  /** Starts the process on the same port and directory; resolves once it accepts connections. */
  async resume(): Promise<void> {
    const child = spawn(REDIS_SERVER, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always',
      '--save', '', '--protected-mode', 'no', '--logfile', '',
    ], { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(this.port, '127.0.0.1', 200))) {
      if (child.exitCode !== null) throw new Error(`own redis-server exited (${child.exitCode}) on port ${this.port}`);
      if (Date.now() > deadline) throw new Error(`own redis-server on port ${this.port} did not come up`);
      await sleep(50);
    }
  }

  /** Stops the process (SIGTERM: Redis flushes its append-only file) and waits for it to exit. */
  async halt(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
  }

  /** Stops and starts it again, keeping its data. */
  async restart(): Promise<void> {
    await this.halt();
    await this.resume();
  }

  /** Stops it and removes its directory. */
  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
