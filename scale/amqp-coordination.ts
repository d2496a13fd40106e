import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Channel, ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { OptionsInvalidError, reconnectDelayMs, validateSubject, type Logger, type SignalbusError } from '../core/index.js';
import { CE_HEADER_PREFIX, SUBJECT_HEADER } from '../transports/amqp/binding.js';
import { amqpConnectError, openAmqpConnection } from '../transports/amqp/connect.js';
import { amqpOptionsFromUrl, connectTarget, resolveAmqpOptions, type AmqpConnectTarget, type ResolvedAmqpOptions } from '../transports/amqp/options.js';
import { CoordinationUnavailableError } from './errors.js';

/** CloudEvent type of the messages `probe()` sends into a partition queue. */
export const PROBE_TYPE = 'signalbus.scale.probe';

/**
 * A partition's checkpoint as the single-active-consumer owner saves it. `epoch` grows with every
 * change of owner (the fencing token), `seq` with every save of one owner.
 */
export interface SacCheckpoint {
  epoch: number;
  seq: number;
  owner: string;
  savedAt: number;
  state: unknown;
  /** Ids of the inputs already taken into `state` (replayed copies are skipped). */
  ids: string[];
}

export interface AmqpCoordinationOptions {
  /** `amqp://user:password@host:port/vhost` or `amqps://…`, as the transport takes it; its transport parameters (`?durable=1`, …) are ignored, TLS ones used. */
  url: string;
  /** Prefix of what is declared: fanout exchange `<name>.members`, quorum queues `<name>.ckpt.<checkpoint>`. */
  name: string;
  /** A member is dropped when no heartbeat of it came for this long, ms. Default 5000. */
  memberTtlMs?: number;
  /** Time between heartbeats, ms. Default memberTtlMs / 4. */
  heartbeatMs?: number;
  /** Where a lost connection, reconnects and unreadable messages are logged. Default: silent. */
  logger?: Logger;
  /** Time allowed for one connect (TCP/TLS + AMQP handshake), ms. Default: the URL's `connectTimeoutMs`, else 5000. */
  connectTimeoutMs?: number;
}

/** One member's place in a service group, from `AmqpCoordination.join`. */
export interface Membership {
  readonly group: string;
  readonly member: string;
  /** Live members of the group, this one included (until it left), sorted: the input of `rendezvousOwner`. */
  members(): string[];
  /** The `info` a live member sent last (this member: its own current info), else undefined. */
  infoOf(member: string): unknown;
  /** Stops the heartbeats and tells the others, who drop this member at once. Never rejects; idempotent. */
  leave(): Promise<void>;
}

/** A member seen by `AmqpCoordination.observe`. */
export interface ObservedMember { group: string; member: string; info: unknown }

const DEFAULT_MEMBER_TTL_MS = 5000;
/** How long `open()` keeps trying while the broker refuses connections (it may be starting), ms. */
const STARTUP_RETRY_MS = 30_000;
/** A load takes at most this many messages (the queue keeps 8; saves landing during the load add some). */
const MAX_LOAD_MESSAGES = 32;
/** Checkpoints a queue keeps (`x-max-length`, dropping the oldest). */
const KEPT_CHECKPOINTS = 8;
/** Longest a load waits for the messages it read to be back in their queue, ms. */
const RETURN_WAIT_MS = 2000;
/** How long a leave waits for the broker's confirm before giving up (the others then wait for the TTL), ms. */
const LEAVE_CONFIRM_MS = 2000;
/**
 * Checkpoint queue arguments. Every load returns what it read (channel close), which a quorum queue
 * counts as a delivery; RabbitMQ 4 drops a message after 20 by default, 3.10 takes -1 as "drop at
 * once" (verified on 3.10.8), so the limit is set out of reach instead of disabled.
 */
