/**
 * A nats-server process owned by one test (its own port and store directory), so tests can stop,
 * kill and restart it without touching the machine's broker. Used by the NATS integration and
 * reliability suites.
 *
 * @example const server = await NatsServerProcess.start({ jetstream: true }); … await server.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portOpen } from './brokers.js';
import { freePort } from './free-port.js';
import { sleep } from './wait.js';

export { freePort };

export const NATS_SERVER_BINARY = '/usr/sbin/nats-server';

export interface NatsServerProcessOptions {
  /** Enable JetStream with a store directory under os.tmpdir(). */
  jetstream?: boolean;
  /** Require this token from clients. */
  token?: string;
  /** Subject mappings (server config `mappings`), e.g. partitioning device subjects. */
  mappings?: Record<string, string>;
  /** More server configuration (e.g. an `authorization` block with users and permissions), written to its config file. */
  config?: string;
}

export class NatsServerProcess {
  private child?: ChildProcess;
  readonly storeDir?: string;

  private constructor(readonly port: number, private readonly options: NatsServerProcessOptions) {
    if (options.jetstream) this.storeDir = mkdtempSync(join(tmpdir(), 'signalbus-nats-'));
  }

  static async start(options: NatsServerProcessOptions = {}): Promise<NatsServerProcess> {
    const server = new NatsServerProcess(await freePort(), options);
    await server.resume();
    return server;
  }

  get url(): string { return `nats://127.0.0.1:${this.port}`; }

  /** (Re)starts the process on the same port and store; resolves once it accepts connections. */
  async resume(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.port)];
    if (this.options.jetstream) args.push('-js', '-sd', this.storeDir!);
    if (this.options.token) args.push('--auth', this.options.token);
    if (this.options.mappings || this.options.config) {
      // Mappings and permissions exist only in a config file; the flags above still apply.
      const file = join(this.storeDir ?? tmpdir(), `server-${this.port}.conf`);
      const mappings = this.options.mappings ? `mappings = ${JSON.stringify(this.options.mappings)}\n` : '';
      writeFileSync(file, `${mappings}${this.options.config ?? ''}\n`);
      args.push('-c', file);
    }
    const child = this.child = spawn(NATS_SERVER_BINARY, args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(this.port, '127.0.0.1', 200))) {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode} (a bad config file?)`);
      if (Date.now() > deadline) throw new Error(`nats-server on port ${this.port} did not come up`);
      await sleep(50); // polling: the process gives no other sign it is up
    }
  }

  /** Stops the process (SIGKILL = crash, SIGTERM = clean) and waits for it to exit. */
  async halt(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill(signal); });
  }

  /** Stops the process and removes its store. */
  async stop(): Promise<void> {
    await this.halt('SIGTERM');
    if (this.storeDir && existsSync(this.storeDir)) rmSync(this.storeDir, { recursive: true, force: true });
  }
}
