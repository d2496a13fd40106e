/**
 * A Mosquitto process a test owns: its own port, config and persistence directory, so tests can
 * restart it or require passwords without touching the machine's broker on 1883.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portOpen } from './brokers.js';
import { sleep } from './wait.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface OwnMosquitto {
  port: number;
  dir: string;
  start(): Promise<void>;
  /** Stops with SIGTERM (Mosquitto saves its persistence file on the way out). */
  stop(): Promise<void>;
  /** Stops and removes the directory. */
  dispose(): Promise<void>;
}

export function ownMosquitto(options: { port: number; config?: string[]; users?: Record<string, string> }): OwnMosquitto {
  const dir = mkdtempSync(join(tmpdir(), 'sb-mosquitto-'));
  // Started as root, Mosquitto drops to its own user, which must read the config and write persistence.
  chmodSync(dir, 0o777);
  const lines = [`listener ${options.port} 127.0.0.1`, `persistence_location ${dir}/`, 'log_dest none', ...(options.config ?? [])];
  if (options.users) {
    const file = join(dir, 'passwd');
    writeFileSync(file, '');
    for (const [u, p] of Object.entries(options.users)) spawnSync('/usr/bin/mosquitto_passwd', ['-b', file, u, p]);
    chmodSync(file, 0o644);
    lines.push(`password_file ${file}`, 'allow_anonymous false');
  } else {
    lines.push('allow_anonymous true');
  }
  writeFileSync(join(dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
  let proc: ChildProcess | undefined;
  const self: OwnMosquitto = {
    port: options.port,
    dir,
    async start() {
      proc = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
      const deadline = Date.now() + 10_000;
      while (!(await portOpen(options.port, '127.0.0.1', 200))) {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`own mosquitto did not start on ${options.port}`);
        await sleep(50); // polling: the process gives no other sign it is up
      }
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    },
    async dispose() {
      await self.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** A free-looking port in a range the machine's services do not use. */
export function testPort(base: number): number {
  return base + Math.floor(Math.random() * 500);
}