const CHECKPOINT_QUEUE: Options.AssertQueue = {
  durable: true,
  arguments: { 'x-queue-type': 'quorum', 'x-max-length': KEPT_CHECKPOINTS, 'x-overflow': 'drop-head', 'x-delivery-limit': 1_000_000_000 },
};
const NAME = /^[A-Za-z0-9_.-]+$/;
const APP_ID = 'signalbus-scale';

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return silentLogger; } };

/**
 * The checkpoint to resume from: highest `epoch`, then highest `seq`. A stale owner's late save
 * carries a lower epoch than the newer owner's, so arrival order does not matter.
 *
 * @example latestCheckpoint([{ epoch: 2, seq: 1, … }, { epoch: 1, seq: 9, … }])?.epoch // 2
 */
export function latestCheckpoint(list: readonly SacCheckpoint[]): SacCheckpoint | undefined {
  let best: SacCheckpoint | undefined;
  for (const cp of list) {
    if (!best || cp.epoch > best.epoch || (cp.epoch === best.epoch && cp.seq > best.seq)) best = cp;
  }
  return best;
}

/** The fanout exchange heartbeats of `name` go through. */
export function membersExchangeName(name: string): string { return `${name}.members`; }
/** The quorum queue that keeps the checkpoint `checkpoint` of `name`. */
export function checkpointQueueName(name: string, checkpoint: string): string { return `${name}.ckpt.${checkpoint}`; }

/** What lives and dies with one connection. */
interface Live {
  model: ChannelModel;
  /** Confirm channel for heartbeats, saves, probes and leaves. */
  pub: ConfirmChannel;
  /** Checkpoint queues declared on this connection. */
  declared: Map<string, Promise<void>>;
  /** Message ids of saves the broker returned unroutable (their queue is gone). */
  returned: Set<string>;
}

interface Seen { seenAt: number; info: unknown }

interface Heartbeat { group: string; member: string; info?: unknown; leaving?: boolean }

interface MembershipHost {
  membersOf(group: string, self: string | undefined): string[];
  infoOf(group: string, member: string): unknown;
  leave(m: JoinedMember): Promise<void>;
  log(): Logger;
}

/**
 * Scale-out coordination on RabbitMQ alone: membership of service groups by heartbeats through a
 * fanout exchange, checkpoints in quorum queues (fenced by epoch), and probes into partition
 * queues. Partition ownership itself is RabbitMQ's single active consumer. One connection; a lost
 * one is re-established in the background, during which heartbeats pause and save/load/probe
 * reject with `CoordinationUnavailableError`. See scale/README.md.
 *
 * @example
 * const coord = await AmqpCoordination.open({ url: 'amqp://guest:guest@127.0.0.1:5672', name: 'iot' });
 * const m = coord.join('iot.aggregate', 'host-1', () => ({ pid: process.pid }));
 * const mine = [...Array(16).keys()].filter((p) => rendezvousOwner(p, m.members()) === 'host-1');
 * await coord.saveCheckpoint('iot.aggregate.3', { epoch: 4, seq: 1, owner: 'host-1', savedAt: Date.now(), state, ids });
 * await coord.close();
 */
export class AmqpCoordination {
  readonly name: string;
  readonly memberTtlMs: number;
  readonly heartbeatMs: number;
  private readonly exchange: string;
  private readonly log: Logger;
  private live?: Live;
  private closing?: Promise<void>;
  private reconnectAttempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  /** group → member → last heartbeat (monotonic ms) and info. */
  private readonly seen = new Map<string, Map<string, Seen>>();
  private readonly joined = new Set<JoinedMember>();

  private constructor(
    options: Required<Pick<AmqpCoordinationOptions, 'name' | 'memberTtlMs' | 'heartbeatMs'>> & { logger: Logger },
    private readonly amqp: ResolvedAmqpOptions,
    private readonly target: AmqpConnectTarget,
  ) {
    this.name = options.name;
    this.memberTtlMs = options.memberTtlMs;
    this.heartbeatMs = options.heartbeatMs;
    this.exchange = membersExchangeName(this.name);
    this.log = options.logger;
  }

