/**
 * The one acceptance suite every transport runs. A transport registers by calling
 * `runConformance({ name, create })` from a `test/conformance/<name>.test.ts` file. Every case
 * runs on every transport: where a capability is declared absent, the case checks that the Bus
 * refuses to use it with CapabilityMissingError (or, for durability, checks what still holds).
 * The one exception is the broker-restart case: it needs a broker the registration owns
 * (`restart`), which a transport declaring `durable` must give and only it may; the case is
 * registered where it is given and not otherwise (nothing is skipped).
 *
 * The suite holds a transport to its contract: flags that agree with its methods, `subscribe()`
 * resolving only once the subscription is live (no case waits for a subscription to settle),
 * and `close()` idempotent.
 *
 * @example
 * runConformance({ name: 'memory', create: () => new MemoryTransport({ broker }) });
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  Bus, CapabilityMissingError, createEnvelope, type BusOptions, type Envelope, type InboundMessage, type Subscription, type Transport,
  type TransportCapabilities,
} from '../../core/index.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import { dropWarnings, intakeDropped, warningLog } from '../helpers/intake-watch.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { sleep, waitFor } from '../helpers/wait.js';

export interface ConformanceTarget {
  /** Suite title, e.g. `nats-jetstream`. */
  name: string;
  /** A new transport, not yet connected, talking to the same broker as every other one it makes. */
  create(): Transport | Promise<Transport>;
  /** Called once before the suite (e.g. fail fast when the broker is unreachable). */
  before?(): Promise<void>;
  /** Called once after the suite (delete streams, queues). */
  after?(): Promise<void>;
  /** Multiplies waiting times for slow brokers. Default 1. */
  timeScale?: number;
  /** Messages in the stress case. Default 10,000. */
  stressMessages?: number;
  /**
   * For the broker-restart case: a broker this registration owns (its own process, port and
   * storage), so the suite may restart it. Required where the transport declares `durable`, and
   * only there; the case is registered where it is given.
   */
  restart?: BrokerRestartTarget;
  /**
   * The transport declares `capabilities.replay`: registers the replay case (which also checks
   * the declaration). Where absent, the first case checks the transport does not declare it.
   */
  replay?: boolean;
}

/** A broker process the registering test owns, and transports on it. */
export interface BrokerRestartTarget {
  /** The broker's executable: where it is missing the case is skipped, saying so (under CI=true it fails). */
  executable: string;
  /** Starts the broker (once, before the case); resolves when it accepts connections. */
  start(): Promise<void>;
  /** A new transport on that broker, not yet connected, with the same options as `create` otherwise. */
  create(): Transport | Promise<Transport>;
  /** Stops the broker and starts it again on the same port and storage; resolves when it accepts connections. */
  restart(): Promise<void>;
  /** Stops the broker and removes its files. */
  stop(): Promise<void>;
  /** Messages in the stream. Default 2000. */
  messages?: number;
  /**
   * Why messages in flight across the restart may be lost by design (e.g. transient messages
   * without confirms). The case then asserts the weaker promise: the transport reconnects and
   * everything published after the restart arrives. Absent: nothing published may be lost.
   */
  losesInFlight?: string;
  /**
   * Subscribe in a consumer group, where a broker keeps a durable subscription's messages.
   * Default: where the transport has groups.
   */
  group?: boolean;
}

type Received = Envelope & { data?: unknown };

/** A capability the transport declares absent is refused by the Bus, with the typed error. */
async function expectCapabilityMissing(attempt: Promise<unknown>): Promise<void> {
  const err = await attempt.then(() => undefined, (e: unknown) => e);
  expect(err, 'the Bus should refuse what the transport cannot do').to.be.instanceOf(CapabilityMissingError);
  expect((err as CapabilityMissingError).code).to.equal('SB_ERR_TRANSPORT_CAPABILITY');
}

