/**
 * A JetStream cluster of nats-server processes owned by one test: own client and route ports, own
 * store directories, killed by pid. `start()` resolves once JetStream can place a stream on
 * every node, so streams of any replica count can be created at once.
 *
 * @example
 * const cluster = await NatsCluster.start({ nodes: 3 });
 * after(() => cluster.stop());
 * const transport = await transportFromUrl(`${cluster.url}?jetstream=1&stream=S&subjects=s.>&replicas=3`);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, StorageType } from 'nats';
import { portOpen } from './brokers.js';
import { freePort, NATS_SERVER_BINARY } from './nats-server-process.js';
import { sleep } from './wait.js';

export interface NatsClusterOptions {
  /** Servers in the cluster. Default 3. */
  nodes?: number;
  /** How long start/restart wait for the cluster to answer, ms. Default 30,000. */
  readyTimeoutMs?: number;
  /** Subject mappings of every node (server config `mappings`). */
  mappings?: Record<string, string>;
}

interface Node { name: string; port: number; routePort: number; storeDir: string; child?: ChildProcess }

/** Every cluster this process started and has not stopped: killed on exit even when a test forgot. */
const running = new Set<NatsCluster>();
process.once('exit', () => { for (const c of running) c.killAllNow(); });

export class NatsCluster {
  private constructor(private readonly nodes: Node[], readonly clusterName: string, private readonly readyTimeoutMs: number,
    private readonly mappings?: Record<string, string>) {}

  static async start(options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const count = options.nodes ?? 3;
    const clusterName = `sb_${process.pid}_${Date.now().toString(36)}`;
    const nodes: Node[] = [];
    for (let i = 0; i < count; i++) {
      nodes.push({ name: `${clusterName}_n${i}`, port: await freePort(), routePort: await freePort(), storeDir: mkdtempSync(join(tmpdir(), 'signalbus-nats-cluster-')) });
    }
    const cluster = new NatsCluster(nodes, clusterName, options.readyTimeoutMs ?? 30_000, options.mappings);
    running.add(cluster);
    try {
      for (let i = 0; i < count; i++) cluster.spawn(i);
      for (let i = 0; i < count; i++) await cluster.waitListening(i);
      await cluster.waitJetStream();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Client URLs, one per node. */
  get urls(): string[] { return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`); }

  /** All nodes in one URL: `nats://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`. */
  get url(): string { return `nats://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`; }

  /** Server names (`server_name` in a client's `nc.info`), one per node. */
  get names(): string[] { return this.nodes.map((n) => n.name); }

  /** The node with this server name (what `nc.info.server_name` says), or -1. */
  indexOf(serverName: string): number { return this.nodes.findIndex((n) => n.name === serverName); }

  private spawn(i: number): void {
    const n = this.nodes[i]!;
    const routes = this.nodes.map((o) => `nats://127.0.0.1:${o.routePort}`).join(',');
    const args = [
      '-a', '127.0.0.1', '-p', String(n.port), '-n', n.name, '-js', '-sd', n.storeDir,
      '--cluster_name', this.clusterName, '--cluster', `nats://127.0.0.1:${n.routePort}`, '--routes', routes,
    ];
    if (this.mappings) {
      // Mappings exist only in a config file; the flags above still apply.
      const file = join(n.storeDir, 'mappings.conf');
      writeFileSync(file, `mappings = ${JSON.stringify(this.mappings)}\n`);
      args.push('-c', file);
    }
    n.child = spawn(NATS_SERVER_BINARY, args, { stdio: 'ignore' });
  }

  private async waitListening(i: number): Promise<void> {
    const n = this.nodes[i]!;
    const deadline = Date.now() + this.readyTimeoutMs;
    while (!(await portOpen(n.port, '127.0.0.1', 200))) {
      if (n.child?.exitCode !== null && n.child?.exitCode !== undefined) throw new Error(`nats-server ${n.name} exited with ${n.child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`nats-server ${n.name} on port ${n.port} did not come up`);
      await sleep(50); // polling: the process gives no other sign it is up
    }
  }

  /**
   * Waits until JetStream can place a stream on every live node: a probe stream with one replica a
   * live node is created and deleted. A meta leader alone is not enough: until it has heard from
   * every peer, an R3 stream fails with "no suitable peers for placement".
   */
  private async waitJetStream(): Promise<void> {
    const live = this.nodes.filter((n) => n.child && n.child.exitCode === null).map((n) => `nats://127.0.0.1:${n.port}`);
    const deadline = Date.now() + this.readyTimeoutMs;
    const probe = `SB_PROBE_${process.pid}_${Date.now().toString(36)}`;
    const nc = await connect({ servers: live, timeout: 2000 });
    try {
      for (;;) {
        try {
          const jsm = await nc.jetstreamManager({ timeout: 2000 });
          await jsm.streams.add({ name: probe, subjects: [`_sb_probe.${probe}`], num_replicas: live.length, storage: StorageType.Memory });
          await jsm.streams.delete(probe);
          return;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`JetStream cluster ${this.clusterName} could not place an R${live.length} stream: ${(err as Error).message}`);
          await sleep(200); // polling: no event says every peer is known to the meta leader
        }
      }
    } finally { await nc.close(); }
  }

  /** SIGKILLs node i (a crash) and waits for the process to exit. */
  async kill(i: number): Promise<void> {
    const child = this.nodes[i]!.child;
    this.nodes[i]!.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => { child.once('exit', () => resolve()); process.kill(child.pid!, 'SIGKILL'); });
  }

  /** Starts node i again on its ports and store; resolves once it listens and JetStream answers. */
  async restart(i: number): Promise<void> {
    if (this.nodes[i]!.child) await this.kill(i);
    this.spawn(i);
    await this.waitListening(i);
    await this.waitJetStream();
  }

  /** Kills every node and removes the store directories. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.kill(i)));
    for (const n of this.nodes) if (existsSync(n.storeDir)) rmSync(n.storeDir, { recursive: true, force: true });
    running.delete(this);
  }

  /** @internal Synchronous kill for process exit. */
  killAllNow(): void {
    for (const n of this.nodes) {
      if (n.child?.pid !== undefined && n.child.exitCode === null) { try { process.kill(n.child.pid, 'SIGKILL'); } catch { /* gone already */ } }
      if (existsSync(n.storeDir)) rmSync(n.storeDir, { recursive: true, force: true });
    }
  }
}