  /** Connects (waiting up to 30 s while the broker refuses connections), declares the exchange and this instance's heartbeat queue. */
  static async open(options: AmqpCoordinationOptions): Promise<AmqpCoordination> {
    const name = options.name;
    if (typeof name !== 'string' || !NAME.test(name) || name.length > 200 || name.startsWith('amq.')) {
      throw new OptionsInvalidError(`name must be 1-200 letters, digits, ".", "_" or "-" and not start with "amq.", got ${String(name)}`, { details: { field: 'name' } });
    }
    const memberTtlMs = options.memberTtlMs ?? DEFAULT_MEMBER_TTL_MS;
    if (!Number.isInteger(memberTtlMs) || memberTtlMs < 100) {
      throw new OptionsInvalidError(`memberTtlMs must be an integer >= 100, got ${memberTtlMs}`, { details: { field: 'memberTtlMs' } });
    }
    const heartbeatMs = options.heartbeatMs ?? Math.floor(memberTtlMs / 4);
    if (!Number.isInteger(heartbeatMs) || heartbeatMs < 10 || heartbeatMs >= memberTtlMs) {
      throw new OptionsInvalidError(`heartbeatMs must be an integer from 10 to below memberTtlMs (${memberTtlMs}), got ${heartbeatMs}`, { details: { field: 'heartbeatMs' } });
    }
    let url: URL;
    try { url = new URL(options.url); } catch { throw new OptionsInvalidError(`url is not a URL: ${String(options.url)}`, { details: { field: 'url' } }); }
    // The pipeline's transport URL: its transport parameters are dropped, its TLS ones kept.
    const amqp = resolveAmqpOptions({
      ...amqpOptionsFromUrl(url), connectionName: `${name}-coordination`,
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    });
    const coord = new AmqpCoordination({ name, memberTtlMs, heartbeatMs, logger: options.logger ?? silentLogger }, amqp, connectTarget(amqp.url));
    await coord.connectAtStartup();
    return coord;
  }

  /**
   * Who is alive in which group, without joining: connects, listens to heartbeats for `waitMs`
   * and closes. A member heard from and not gone (left or past the TTL) is listed once, with its
   * latest info; sorted by group, then member.
   *
   * @example await AmqpCoordination.observe('amqp://guest:guest@127.0.0.1:5672', 'iot', 3000)
   */
  static async observe(url: string, name: string, waitMs: number): Promise<ObservedMember[]> {
    const coord = await AmqpCoordination.open({ url, name });
    try {
      await sleep(waitMs);
      const out: ObservedMember[] = [];
      for (const [group, members] of coord.seen) {
        for (const [member, s] of members) if (coord.alive(s)) out.push({ group, member, info: s.info });
      }
      return out.sort((a, b) => compare(a.group, b.group) || compare(a.member, b.member));
    } finally {
      await coord.close();
    }
  }

  /**
   * Starts heartbeats `{ group, member, info: info?.() }` every `heartbeatMs` (the first at once).
   * Member ids must be unique among running instances of the group.
   */
  join(group: string, member: string, info?: () => unknown): Membership {
    if (this.closing) throw new CoordinationUnavailableError(`joining ${group} as ${member}: this coordination is closed`);
    requireText('group', group);
    requireText('member', member);
    for (const m of this.joined) {
      if (m.group === group && m.member === member) throw new OptionsInvalidError(`member ${member} already joined group ${group} here`, { details: { field: 'member' } });
    }
    const joined = new JoinedMember(group, member, info, this.host);
    this.joined.add(joined);
    this.sendHeartbeat(joined);
    return joined;
  }

