/**
 * Durable AMQP mode under broker faults. The faults run against a private RabbitMQ node started
 * for this file on free ports (never the machine's shared broker, which other suites use):
 * `rabbitmqctl close_all_connections` twice in one stream, `stop_app`/`start_app` in another.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Bus, dedupe, type Logger } from '../../core/index.js';
import { AmqpTransport } from '../../transports/amqp/index.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import { freePort } from '../helpers/nats-server-process.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const run = promisify(execFile);
const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';
const MESSAGES = 20_000;

/** A RabbitMQ node of our own: its own name, ports, data directory and Erlang cookie. */
class PrivateNode {
  private constructor(readonly name: string, readonly port: number, private readonly dir: string) {}

  static async start(): Promise<PrivateNode> {
    const dir = mkdtempSync(join(tmpdir(), 'sb-amqp-rel-'));
    const [port, distPort] = [await freePort(), await freePort()];
    const node = new PrivateNode(`sbrel${randomUUID().slice(0, 8)}@localhost`, port, dir);
    writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`);
    try {
      await run(SERVER, ['-detached'], { cwd: dir, env: { ...node.env(), RABBITMQ_NODE_PORT: String(port), RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'), RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'), RABBITMQ_LOG_BASE: join(dir, 'log'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'), RABBITMQ_PID_FILE: join(dir, 'pid'), RABBITMQ_CONF_ENV_FILE: join(dir, 'env.conf'),
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}' } });
      // The node registers with epmd a moment after the detached start; until then await_startup fails at once.
      const deadline = Date.now() + 60_000;
      for (;;) {
        try { await node.ctl('await_startup', '--timeout', '60'); break; } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(500);
        }
      }
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  get url(): string { return `amqp://guest:guest@127.0.0.1:${this.port}`; }

  private env(): NodeJS.ProcessEnv { return { ...process.env, HOME: this.dir, RABBITMQ_NODENAME: this.name }; }

  async ctl(...args: string[]): Promise<void> {
    await run(CTL, ['-n', this.name, ...args], { env: this.env(), timeout: 90_000 });
  }

  async stop(): Promise<void> {
    await this.ctl('stop').catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Counts reconnects from the transport's log. */
function reconnectCounter(): { logger: Logger; reconnects: () => number } {
  let n = 0;
  const logger: Logger = {
    debug() {}, warn() {}, error() {},
    info(msg) { if (msg === 'amqp reconnected') n++; },
    child() { return logger; },
  };
  return { logger, reconnects: () => n };
}

describe('amqp reliability: durable mode under broker faults (private RabbitMQ node)', function () {
  this.timeout(240_000);
  let node: PrivateNode | undefined;

  before(async function () {
    if (!existsSync(SERVER) || !existsSync(CTL)) {
      missingPrerequisite(this, `RabbitMQ server scripts not found at ${SERVER}; the test starts its own node (apt-get install rabbitmq-server)`);
    }
    node = await PrivateNode.start();
  });
  after(async () => { await node?.stop(); });

  /**
   * Streams MESSAGES durable messages through a consumer group with dedupe while `fault` runs
   * once `faultAfter` messages arrived; returns what the handler saw.
   */
  async function stream(fault: (received: () => number) => Promise<void>) {
    const exchange = `sbrel-${randomUUID().slice(0, 8)}`;
    const group = `rel-${randomUUID().slice(0, 8)}`;
    const subLog = reconnectCounter(); const pubLog = reconnectCounter();
    const subT = new AmqpTransport({ url: node!.url, exchange, durable: true, logger: subLog.logger, reconnect: { maxDelayMs: 1000 } });
    const pubT = new AmqpTransport({ url: node!.url, exchange, durable: true, logger: pubLog.logger, reconnect: { maxDelayMs: 1000 } });
    const sub = new Bus({ service: 'rel-sub', transport: subT, metrics: false, logger: silentLogger });
    const pub = new Bus({ service: 'rel-pub', transport: pubT, metrics: false, logger: silentLogger, maxPendingPublishes: 4000 });
    const seen = new Uint8Array(MESSAGES);
    let unique = 0; let handled = 0; let duplicates = 0;
    try {
      await sub.subscribe('rel.stream', async (m) => {
        handled++;
        const i = (m.data as { i: number }).i;
        if (seen[i] === 0) { seen[i] = 1; unique++; }
      }, { group, maxInFlight: 64, middleware: [dedupe({ window: 2 * MESSAGES, onDuplicate: () => { duplicates++; } })] });

      const faults = fault(() => unique);
      let failed: unknown;
      const publishing = (async () => {
        const window: Promise<unknown>[] = [];
        for (let i = 0; i < MESSAGES; i++) {
          window.push(pub.publish('rel.stream', { i, pad: 'x'.repeat(100) }, { id: `rel-${i}` }).catch((e) => { failed ??= e; }));
          if (window.length >= 500) await Promise.all(window.splice(0));
        }
        await Promise.all(window);
      })();
      await Promise.all([publishing, faults]);
      expect(failed, 'every publish resolved').to.equal(undefined);
      // Whatever is still missing after this is reported below, message by message.
      await waitFor(() => unique >= MESSAGES, { timeoutMs: 120_000, what: `${MESSAGES} messages` }).catch(() => undefined);
      await sleep(500); // late redeliveries, if any, must be caught by dedupe
      const missing: number[] = [];
      for (let i = 0; i < MESSAGES && missing.length < 10; i++) if (seen[i] === 0) missing.push(i);
      return { unique, handled, duplicates, missing, subReconnects: subLog.reconnects(), pubReconnects: pubLog.reconnects() };
    } finally {
      await Promise.all([sub.stop(), pub.stop()]);
      const admin = new AmqpTransport({ url: node!.url, exchange });
      await admin.connect().then(() => admin.deleteTopology(subT.groupQueues)).catch(() => {});
      await admin.close();
    }
  }

  it('amqp reliability - loses nothing across two forced connection closes (20,000 messages, dedupe removes duplicates)', async () => {
    const r = await stream(async (received) => {
      await waitFor(() => received() >= 4000, { timeoutMs: 60_000, what: '4000 messages' });
      await node!.ctl('close_all_connections', 'signalbus reliability test: first forced close');
      await waitFor(() => received() >= 12_000, { timeoutMs: 60_000, what: '12,000 messages' });
      await node!.ctl('close_all_connections', 'signalbus reliability test: second forced close');
    });
    console.log(`      closes: unique ${r.unique}, handled ${r.handled}, duplicates removed ${r.duplicates}, reconnects sub ${r.subReconnects} pub ${r.pubReconnects}`);
    expect(r.missing, 'lost messages').to.deep.equal([]);
    expect(r.unique).to.equal(MESSAGES);
    expect(r.handled, 'no duplicate reached the handler').to.equal(MESSAGES);
    expect(r.subReconnects).to.be.at.least(2);
    expect(r.pubReconnects).to.be.at.least(2);
  });

  it('amqp reliability - loses nothing across a broker stop_app/start_app (20,000 messages, dedupe removes duplicates)', async () => {
    const r = await stream(async (received) => {
      await waitFor(() => received() >= 5000, { timeoutMs: 60_000, what: '5000 messages' });
      try {
        await node!.ctl('stop_app');
        await sleep(1500);
      } finally {
        await node!.ctl('start_app');
      }
    });
    console.log(`      restart: unique ${r.unique}, handled ${r.handled}, duplicates removed ${r.duplicates}, reconnects sub ${r.subReconnects} pub ${r.pubReconnects}`);
    expect(r.missing, 'lost messages').to.deep.equal([]);
    expect(r.unique).to.equal(MESSAGES);
    expect(r.handled, 'no duplicate reached the handler').to.equal(MESSAGES);
    expect(r.subReconnects).to.be.at.least(1);
    expect(r.pubReconnects).to.be.at.least(1);
  });
});
