/**
 * A RabbitMQ node a test owns: its own node name, ports, database and log directories, config and
 * Erlang cookie, run in the foreground as a child process. Tests can give it a TLS listener or
 * other settings without touching the machine's node (rabbit@localhost, AMQP on 5672).
 *
 * @example
 * const node = await OwnRabbitNode.start(['ssl_options.certfile = /tmp/x/server.pem', …]);
 * … amqps://guest:guest@127.0.0.1:${node.port} …
 * await node.stop();
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portOpen } from './brokers.js';
import { freePort } from './nats-server-process.js';
import { sleep } from './wait.js';

/**
 * The server script itself. `/usr/sbin/rabbitmq-server` is a wrapper that switches to the
 * rabbitmq user and writes to /var/log/rabbitmq, which belong to the machine's node.
 */
export const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';

export class OwnRabbitNode {
  private readonly killOnExit = () => { this.child.kill('SIGKILL'); };

  private constructor(
    /** The AMQP port: the TLS listener when the config has `ssl_options`, else plain TCP. */
    readonly port: number,
    /** `sbtls-…@localhost`, as registered with epmd. */
    readonly nodeName: string,
    readonly dir: string,
    private readonly child: ChildProcess,
    /** The environment the node runs in; rabbitmqctl needs its Erlang cookie (HOME) to talk to it. */
    private readonly env: NodeJS.ProcessEnv,
  ) {
    // If the test process dies without running `stop()`, the node must not outlive it.
    process.once('exit', this.killOnExit);
  }

  /**
   * Starts a node whose only listener is on 127.0.0.1:<free port> (TLS when `tls` is true) and
   * resolves once that port accepts connections. `config` lines are appended to its rabbitmq.conf.
   */
  static async start(options: { tls: boolean; config: string[]; startTimeoutMs?: number }): Promise<OwnRabbitNode> {
    const [port, distPort, spare] = await Promise.all([freePort(), freePort(), freePort()]);
    const shortName = `sbtls-${randomUUID().slice(0, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), `${shortName}-`));
    const home = join(dir, 'home'); // a fresh Erlang cookie, not the machine node's
    mkdirSync(home);
    const listener = options.tls ? ['listeners.tcp = none', `listeners.ssl.default = 127.0.0.1:${port}`] : [`listeners.tcp.default = 127.0.0.1:${port}`];
    writeFileSync(join(dir, 'rabbitmq.conf'), [...listener, 'log.console = true', 'log.file = false', ...options.config, ''].join('\n'));
    writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
    writeFileSync(join(dir, 'rabbitmq-env.conf'), ''); // instead of /etc/rabbitmq/rabbitmq-env.conf, which names the machine's node
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      RABBITMQ_NODENAME: `${shortName}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(options.tls ? spare : port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      // Distribution on loopback only, registered with the machine's epmd (127.0.0.1:4369) under our own name.
      ERL_EPMD_ADDRESS: '127.0.0.1',
      ERL_FLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
    const logFile = join(dir, 'server.log');
    const log = openSync(logFile, 'w');
    // The script execs erl, which execs beam.smp: the child's pid is the node itself.
    const child = spawn(RABBITMQ_SERVER, [], { env, cwd: dir, stdio: ['ignore', log, log] });
    closeSync(log);
    const node = new OwnRabbitNode(port, `${shortName}@localhost`, dir, child, env);
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    try {
      while (!(await portOpen(port, '127.0.0.1', 200))) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode})`);
        if (Date.now() > deadline) throw new Error(`port ${port} did not accept within ${options.startTimeoutMs ?? 30_000} ms`);
        await sleep(100);
      }
    } catch (err) {
      // The cause comes first (e.g. "Conf file attempted to set unknown variable"); the crash report after it is noise.
      const lines = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n') : [];
      const errors = lines.filter((l) => l.includes('[error]'));
      const excerpt = (errors.length > 0 ? errors.slice(0, 15) : lines.slice(-15)).join('\n');
      await node.stop();
      throw new Error(`own RabbitMQ node ${node.nodeName} did not start: ${(err as Error).message}\n${excerpt}`);
    }
    return node;
  }

  /**
   * Restarts RabbitMQ inside the node (`rabbitmqctl stop_app`, then `start_app`): every connection
   * drops, and durable queues with their persistent messages come back from disk. Resolves once the
   * AMQP port accepts connections again.
   */
  async restartApp(): Promise<void> {
    const ctl = (command: string) => new Promise<void>((resolve, reject) => {
      execFile(RABBITMQCTL, ['-n', this.nodeName, command], { env: this.env, timeout: 60_000 }, (err) => (err ? reject(err) : resolve()));
    });
    await ctl('stop_app');
    await ctl('start_app');
    const deadline = Date.now() + 30_000;
    while (!(await portOpen(this.port, '127.0.0.1', 200))) {
      if (Date.now() > deadline) throw new Error(`own RabbitMQ node ${this.nodeName} did not accept on ${this.port} after start_app`);
      await sleep(100);
    }
  }

  /** Names epmd has registered right now (`epmd -names`); none when no epmd runs. */
  static registeredNames(): string[] {
    let out: string;
    try { out = execFileSync('epmd', ['-names'], { encoding: 'utf8', stdio: 'pipe' }); } catch { return []; }
    return [...out.matchAll(/^name (\S+) at port/gm)].map((m) => m[1]!);
  }

  /**
   * Stops the node (SIGTERM: RabbitMQ shuts down cleanly; SIGKILL after 10 s), waits until epmd
   * has forgotten its name, and removes its directory. Idempotent.
   */
  async stop(): Promise<void> {
    process.removeListener('exit', this.killOnExit);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const force = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }
    const short = this.nodeName.split('@')[0]!;
    for (let i = 0; i < 50 && OwnRabbitNode.registeredNames().includes(short); i++) await sleep(100);
    rmSync(this.dir, { recursive: true, force: true });
    if (OwnRabbitNode.registeredNames().includes(short)) throw new Error(`epmd still lists ${short} after its node exited`);
  }
}