  /** Resolves once the broker confirmed the save (persistent, in `<name>.ckpt.<checkpointName>`). */
  async saveCheckpoint(checkpointName: string, cp: SacCheckpoint): Promise<void> {
    const queue = this.checkpointQueue(checkpointName);
    if (!Number.isFinite(cp?.epoch) || !Number.isFinite(cp?.seq)) {
      throw new OptionsInvalidError(`checkpoint ${checkpointName}: epoch and seq must be numbers`, { details: { field: 'checkpoint' } });
    }
    const live = this.requireLive(`saving checkpoint ${checkpointName}`);
    await this.declareCheckpointQueue(live, queue);
    const messageId = randomUUID();
    try {
      await confirmed(live.pub, '', queue, Buffer.from(JSON.stringify(cp)), {
        persistent: true, mandatory: true, messageId, appId: APP_ID, contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000),
      });
    } catch (err) {
      throw new CoordinationUnavailableError(`saving checkpoint ${checkpointName}: the broker did not confirm it`, { cause: err, details: { queue } });
    }
    // A return comes before the confirm: the queue was deleted since it was declared here.
    if (live.returned.delete(messageId)) {
      live.declared.delete(queue);
      throw new CoordinationUnavailableError(`saving checkpoint ${checkpointName}: queue ${queue} is gone; declared again on the next save`, { details: { queue } });
    }
  }

  /**
   * The checkpoint with the highest (epoch, seq) among those kept, or undefined when none was
   * saved. Reads every message unacknowledged and closes the channel, so all stay in the queue.
   */
  async loadCheckpoint(checkpointName: string): Promise<SacCheckpoint | undefined> {
    const queue = this.checkpointQueue(checkpointName);
    const live = this.requireLive(`loading checkpoint ${checkpointName}`);
    let control: Channel | undefined;
    let reader: Channel | undefined;
    try {
      control = await this.loadChannel(live, queue);
      await control.assertQueue(queue, CHECKPOINT_QUEUE);
      live.declared.set(queue, Promise.resolve());
      reader = await this.loadChannel(live, queue);
      const found: SacCheckpoint[] = [];
      let taken = 0;
      for (; taken < MAX_LOAD_MESSAGES; taken++) {
        const m = await reader.get(queue, { noAck: false });
        if (m === false) break;
        const cp = parseCheckpoint(m.content);
        if (cp) found.push(cp);
        else this.log.warn('coordination: skipping a checkpoint message that does not parse', { queue, messageId: m.properties.messageId, bytes: m.content.length });
      }
      // Not acked: closing the reader puts every message back for the next load.
      const closing = reader;
      reader = undefined;
      await closing.close();
      await this.untilReturned(control, queue, Math.min(taken, KEPT_CHECKPOINTS));
      return latestCheckpoint(found);
    } catch (err) {
      throw queueError(err, `loading checkpoint ${checkpointName}`, queue);
    } finally {
      await reader?.close().catch(() => {});
      await control?.close().catch(() => {});
    }
  }

  /**
   * Sends a `PROBE_TYPE` CloudEvent with `subject` straight into `queue` (default exchange);
   * resolves when confirmed. A queue that does not exist drops it.
   */
  async probe(queue: string, subject: string, member: string): Promise<void> {
    requireText('queue', queue);
    validateSubject(subject);
    const live = this.requireLive(`probing ${queue}`);
    try {
      await confirmed(live.pub, '', queue, Buffer.from(JSON.stringify({ member })), {
        messageId: randomUUID(), type: PROBE_TYPE, appId: APP_ID, contentType: 'application/json', deliveryMode: 2, mandatory: false,
        timestamp: Math.floor(Date.now() / 1000),
        headers: { [`${CE_HEADER_PREFIX}specversion`]: '1.0', [SUBJECT_HEADER]: subject },
      });
    } catch (err) {
      throw new CoordinationUnavailableError(`probing ${queue}: the broker did not confirm it`, { cause: err, details: { queue } });
    }
  }

  /** Leaves every membership (the others drop them at once), then closes the connection. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    await Promise.all([...this.joined].map((m) => m.leave()));
    clearInterval(this.heartbeatTimer);
    const live = this.live;
    this.live = undefined;
    if (live) await live.model.close().catch(() => {});
  }

  // ------------------------------------------------------------------ membership (for JoinedMember)

  /** What a JoinedMember may ask of its coordination. */
  private readonly host: MembershipHost = {
    membersOf: (group, self) => this.membersOf(group, self),
    infoOf: (group, member) => this.infoOf(group, member),
    leave: (m) => this.leave(m),
    log: () => this.log,
  };

  private membersOf(group: string, self: string | undefined): string[] {
    const out: string[] = [];
    const members = this.seen.get(group);
    if (members) for (const [member, s] of members) if (member !== self && this.alive(s)) out.push(member);
    if (self !== undefined) out.push(self);
    return out.sort(compare);
  }

  private infoOf(group: string, member: string): unknown {
    const s = this.seen.get(group)?.get(member);
    return s && this.alive(s) ? s.info : undefined;
  }

  private async leave(m: JoinedMember): Promise<void> {
    if (!this.joined.delete(m)) return;
    this.seen.get(m.group)?.delete(m.member);
    const live = this.live;
    if (!live) return; // the others drop it after the TTL
    const body: Heartbeat = { group: m.group, member: m.member, leaving: true };
    try {
      await withTimeout(confirmed(live.pub, this.exchange, '', Buffer.from(JSON.stringify(body)), { appId: APP_ID, contentType: 'application/json' }), LEAVE_CONFIRM_MS);
    } catch (err) {
      this.log.warn('coordination: the leave message was not confirmed; the others drop this member after the TTL', { group: m.group, member: m.member, err });
    }
  }

  // ------------------------------------------------------------------ internals

  private async connectAtStartup(): Promise<void> {
    const deadline = Date.now() + STARTUP_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        this.adopt(await this.connectOnce());
        this.heartbeatTimer = setInterval(() => this.beat(), this.heartbeatMs);
        return;
      } catch (err) {
        const delay = reconnectDelayMs(this.amqp.reconnect, attempt);
        if ((err as { code?: unknown }).code !== 'ECONNREFUSED' || Date.now() + delay > deadline) throw amqpConnectError(err, this.target);
        this.log.warn('coordination: RabbitMQ refuses connections; trying again', { url: this.target.display, attempt });
        await sleep(delay);
      }
    }
  }

  /** One connection: a confirm channel, the members exchange, an exclusive server-named queue bound to it and consumed. */
  private async connectOnce(): Promise<Live> {
    const log = this.log;
    const model = await openAmqpConnection(this.amqp, this.target);
    model.on('error', (err: Error) => log.warn('coordination: connection error', { err }));
    model.on('blocked', (reason: string) => log.warn('coordination: connection blocked by the broker (resource alarm)', { reason }));
    try {
      const pub = await model.createConfirmChannel();
      pub.on('error', (err: Error) => log.warn('coordination: publish channel error', { err }));
      const sub = await model.createChannel();
      sub.on('error', (err: Error) => log.warn('coordination: heartbeat channel error', { err }));
      await sub.assertExchange(this.exchange, 'fanout', { durable: true });
      const { queue } = await sub.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await sub.bindQueue(queue, this.exchange, '');
      await sub.consume(queue, (m) => { if (m) this.onHeartbeat(m.content); }, { noAck: true });
      // The consumer ending (queue deleted, channel error) stops heartbeats coming in: start over.
      sub.on('close', () => { model.close().catch(() => {}); });
      return { model, pub, declared: new Map(), returned: new Set() };
    } catch (err) {
      await model.close().catch(() => {});
      throw err;
    }
  }

  private alive(s: Seen): boolean {
    return performance.now() - s.seenAt < this.memberTtlMs;
  }

  private beat(): void {
    for (const m of this.joined) this.sendHeartbeat(m);
    // Forget members gone quiet, so the table does not grow with every restart.
    for (const [group, members] of this.seen) {
      for (const [member, s] of members) if (!this.alive(s)) members.delete(member);
      if (members.size === 0) this.seen.delete(group);
    }
  }

  private sendHeartbeat(m: JoinedMember): void {
    const live = this.live;
    if (!live) return; // skipped while down; the TTL covers a short outage
    const body: Heartbeat = { group: m.group, member: m.member, info: m.currentInfo() };
    try {
      live.pub.publish(this.exchange, '', Buffer.from(JSON.stringify(body)), { appId: APP_ID, contentType: 'application/json' });
    } catch (err) {
      this.log.debug('coordination: heartbeat not sent', { group: m.group, member: m.member, err });
    }
  }

  private onHeartbeat(content: Buffer): void {
    const h = parseHeartbeat(content);
    if (!h) {
      this.log.warn('coordination: ignoring a heartbeat that does not parse', { exchange: this.exchange, bytes: content.length });
      return;
    }
    let members = this.seen.get(h.group);
    if (h.leaving === true) {
      members?.delete(h.member);
      return;
    }
    if (!members) this.seen.set(h.group, (members = new Map()));
    members.set(h.member, { seenAt: performance.now(), info: h.info });
  }

  /** Takes a fresh connection into use: heartbeats flow in, a lost connection or channel starts a reconnect. */
  private adopt(live: Live): void {
    this.live = live;
    live.model.on('close', (err?: Error) => this.connectionLost(live, err));
    // A channel the broker closed (e.g. the exchange was deleted) while the connection lives: start over.
    live.pub.on('close', () => { if (this.live === live) live.model.close().catch(() => {}); });
    live.pub.on('return', (msg: { properties: { messageId?: string } }) => { if (msg.properties.messageId) live.returned.add(msg.properties.messageId); });
  }

  private connectionLost(live: Live, err: Error | undefined): void {
    if (this.live !== live) return;
    this.live = undefined;
    if (this.closing) return;
    this.log.warn('coordination: connection to RabbitMQ lost; reconnecting', { url: this.target.display, err });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const attempt = ++this.reconnectAttempt;
    this.reconnectTimer = setTimeout(() => {
      if (this.closing) return;
      this.connectOnce().then((live) => {
        if (this.closing) { live.model.close().catch(() => {}); return; }
        this.reconnectAttempt = 0;
        this.adopt(live);
        this.log.info('coordination: reconnected', { url: this.target.display, attempt });
        for (const m of this.joined) this.sendHeartbeat(m);
      }, (err) => {
        this.log.warn('coordination: reconnect failed', { url: this.target.display, attempt, err });
        if (!this.closing) this.scheduleReconnect();
      });
    }, reconnectDelayMs(this.amqp.reconnect, attempt));
  }

  private requireLive(what: string): Live {
    if (this.closing) throw new CoordinationUnavailableError(`${what}: this coordination is closed`);
    if (!this.live) throw new CoordinationUnavailableError(`${what}: the connection to RabbitMQ is down (reconnecting)`, { details: { url: this.target.display } });
    return this.live;
  }

  private async loadChannel(live: Live, queue: string): Promise<Channel> {
    const ch = await live.model.createChannel();
    ch.on('error', (err: Error) => this.log.warn('coordination: checkpoint load channel error', { queue, err }));
    return ch;
  }

  /**
   * RabbitMQ answers a channel close before the quorum queue has taken that channel's unacked
   * messages back (seen on 3.10.8 now and then, for ~20 ms): a load right after would find the
   * queue empty. So a load ends only once what it read is ready again.
   */
  private async untilReturned(ch: Channel, queue: string, count: number): Promise<void> {
    const deadline = performance.now() + RETURN_WAIT_MS;
    while ((await ch.assertQueue(queue, CHECKPOINT_QUEUE)).messageCount < count) {
      if (performance.now() > deadline) {
        this.log.warn('coordination: checkpoint messages are not back in their queue yet (another load at the same time?)', { queue, count });
        return;
      }
      await sleep(10);
    }
  }

  private checkpointQueue(checkpointName: string): string {
    const queue = checkpointQueueName(this.name, checkpointName);
    if (typeof checkpointName !== 'string' || !NAME.test(checkpointName) || Buffer.byteLength(queue) > 255) {
      throw new OptionsInvalidError(`checkpoint name must be letters, digits, ".", "_" or "-" (queue name at most 255 bytes), got ${String(checkpointName)}`, { details: { field: 'checkpointName' } });
    }
    return queue;
  }

  /** Declares a checkpoint queue once per connection, on a channel of its own (a refusal closes only that). */
  private declareCheckpointQueue(live: Live, queue: string): Promise<void> {
    let p = live.declared.get(queue);
    if (!p) {
      p = (async () => {
        let ch: Channel | undefined;
        try {
          ch = await live.model.createChannel();
          ch.on('error', (err: Error) => this.log.warn('coordination: checkpoint queue declare failed', { queue, err }));
          await ch.assertQueue(queue, CHECKPOINT_QUEUE);
        } catch (err) {
          live.declared.delete(queue);
          throw queueError(err, `declaring checkpoint queue ${queue}`, queue);
        } finally {
          await ch?.close().catch(() => {});
        }
      })();
      live.declared.set(queue, p);
    }
    return p;
  }
}