export function runConformance(target: ConformanceTarget): void {
  const scale = target.timeScale ?? 1;
  const settle = 2000 * scale;

  describe(`conformance: ${target.name}`, function () {
    this.timeout(60_000 * scale);
    let caps: TransportCapabilities;
    const buses: Bus[] = [];
    let prefix = '';

    const bus = async (name: string, extra: Partial<BusOptions> = {}, create: () => Transport | Promise<Transport> = target.create) => {
      const b = new Bus({ service: `${name}@conf`, transport: await create(), metrics: false, logger: silentLogger, ...extra });
      buses.push(b);
      await b.start();
      return b;
    };

    before(async () => {
      await target.before?.();
      const probe = await target.create();
      caps = probe.capabilities;
      await probe.close();
    });
    after(async () => { await target.after?.(); });
    beforeEach(() => { prefix = `conf.${randomUUID().slice(0, 8)}`; });
    afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

    it(`${target.name} - declares the capabilities its methods and messages have`, async () => {
      // The Bus goes by the methods (`request`, `nak`), the suite and users by the flags: they must agree.
      const sender = await target.create();
      const receiver = await target.create();
      try {
        expect(typeof sender.request === 'function', `capabilities.requestReply is ${caps.requestReply}, request() is ${typeof sender.request}`)
          .to.equal(caps.requestReply);
        // A durability claim is proven by the broker-restart case, which needs a broker the registration owns.
        expect(target.restart !== undefined, `capabilities.durable is ${caps.durable}: a durable transport's registration gives \`restart\` (a broker it owns), a non-durable one none`)
          .to.equal(caps.durable);
        await sender.connect();
        await receiver.connect();
        const got: InboundMessage[] = [];
        // Grouped where the transport has groups: a group is where a broker keeps a message to redeliver.
        const sub = await receiver.subscribe(`${prefix}.caps`, (m) => { got.push(m); return m.ack(); },
          caps.queueGroups ? { group: `${prefix}-caps`, maxInFlight: 10 } : { maxInFlight: 10 });
        expect(typeof sub.commit === 'function', `capabilities.holdAcks is ${caps.holdAcks}, a subscription's commit is ${typeof sub.commit}`)
          .to.equal(caps.holdAcks === true);
        const data = caps.encodesData ? new TextEncoder().encode('{"n":1}') : { n: 1 };
        await sender.publish(`${prefix}.caps`, createEnvelope({ source: 'urn:conformance', type: 'conf.caps', data, datacontenttype: 'application/json' }));
        await waitFor(() => got.length === 1, { timeoutMs: settle, what: 'the message' });
        const m = got[0]!;
        expect(typeof m.nak === 'function', `capabilities.redelivery is ${caps.redelivery}, a delivered message's nak is ${typeof m.nak}`)
          .to.equal(caps.redelivery);
        expect(caps.maxMessageBytes, 'capabilities.maxMessageBytes').to.be.a('number').and.greaterThan(0);
        // The replay case is registered from the registration's `replay`: it must agree with the flag.
        expect(caps.replay === true, `capabilities.replay is ${caps.replay}, the registration's replay is ${target.replay}`).to.equal(target.replay === true);
        if (caps.replay) expect(m.position, 'a delivery\'s position where capabilities.replay').to.be.a('number');
      } finally {
        await Promise.all([sender.close(), receiver.close()]);
      }
    });

    it(`${target.name} - subscribe resolves once the subscription is live: what is published right after arrives`, async () => {
      const pub = await bus('pub');
      const sub = await bus('sub');
      // A fresh subscription each round, each published to at once: a subscription that is not yet
      // live when subscribe() resolves loses the first message now and then, so try more than once.
      for (let round = 0; round < 10; round++) {
        const got: unknown[] = [];
        await sub.subscribe(`${prefix}.live.${round}`, async (m) => { got.push(m.data); });
        await pub.publish(`${prefix}.live.${round}`, round);
        await waitFor(() => got.length === 1, { timeoutMs: settle, what: `the message published right after subscribing (round ${round})` });
      }
      const n = 100;
      const got: number[] = [];
      await sub.subscribe(`${prefix}.live.burst`, async (m) => { got.push(m.data as number); }, { maxInFlight: 1 });
      for (let i = 0; i < n; i++) await pub.publish(`${prefix}.live.burst`, i);
      await waitFor(() => got.length >= n, { timeoutMs: settle * 2, what: () => `${n} messages published right after subscribing (got ${got.length})` });
      if (caps.ordered) expect(got, 'every message, in publish order').to.deep.equal([...Array(n).keys()]);
      else expect([...got].sort((a, b) => a - b), 'every message').to.deep.equal([...Array(n).keys()]);
    });

    it(`${target.name} - round-trips data and every standard header`, async () => {
      const sub = await bus('sub');
      const pub = await bus('pub');
      const got: Received[] = [];
      await sub.subscribe(`${prefix}.headers`, async (m) => { got.push(m); });
      const data = { device: 'sensor-7', temperature: 21.5, tags: ['a', 'ü'], nested: { ok: true, n: null } };
      const sent = await pub.publish(`${prefix}.headers`, data, {
        type: 'sensor.reading', partitionKey: 'sensor-7',
        headers: {
          tracestate: 'vendor=abc', tenant: 'acme', subject: 'sensor-7', dataschema: 'urn:signalbus:contract:sensor.reading:1.0.0',
          traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', correlationid: 'corr-1', causationid: 'cause-1',
          myextension: 'value with spaces, % and ünïcode',
        },
      });
      await waitFor(() => got.length === 1, { timeoutMs: settle, what: 'the message' });
      const m = got[0]!;
      expect(m.data).to.deep.equal(data);
      for (const attr of ['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'subject', 'dataschema', 'traceparent',
        'tracestate', 'correlationid', 'causationid', 'partitionkey', 'tenant', 'myextension']) {
        expect(m[attr], attr).to.equal(sent[attr]);
      }
    });

    it(`${target.name} - carries binary data unchanged`, async () => {
      const sub = await bus('sub');
      const pub = await bus('pub');
      const got: Received[] = [];
      await sub.subscribe(`${prefix}.bytes`, async (m) => { got.push(m); });
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
      await pub.publish(`${prefix}.bytes`, bytes, { type: 'blob', contentType: 'application/octet-stream' });
      await waitFor(() => got.length === 1, { timeoutMs: settle, what: 'the message' });
      expect(Buffer.from(got[0]!.data as Uint8Array).equals(Buffer.from(bytes))).to.equal(true);
    });

    it(`${target.name} - keeps subjects apart`, async () => {
      const sub = await bus('sub');
      const pub = await bus('pub');
      const a: unknown[] = []; const b: unknown[] = [];
      await sub.subscribe(`${prefix}.a`, async (m) => { a.push(m.data); });
      await sub.subscribe(`${prefix}.b`, async (m) => { b.push(m.data); });
      // The message nobody subscribed to goes first: where it leaked, it would come in before the expected ones.
      await pub.publish(`${prefix}.c`, 3);
      await pub.publish(`${prefix}.a`, 1);
      await pub.publish(`${prefix}.b`, 2);
      await waitFor(() => a.length >= 1 && b.length >= 1, { timeoutMs: settle, what: 'both messages' });
      expect(a).to.deep.equal([1]);
      expect(b).to.deep.equal([2]);
    });

    it(`${target.name} - matches * as one token and > as one or more trailing tokens`, async function () {
      const sub = await bus('sub');
      if (!caps.wildcards) return expectCapabilityMissing(sub.subscribe(`${prefix}.*.x`, async () => {}));
      const pub = await bus('pub');
      const star: string[] = []; const tail: string[] = [];
      await sub.subscribe(`${prefix}.*.x`, async (_m, ctx) => { star.push(ctx.subject); });
      await sub.subscribe(`${prefix}.w.>`, async (_m, ctx) => { tail.push(ctx.subject); });
      // Subjects the patterns must not match go first: where one leaked, it would come in before the matching ones.
      for (const s of ['a.b.x', 'a.y', 'w', 'a.x', 'b.x', 'w.1', 'w.1.2']) await pub.publish(`${prefix}.${s}`, s);
      await waitFor(() => star.length >= 2 && tail.length >= 2, { timeoutMs: settle, what: 'wildcard deliveries' });
      expect(star.map((s) => s.slice(prefix.length + 1)).sort()).to.deep.equal(['a.x', 'b.x']);
      expect(tail.map((s) => s.slice(prefix.length + 1)).sort()).to.deep.equal(['w.1', 'w.1.2']);
    });

    it(`${target.name} - gives every consumer group all messages and shares them within a group`, async function () {
      if (!caps.queueGroups) return expectCapabilityMissing((await bus('g1a')).subscribe(`${prefix}.grp`, async () => {}, { group: `${prefix}-one` }));
      const n = 200;
      const g1a: number[] = []; const g1b: number[] = []; const g2: number[] = [];
      const s1 = await bus('g1a'); const s2 = await bus('g1b'); const s3 = await bus('g2');
      await s1.subscribe(`${prefix}.grp`, async (m) => { g1a.push(m.data as number); }, { group: `${prefix}-one` });
      await s2.subscribe(`${prefix}.grp`, async (m) => { g1b.push(m.data as number); }, { group: `${prefix}-one` });
      await s3.subscribe(`${prefix}.grp`, async (m) => { g2.push(m.data as number); }, { group: `${prefix}-two` });
      const pub = await bus('pub');
      for (let i = 0; i < n; i++) await pub.publish(`${prefix}.grp`, i);
      await waitFor(() => g1a.length + g1b.length >= n && g2.length >= n, { timeoutMs: settle * 5, what: 'both groups to get everything' });
      expect([...g1a, ...g1b].sort((x, y) => x - y)).to.deep.equal([...Array(n).keys()]);
      expect(g2.slice().sort((x, y) => x - y)).to.deep.equal([...Array(n).keys()]);
      expect(g1a.length, 'member a got some').to.be.greaterThan(0);
      expect(g1b.length, 'member b got some').to.be.greaterThan(0);
    });

    it(`${target.name} - retries a throwing handler, then dead-letters a copy with dlq headers`, async () => {
      const sub = await bus('sub', { retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 } });
      const pub = await bus('pub');
      let attempts = 0;
      const dead: Received[] = [];
      await sub.subscribe(`${prefix}.fail`, async () => { attempts++; throw new Error('always fails'); }, caps.queueGroups ? { group: `${prefix}-fail` } : {});
      await sub.subscribe(`dlq.${prefix}.fail`, async (m) => { dead.push(m); });
      const sent = await pub.publish(`${prefix}.fail`, { n: 1 }, { type: 'test.fail' });
      await waitFor(() => dead.length === 1, { timeoutMs: settle * 3, what: 'the dead letter' });
      expect(attempts).to.equal(3);
      const d = dead[0]!;
      expect(d.id).to.equal(sent.id);
      expect(d.data).to.deep.equal({ n: 1 });
      expect(d.dlqreason).to.equal('SB_ERR_HANDLER_FAILED');
      expect(d.dlqmessage).to.equal('always fails');
      expect(d.dlqattempts).to.equal('3');
      expect(d.dlqsubject).to.equal(`${prefix}.fail`);
      expect(d.dlqservice).to.equal('sub@conf');
      await sub.stop(); // drains: an attempt still under way or queued would run before this resolves
      expect(attempts, 'no further attempts after dead-lettering').to.equal(3);
    });

    it(`${target.name} - succeeds on a redelivery after a failure`, async () => {
      const sub = await bus('sub', { retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 } });
      const pub = await bus('pub');
      const seen: number[] = [];
      await sub.subscribe(`${prefix}.flaky`, async (_m, ctx) => { seen.push(ctx.attempt); if (ctx.attempt === 1) throw new Error('first try fails'); },
        caps.queueGroups ? { group: `${prefix}-flaky` } : {});
      await pub.publish(`${prefix}.flaky`, 1);
      await waitFor(() => seen.length === 2, { timeoutMs: settle * 2, what: 'the retry' });
      await sub.stop(); // drains: an attempt still under way or queued would run before this resolves
      expect(seen).to.deep.equal([1, 2]);
    });

    it(`${target.name} - answers requests and times out without a reply`, async function () {
      const server = await bus('server');
      const client = await bus('client');
      if (!caps.requestReply) return expectCapabilityMissing(client.request(`${prefix}.add`, { a: 1, b: 2 }));
      await server.subscribe(`${prefix}.add`, async (m) => { const d = m.data as { a: number; b: number }; return { sum: d.a + d.b }; });
      await server.subscribe(`${prefix}.slow`, async () => { await sleep(2000 * scale); return 'late'; });
      await server.subscribe(`${prefix}.bad`, async () => { throw Object.assign(new Error('nope'), {}); });
      const reply = await client.request(`${prefix}.add`, { a: 2, b: 3 }, { timeoutMs: 3000 * scale });
      expect(reply.data).to.deep.equal({ sum: 5 });
      const err = await client.request(`${prefix}.slow`, {}, { timeoutMs: 200 }).then(() => null, (e) => e);
      expect(err?.code).to.equal('SB_ERR_REQUEST_TIMEOUT');
      const remote = await client.request(`${prefix}.bad`, {}, { timeoutMs: 3000 * scale }).then(() => null, (e) => e);
      expect(remote?.code).to.equal('SB_ERR_HANDLER_REMOTE');
      expect(remote?.remoteCode).to.equal('SB_ERR_HANDLER_FAILED');
    });

    it(`${target.name} - keeps per-key order under concurrency`, async () => {
      const sub = await bus('sub');
      const pub = await bus('pub');
      const keys = ['k1', 'k2', 'k3', 'k4'];
      const per = 50;
      const seen = new Map<string, number[]>(keys.map((k) => [k, []]));
      let running = 0; let maxRunning = 0;
      await sub.subscribe(`${prefix}.ord`, async (m) => {
        running++; maxRunning = Math.max(maxRunning, running);
        await sleep(Math.random() * 3);
        seen.get(m.partitionkey!)!.push((m.data as { i: number }).i);
        running--;
      }, { ordered: true, maxInFlight: 4 });
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < per; i++) for (const k of keys) sends.push(pub.publish(`${prefix}.ord`, { i }, { partitionKey: k }));
      await Promise.all(sends);
      await waitFor(() => [...seen.values()].every((v) => v.length === per), { timeoutMs: settle * 5, what: 'all ordered messages' });
      for (const k of keys) expect(seen.get(k), k).to.deep.equal([...Array(per).keys()]);
      expect(maxRunning, 'different keys ran concurrently').to.be.greaterThan(1);
    });

    it(`${target.name} - resumes a subscriber that is closed and reopened, keeping what was published while away if durable`, async () => {
      // Grouped where the transport has groups: a durable group is where a broker keeps messages.
      const options = caps.queueGroups ? { group: `${prefix}-durable` } : {};
      const got: number[] = [];
      const first = await bus('sub1');
      const s = await first.subscribe(`${prefix}.dur`, async (m) => { got.push(m.data as number); }, options);
      const pub = await bus('pub');
      for (let i = 0; i < 50; i++) await pub.publish(`${prefix}.dur`, i);
      await waitFor(() => got.length === 50, { timeoutMs: settle * 2, what: 'the first half' });
      await s.drain();
      await first.stop();
      // Without durability a message published with no subscriber is gone by design (at most
      // once): publish while away only where the transport promises to keep it.
      const away = caps.durable ? 50 : 0;
      for (let i = 50; i < 50 + away; i++) await pub.publish(`${prefix}.dur`, i);
      const second = await bus('sub2');
      await second.subscribe(`${prefix}.dur`, async (m) => { got.push(m.data as number); }, options);
      await waitFor(() => got.length === 50 + away, { timeoutMs: settle * 3, what: 'the messages published while away' });
      for (let i = 100; i < 150; i++) await pub.publish(`${prefix}.dur`, i);
      await waitFor(() => got.length === 100 + away, { timeoutMs: settle * 2, what: 'the messages published after reopening' });
      const expected = [...Array(50).keys(), ...Array.from({ length: away }, (_, i) => 50 + i), ...Array.from({ length: 50 }, (_, i) => 100 + i)];
      expect([...got].sort((a, b) => a - b)).to.deep.equal(expected);
    });

    it(`${target.name} - close is idempotent and lets in-flight handlers finish`, async () => {
      const sub = await bus('sub');
      const pub = await bus('pub');
      let finished = 0; let started = 0;
      await sub.subscribe(`${prefix}.drain`, async () => { started++; await sleep(300 * scale); finished++; });
      await pub.publish(`${prefix}.drain`, 1);
      await waitFor(() => started === 1, { timeoutMs: settle, what: 'the handler to start' });
      await Promise.all([sub.stop(), sub.stop()]);
      expect(finished).to.equal(1);
      await sub.stop();
      const t = await target.create();
      await t.connect();
      await t.close();
      await t.close();
    });

    // Registered where the registration gives a broker it owns, which it must for a transport
    // declaring durability (checked with the capabilities above); nothing is skipped.
    const own = target.restart;
    if (own !== undefined) it(`${target.name} - ${own.losesInFlight === undefined
      ? 'loses nothing published before or after a broker restart mid-stream'
      : 'reconnects after a broker restart mid-stream and loses nothing published after it'}`, async function () {
      if (!existsSync(own.executable)) missingPrerequisite(this, `${own.executable} is missing (the restart case starts its own broker)`);
      this.timeout(180_000 * scale);
      const n = own.messages ?? 2000;
      // The handler holds everything until the whole stream is published: what was published
      // before the restart is then in the broker's keeping (stored or unacked) while it restarts.
      let release!: () => void;
      const held = new Promise<void>((resolve) => { release = resolve; });
      await own.start();
      try {
        const options = (own.group ?? caps.queueGroups) ? { group: `${prefix}-restart` } : {};
        const sub = await bus('restart-sub', {}, own.create);
        const pub = await bus('restart-pub', {}, own.create);
        const seen = new Uint8Array(n);
        let unique = 0;
        await sub.subscribe(`${prefix}.restart`, async (m) => {
          await held;
          const i = (m.data as { i: number }).i;
          if (seen[i] === 0) { seen[i] = 1; unique++; } // duplicates are allowed; counted once
        }, { ...options, maxInFlight: 64 });
        // Every message is published until publish() resolves, keeping its id across attempts (so a
        // broker that deduplicates can); a publish that rejected promised nothing.
        let restarted: Promise<void> | undefined;
        // Where in-flight messages may be lost by design, only those published after the restart must arrive.
        const required = new Uint8Array(n).fill(own.losesInFlight === undefined ? 1 : 0);
        let restartDone = false;
        let next = 0;
        const send = async (i: number) => {
          if (restartDone) required[i] = 1;
          for (const deadline = Date.now() + 60_000 * scale; ;) {
            try { await pub.publish(`${prefix}.restart`, { i }, { id: `${prefix}-${i}` }); return; } catch (err) {
              if (Date.now() > deadline) throw err;
              await sleep(100); // the broker is down: try again shortly
            }
          }
        };
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (next < n) {
            const i = next++;
            if (i === Math.floor(n / 3)) restarted = own.restart().then(() => { restartDone = true; });
            // Where in-flight messages may be lost, the rest of the stream goes out once the broker is back.
            if (own.losesInFlight !== undefined && i >= Math.floor(n / 3)) await restarted;
            await send(i);
          }
        }));
        await restarted;
        release();
        const missing = () => [...required.keys()].filter((i) => required[i] === 1 && seen[i] === 0);
        const must = required.reduce((a, b) => a + b, 0);
        if (own.losesInFlight !== undefined) expect(must, 'messages published after the restart').to.be.greaterThan(0);
        await waitFor(() => missing().length === 0, {
          timeoutMs: 60_000 * scale,
          what: () => `all ${must} required messages after the restart (got ${unique} of ${n}; missing ${missing().length}, e.g. ${missing().slice(0, 10).join(', ')})`,
        });
      } finally {
        release(); // held handlers must finish for the buses to stop
        await Promise.all(buses.splice(0).map((b) => b.stop()));
        await own.stop();
      }
    });

    // Registered where the registration says its transport replays (capabilities are only known
    // after `before`, too late to register a case; the first case checks the two agree). Nothing is skipped.
    if (target.replay === true) it(`${target.name} - replays from a stored position, in order, with increasing positions`, async () => {
      const sender = await target.create();
      const receiver = await target.create();
      const subs: Array<{ unsubscribe(): Promise<void> }> = [];
      try {
        expect(caps.replay, 'capabilities.replay').to.equal(true);
        await sender.connect();
        await receiver.connect();
        const n = 8;
        const ids: string[] = [];
        for (let i = 0; i < n; i++) {
          const e = createEnvelope({ source: 'urn:conformance', type: 'conf.replay', id: `${prefix}-r${i}` });
          ids.push(e.id);
          await sender.publish(`${prefix}.replay`, e);
        }
        const all: InboundMessage[] = [];
        subs.push(await receiver.subscribe(`${prefix}.replay`, (m) => { all.push(m); return m.ack(); }, { maxInFlight: 4, startAfter: 0 }));
        await waitFor(() => all.length >= n, { timeoutMs: settle, what: () => `${n} replayed messages (got ${all.length})` });
        expect(all.map((m) => m.envelope.id), 'every message, in publish order').to.deep.equal(ids);
        const positions = all.map((m) => m.position);
        for (const [i, p] of positions.entries()) {
          expect(p, `position of message ${i}`).to.be.a('number');
          if (i > 0) expect(p!, `position of message ${i}`).to.be.greaterThan(positions[i - 1]!);
        }
        const tail: InboundMessage[] = [];
        subs.push(await receiver.subscribe(`${prefix}.replay`, (m) => { tail.push(m); return m.ack(); }, { maxInFlight: 4, startAfter: positions[2]! }));
        await waitFor(() => tail.length >= n - 3, { timeoutMs: settle, what: () => `${n - 3} messages after the third (got ${tail.length})` });
        expect(tail.map((m) => m.envelope.id)).to.deep.equal(ids.slice(3));
        expect(tail.map((m) => m.position)).to.deep.equal(positions.slice(3));
      } finally {
        await Promise.all(subs.map((s) => s.unsubscribe()));
        await Promise.all([sender.close(), receiver.close()]);
      }
    });

    it(`${target.name} - keeps a slow subscriber within maxInFlight + maxPending: holds the sender back, or drops what does not fit, counted and logged`, async () => {
      // A transport that can hold its sender back (a paused socket, a broker's prefetch, an
      // in-process wait) does; one that cannot (core NATS) drops newest and tells the Bus, which
      // counts `<subject> intake dropped` and warns (rate-limited). Either way the queue is bounded.
      const { logger, warnings } = warningLog();
      const sub = await bus('sub', { logger });
      const pub = await bus('pub');
      const maxInFlight = 1; const maxPending = 20; const n = 300;
      let handled = 0; let most = 0; let slow = true;
      const markers = new Set<number>();
      let s: Subscription | undefined;
      s = await sub.subscribe(`${prefix}.bound`, async (m) => {
        const load = s?.load();
        if (load) most = Math.max(most, load.running + load.pending + load.waiting);
        const d = m.data as { i?: number; marker?: number };
        if (d.marker !== undefined) { markers.add(d.marker); return; }
        if (slow) await sleep(2);
        handled++;
      }, { maxInFlight, maxPending });
      for (let i = 0; i < n; i++) await pub.publish(`${prefix}.bound`, { i });
      slow = false;
      // Once the queue is worked off, a marker is handled (a transport that drops may drop one
      // that meets a full queue, so send again); in order, it comes after everything before it.
      await waitFor(() => { const l = s!.load(); return l.running + l.pending + l.waiting === 0; }, { timeoutMs: settle * 5, what: 'the queue to empty' });
      let markersSent = 0;
      for (let marker = 0; markers.size === 0; marker++) {
        expect(marker, 'markers sent before one was handled').to.be.below(5);
        markersSent++;
        await pub.publish(`${prefix}.bound`, { marker });
        await waitFor(() => markers.has(marker), { timeoutMs: settle, what: 'the marker' }).catch(() => undefined);
      }
      const dropped = intakeDropped(sub);
      if (!caps.ordered) await waitFor(() => handled + dropped >= n, { timeoutMs: settle * 5, what: () => `${n} handled (got ${handled})` }).catch(() => undefined);
      expect(most, 'most held at once: maxInFlight + maxPending and the one message that found the queue full').to.be.at.most(maxInFlight + maxPending + 1);
      expect(handled + dropped, 'handled + dropped (markers may be dropped too)').to.be.at.most(n + markersSent - 1);
      if (caps.durable) expect(handled, 'a durable transport holds the sender back: nothing lost').to.equal(n);
      const lines = dropWarnings(warnings);
      if (dropped === 0) expect(lines, 'no drop warning without drops').to.have.length(0);
      else {
        expect(lines.length, 'drop warnings: one at once, then at most one per 10 s').to.be.within(1, 2);
        expect(lines[0]).to.include({ pattern: `${prefix}.bound`, bound: maxInFlight + maxPending });
      }
    });

    it(`${target.name} - delivers a stress burst with nothing lost`, async () => {
      const n = target.stressMessages ?? 10_000;
      const sub = await bus('sub');
      const pub = await bus('pub');
      const seen = new Uint8Array(n);
      let count = 0;
      await sub.subscribe(`${prefix}.stress`, async (m) => {
        const i = (m.data as { i: number }).i;
        if (seen[i] === 0) { seen[i] = 1; count++; }
      }, { maxInFlight: 64, maxPending: 2000 });
      const window: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        window.push(pub.publish(`${prefix}.stress`, { i, pad: 'x'.repeat(120) }));
        if (window.length >= 256) await Promise.all(window.splice(0));
      }
      await Promise.all(window);
      await waitFor(() => count === n, { timeoutMs: 30_000 * scale, what: () => `${n} messages (got ${count})` });
    });
  });
}