/** A member joined through an `AmqpCoordination`. */
class JoinedMember implements Membership {
  private left = false;

  constructor(
    readonly group: string,
    readonly member: string,
    private readonly info: (() => unknown) | undefined,
    private readonly host: MembershipHost,
  ) {}

  members(): string[] { return this.host.membersOf(this.group, this.left ? undefined : this.member); }

  infoOf(member: string): unknown {
    if (member === this.member && !this.left) return this.currentInfo();
    return this.host.infoOf(this.group, member);
  }

  leave(): Promise<void> { this.left = true; return this.host.leave(this); }

  /** What `info()` says now; a throwing callback costs the heartbeat its info, not the heartbeat. */
  currentInfo(): unknown {
    try {
      return this.info?.();
    } catch (err) {
      this.host.log().warn('coordination: the info callback threw; heartbeat sent without info', { group: this.group, member: this.member, err });
      return undefined;
    }
  }
}

function parseHeartbeat(content: Buffer): Heartbeat | undefined {
  try {
    const h = JSON.parse(content.toString('utf8')) as Heartbeat;
    return h && typeof h.group === 'string' && typeof h.member === 'string' && h.group !== '' && h.member !== '' ? h : undefined;
  } catch {
    return undefined;
  }
}

function parseCheckpoint(content: Buffer): SacCheckpoint | undefined {
  try {
    const cp = JSON.parse(content.toString('utf8')) as SacCheckpoint;
    if (!cp || !Number.isFinite(cp.epoch) || !Number.isFinite(cp.seq) || typeof cp.owner !== 'string' || !Number.isFinite(cp.savedAt)) return undefined;
    if (!Array.isArray(cp.ids) || !cp.ids.every((id) => typeof id === 'string')) return undefined;
    return cp;
  } catch {
    return undefined;
  }
}

/** A publish on a confirm channel, resolved on the broker's ack. */
function confirmed(ch: ConfirmChannel, exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      ch.publish(exchange, routingKey, content, options, (err) => (err ? reject(err) : resolve()));
    } catch (err) {
      reject(err); // the channel is already closed
    }
  });
}

/** A queue declare/get failure: a queue of other arguments is the user's to fix, anything else passes. */
function queueError(err: unknown, what: string, queue: string): SignalbusError {
  const text = err instanceof Error ? err.message : String(err);
  if (/PRECONDITION_FAILED|\b406\b/.test(text)) {
    return new OptionsInvalidError(`${what}: queue ${queue} exists with other arguments (${text}); delete it or choose another name`, { cause: err, details: { field: 'name', queue } });
  }
  return new CoordinationUnavailableError(`${what}: ${text}`, { cause: err, details: { queue } });
}

function requireText(field: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') throw new OptionsInvalidError(`${field} must be a non-empty string`, { details: { field } });
}

function compare(a: string, b: string): number { return a < b ? -1 : a > b ? 1 : 0; }

function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no confirm within ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
