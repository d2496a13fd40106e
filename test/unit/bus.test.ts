import { expect } from 'chai';
import 'reflect-metadata';
import {
  BackpressureError, Bus, BusStoppedError, CapabilityMissingError, ContractInvalidError, createEnvelope, defineNanoservice, definitionFromInstance, DefinitionInvalidError,
  dedupe, HeaderInvalidError, MessageTooLargeError, Nanoservice, NoRespondersError, OptionsInvalidError, parseMetricField,
  parseTraceparent, Request, startNanoservice, Subscribe, SubjectInvalidError, timeout, transportFromUrl, TransportUnknownError,
  type Envelope, type HandlerContext, type Transport,
} from '../../core/index.js';
import { scaledSource } from '../../cli/pipeline/run-pipeline.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import '../../transports/index.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

describe('bus', () => {
  let broker: MemoryBroker;
  const buses: Bus[] = [];
  const make = (service = 'svc@c1', extra: Record<string, unknown> = {}) => {
    const b = new Bus({ service, transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger, retry: { initialDelayMs: 1, maxDelayMs: 5 }, ...extra });
    buses.push(b);
    return b;
  };
  beforeEach(() => { broker = new MemoryBroker(); });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  it('bus - carries correlation, causation, tenant and trace forward from a handler', async () => {
    const a = make('a'); const b = make('b');
    const got: Envelope[] = [];
    await b.subscribe('step.one', async (m, ctx) => { await ctx.publish('step.two', { from: m.id }); });
    await a.subscribe('step.two', async (m) => { got.push(m); });
    const first = await a.publish('step.one', { x: 1 }, { headers: { tenant: 'acme' } });
    await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the caused message' });
    const second = got[0]!;
    expect(first.correlationid).to.equal(first.id);
    expect(second.correlationid).to.equal(first.id);
    expect(second.causationid).to.equal(first.id);
    expect(second.tenant).to.equal('acme');
    expect(parseTraceparent(second.traceparent!).traceId).to.equal(parseTraceparent(first.traceparent!).traceId);
    expect(parseTraceparent(second.traceparent!).spanId).not.to.equal(parseTraceparent(first.traceparent!).spanId);
    expect(second.source).to.equal('/signalbus/b/' + b.identity.container);
  });

  it('bus - a source in the options is what every member stamps: a replay by another member is the same event', async () => {
    const got: Envelope[] = [];
    const sink = make('sink@s');
    await sink.subscribe('out.x', async (m) => { got.push(m); }, { middleware: [dedupe()] });
    // Two members of one scaled service handle the same input (a replay after a takeover).
    for (const member of ['m1', 'm2']) {
      const bus = make(`filter@${member}`, { source: scaledSource('iot', 'filter') });
      const input = createEnvelope({ id: 'in-1', source: '/device', type: 'raw', data: 1 });
      await bus.subscribe('in.x', async (_m, ctx) => { await ctx.publish('out.x', { n: 1 }); }, { deriveIds: true });
      await new MemoryTransport({ broker }).publish('in.x', input);
      await waitFor(() => got.length === 1, { timeoutMs: 2000, what: 'the output' });
    }
    await sleep(50);
    expect(got.map((e) => e.source)).to.deep.equal(['/signalbus/filter/iot']);
    expect(() => make('svc', { source: '' })).to.throw(OptionsInvalidError);
  });

  it('bus - bad input to the public API throws typed errors naming what is wrong', async () => {
    const bus = make();
    await bus.publish('a..b', 1).then(() => { throw new Error('accepted'); }, (e) => expect(e).to.be.instanceOf(SubjectInvalidError));
    await bus.publish('a.b', 1, { headers: { tenant: 'x\r\ny' } }).then(() => { throw new Error('accepted'); }, (e) => expect(e).to.be.instanceOf(HeaderInvalidError));
    await bus.publish('a.b', 1, { headers: { huge: 'x'.repeat(10_000) } }).then(() => { throw new Error('accepted'); }, (e) => expect(e.code).to.equal('SB_ERR_HEADER_INVALID'));
    await bus.subscribe('a.>.b', async () => {}).then(() => { throw new Error('accepted'); }, (e) => expect(e.code).to.equal('SB_ERR_PATTERN_INVALID'));
    await transportFromUrl('carrier-pigeon://x').then(() => { throw new Error('accepted'); }, (e) => expect(e).to.be.instanceOf(TransportUnknownError));
    await transportFromUrl('not a url').then(() => { throw new Error('accepted'); }, (e) => expect(e).to.be.instanceOf(TransportUnknownError));
    expect(() => new Bus({ service: 'bad name', transport: new MemoryTransport({ broker }) })).to.throw(OptionsInvalidError);
    expect(() => new Bus({ service: 'ok' })).to.throw(OptionsInvalidError);
    expect(() => new Bus({ service: 'ok', transport: new MemoryTransport({ broker }), routes: [{ pattern: 'a.>', transport: 'nope' }] })).to.throw(OptionsInvalidError);
    expect(await transportFromUrl('memory://unit')).to.be.instanceOf(MemoryTransport);
  });

  it('bus - dead-letters permanent errors at once, with the reason in the headers', async () => {
    const bus = make();
    let attempts = 0;
    const dead: Envelope[] = [];
    await bus.subscribe('inv.x', async () => { attempts++; throw new ContractInvalidError('/temperature must be number'); });
    await bus.subscribe('dlq.inv.x', async (m) => { dead.push(m); });
    await bus.publish('inv.x', { temperature: 'hot' });
    await waitFor(() => dead.length === 1, { timeoutMs: 2000, what: 'the dead letter' });
    expect(attempts).to.equal(1);
    expect(dead[0]!.dlqreason).to.equal('SB_ERR_CONTRACT_INVALID');
    expect(dead[0]!.dlqmessage).to.equal('/temperature must be number');
    expect(dead[0]!.dlqattempts).to.equal('1');
  });

  it('bus - an error message with control characters still makes a valid dead letter', async () => {
    const bus = make('svc', { retry: { maxAttempts: 1 } });
    const dead: Envelope[] = [];
    await bus.subscribe('ctl.x', async () => { throw new Error('line one\nline two\u0000'); });
    await bus.subscribe('dlq.ctl.x', async (m) => { dead.push(m); });
    await bus.publish('ctl.x', 1);
    await waitFor(() => dead.length === 1, { timeoutMs: 2000, what: 'the dead letter' });
    expect(dead[0]!.dlqmessage).to.equal('line one line two ');
  });

  it('bus - request/reply: replies, no responders and remote errors are typed', async () => {
    const server = make('server'); const client = make('client');
    await server.subscribe('math.double', async (m) => (m.data as number) * 2);
    expect((await client.request('math.double', 21)).data).to.equal(42);
    await client.request('nobody.home', 1).then(() => { throw new Error('answered'); }, (e) => expect(e).to.be.instanceOf(NoRespondersError));
    await server.subscribe('math.fail', async () => { throw new BackpressureError('busy'); });
    const err = await client.request('math.fail', 1).then(() => null, (e) => e);
    expect(err.code).to.equal('SB_ERR_HANDLER_REMOTE');
    expect(err.remoteCode).to.equal('SB_ERR_BACKPRESSURE');
  });

  it('bus - dedupe skips a message with a source+id already handled, not one that failed', async () => {
    const bus = make('svc', { retry: { maxAttempts: 2, initialDelayMs: 1 } });
    const d = dedupe({ window: 100 });
    bus.use(d);
    const seen: string[] = [];
    let failOnce = true;
    await bus.subscribe('dd.x', async (m, ctx) => {
      if ((m.data as string) === 'flaky' && failOnce) { failOnce = false; throw new Error('once'); }
      seen.push(`${m.data}:${ctx.attempt}`);
    });
    const first = await bus.publish('dd.x', 'a', { id: 'fixed-1' });
    await bus.publishEnvelope('dd.x', first);
    await bus.publish('dd.x', 'flaky', { id: 'fixed-2' });
    await bus.publish('dd.x', 'b', { id: 'fixed-3' });
    await waitFor(() => seen.length === 3, { timeoutMs: 2000, what: 'three handlings' });
    await bus.stop(); // drains: a fourth handling under way or queued would be in `seen` now
    expect(seen.sort()).to.deep.equal(['a:1', 'b:1', 'flaky:2']);
    expect(bus.metrics.totals().get(`svc@${bus.identity.container}:dd.x duplicate dropped`)?.count).to.equal(1);
  });

  it('bus - timeout middleware fails a slow handler with SB_ERR_HANDLER_TIMEOUT and aborts its signal', async () => {
    const bus = make('svc', { retry: { maxAttempts: 1 } });
    const dead: Envelope[] = [];
    let aborted = false;
    await bus.subscribe('slow.x', async (_m, ctx: HandlerContext) => {
      ctx.signal.addEventListener('abort', () => { aborted = true; });
      await sleep(200); // slower than the timeout
    }, { middleware: [timeout(20)] });
    await bus.subscribe('dlq.slow.x', async (m) => { dead.push(m); });
    await bus.publish('slow.x', 1);
    await waitFor(() => dead.length === 1, { timeoutMs: 2000, what: 'the dead letter' });
    expect(dead[0]!.dlqreason).to.equal('SB_ERR_HANDLER_TIMEOUT');
    expect(aborted).to.equal(true);
  });

  it('bus - refuses a message larger than the transport takes', async () => {
    const t = new MemoryTransport({ broker });
    Object.assign(t.capabilities, { encodesData: true, maxMessageBytes: 100 });
    const bus = new Bus({ service: 'svc', transport: t, metrics: false, logger: silentLogger });
    buses.push(bus);
    await bus.publish('big.x', 'x'.repeat(200)).then(() => { throw new Error('accepted'); }, (e) => expect(e).to.be.instanceOf(MessageTooLargeError));
  });

  it('bus - a full publish buffer rejects with SB_ERR_BACKPRESSURE when configured to', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const slow: Transport = Object.assign(new MemoryTransport({ broker }), {});
    const original = slow.publish.bind(slow);
    slow.publish = async (s, e) => { await gate; return original(s, e); };
    const bus = new Bus({ service: 'svc', transport: slow, metrics: false, logger: silentLogger, maxPendingPublishes: 2, onPublishFull: 'reject' });
    buses.push(bus);
    await bus.start();
    const p1 = bus.publish('bp.x', 1); const p2 = bus.publish('bp.x', 2);
    await new Promise((r) => setImmediate(r));
    await bus.publish('bp.x', 3).then(() => { throw new Error('accepted'); }, (e) => expect(e).to.be.instanceOf(BackpressureError));
    release();
    await Promise.all([p1, p2]);
  });

  it('bus - static partitions keep each key on exactly one instance', async () => {
    const got = new Map<string, Set<number>>();
    const instances = [0, 1, 2].map((i) => make(`part@i${i}`));
    for (const [i, b] of instances.entries()) {
      await b.subscribe('part.x', async (m) => {
        const set = got.get(m.partitionkey!) ?? new Set<number>();
        set.add(i); got.set(m.partitionkey!, set);
      }, { partitions: { count: 12, instanceIndex: i, instanceCount: 3 } });
    }
    const pub = make('pub');
    for (let k = 0; k < 30; k++) for (let r = 0; r < 3; r++) await pub.publish('part.x', r, { partitionKey: `key-${k}` });
    await waitFor(() => got.size === 30, { timeoutMs: 2000, what: 'all keys' });
    for (const [key, owners] of got) expect(owners.size, key).to.equal(1);
    expect(new Set([...got.values()].map((s) => [...s][0])).size).to.be.greaterThan(1);
    await make('x').subscribe('part.y', async () => {}, { partitions: { count: 2, instanceIndex: 2, instanceCount: 2 } })
      .then(() => { throw new Error('accepted'); }, (e) => expect(e).to.be.instanceOf(OptionsInvalidError));
  });

  it('bus - stop finishes in-flight handlers, then refuses new work', async () => {
    const bus = make();
    let finished = false;
    await bus.subscribe('stop.x', async () => { await sleep(100); finished = true; }); // still running when stop() is called
    await bus.publish('stop.x', 1);
    await bus.stop();
    expect(finished).to.equal(true);
    await bus.publish('stop.x', 2).then(() => { throw new Error('accepted'); }, (e) => expect(e).to.be.instanceOf(BusStoppedError));
  });

  it('bus - publish and request fail by rejecting, never by throwing: after stop, and when a transport throws', async () => {
    const bus = make();
    await bus.start();
    const transport = bus.transportFor('throw.x');
    const original = transport.publish.bind(transport);
    transport.publish = () => { throw new Error('a transport that throws instead of rejecting'); };
    let published: Promise<unknown> | undefined;
    expect(() => { published = bus.publish('throw.x', 1); }).to.not.throw();
    expect(await published!.then(() => 'resolved', (e: Error) => e.message)).to.equal('a transport that throws instead of rejecting');
    transport.publish = original;
    await bus.stop();
    let requested: Promise<unknown> | undefined;
    expect(() => { published = bus.publish('stop.y', 1); requested = bus.request('stop.y', 1); }).to.not.throw();
    for (const p of [published!, requested!]) await p.then(() => { throw new Error('accepted'); }, (e) => expect(e).to.be.instanceOf(BusStoppedError));
  });

  it('bus - stop aborts handlers still running after the grace period', async () => {
    const bus = make('svc', { stopTimeoutMs: 50 });
    let aborted = false; let started = false;
    await bus.subscribe('hang.x', async (_m, ctx) => {
      started = true;
      await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => { aborted = true; r(); }));
    });
    await bus.publish('hang.x', 1);
    await waitFor(() => started, { what: 'the handler to start' });
    await bus.stop();
    expect(aborted).to.equal(true);
  });

  it('bus - routes subjects to transports by rule', async () => {
    const other = new MemoryBroker();
    const bus = new Bus({
      service: 'router', logger: silentLogger, metrics: false,
      transports: { main: new MemoryTransport({ broker }), side: new MemoryTransport({ broker: other }) },
      routes: [{ pattern: 'side.>', transport: 'side' }],
    });
    buses.push(bus);
    const onSide: unknown[] = [];
    const sideBus = new Bus({ service: 'side', transport: new MemoryTransport({ broker: other }), metrics: false, logger: silentLogger });
    buses.push(sideBus);
    await sideBus.subscribe('side.x', async (m) => { onSide.push(m.data); });
    await bus.publish('side.x', 1);
    await bus.publish('main.x', 2);
    await waitFor(() => onSide.length === 1, { timeoutMs: 1000, what: 'the routed message' });
    expect(bus.transportFor('side.x')).not.to.equal(bus.transportFor('main.x'));
  });

  it('bus - emits a metric field for every bus-level event and publishes them in batches', async () => {
    const bus = new Bus({ service: 'm@c', transport: new MemoryTransport({ broker }), logger: silentLogger, retry: { maxAttempts: 2, initialDelayMs: 1 }, metrics: { intervalMs: 60_000 } });
    buses.push(bus);
    const batches: Envelope[] = [];
    const watcher = make('watcher');
    await watcher.subscribe('signalbus.metrics.>', async (m) => { batches.push(m); });
    await bus.subscribe('mf.ok', async () => {});
    await bus.subscribe('mf.bad', async () => { throw new Error('x'); });
    await bus.publish('mf.ok', 1);
    await bus.publish('mf.bad', 1);
    await waitFor(() => (bus.metrics.totals().get('m@c:mf.bad failed deadlettered')?.count ?? 0) === 1, { timeoutMs: 2000, what: 'the dead letter' });
    const totals = bus.metrics.totals();
    for (const f of ['m@c:mf.ok published sent', 'm@c:mf.ok received delivered', 'm@c:mf.ok handled acked', 'm@c:mf.bad failed retried', 'm@c:mf.bad failed deadlettered', 'm@c:dlq.> published sent']) {
      expect(totals.get(f)?.count, f).to.equal(1);
    }
    await bus.flushMetrics();
    await waitFor(() => batches.length === 1, { timeoutMs: 1000, what: 'the metric batch' });
    const batch = batches[0]!;
    expect(batch.type).to.equal('metric.field');
    const fields = (batch.data as { fields: Array<{ field: string; count: number }> }).fields;
    for (const f of fields) expect(() => parseMetricField(f.field)).not.to.throw();
    expect(fields.find((f) => f.field === 'm@c:mf.ok handled acked')?.count).to.equal(1);
  });

  it('bus - refuses a wildcard pattern or a group on a transport that declares it cannot, with CapabilityMissingError', async () => {
    const transport = new MemoryTransport({ broker });
    Object.defineProperty(transport, 'capabilities', { value: { ...transport.capabilities, wildcards: false, queueGroups: false } });
    const bus = make('caps', { transport });
    const refused = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as CapabilityMissingError);
    const wild = await refused(bus.subscribe('a.*.c', async () => {}));
    expect(wild).to.be.instanceOf(CapabilityMissingError);
    expect(wild!.code).to.equal('SB_ERR_TRANSPORT_CAPABILITY');
    expect(wild!.details).to.deep.equal({ transport: 'memory', pattern: 'a.*.c' });
    const grouped = await refused(bus.subscribe('a.b.c', async () => {}, { group: 'g' }));
    expect(grouped).to.be.instanceOf(CapabilityMissingError);
    expect(grouped!.details).to.deep.equal({ transport: 'memory' });
    await bus.subscribe('a.b.c', async () => {});
  });
});

describe('nanoservice definitions', () => {
  @Nanoservice({ name: 'doubler', version: '1.2.0' })
  class Doubler {
    factor = 2;
    @Subscribe('num.in', { ordered: true })
    async onNumber(m: Envelope<number>, ctx: HandlerContext) { await ctx.publish('num.out', m.data! * this.factor); }
    @Request('num.double')
    async double(m: Envelope<number>) { return m.data! * this.factor; }
  }

  it('nanoservice - decorators and defineNanoservice compile to the same definition', () => {
    const fromClass = definitionFromInstance(new Doubler());
    const fromObject = defineNanoservice({
      name: 'doubler', version: '1.2.0',
      subscriptions: [{ pattern: 'num.in', handler: 'onNumber', ordered: true }, { pattern: 'num.double', handler: 'double', kind: 'request' }],
      handlers: { onNumber: async () => {}, double: async () => {} },
    });
    const shape = (d: typeof fromClass) => ({ ...d, subscriptions: d.subscriptions.map(({ handler, ...rest }) => ({ ...rest, handler: typeof handler })) });
    expect(shape(fromClass)).to.deep.equal(shape(fromObject));
  });

  it('nanoservice - a decorated instance runs on a bus with its own state', async () => {
    const broker = new MemoryBroker();
    const bus = new Bus({ service: 'doubler', transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger });
    const d = new Doubler(); d.factor = 3;
    await startNanoservice(bus, d);
    const outs: number[] = [];
    await bus.subscribe('num.out', async (m) => { outs.push(m.data as number); });
    await bus.publish('num.in', 5);
    expect((await bus.request('num.double', 7)).data).to.equal(21);
    await waitFor(() => outs.length === 1, { timeoutMs: 1000, what: 'the output' });
    expect(outs).to.deep.equal([15]);
    await bus.stop();
  });

  it('nanoservice - invalid definitions are typed errors naming the field', () => {
    expect(() => defineNanoservice({ name: 'bad name', subscriptions: [] })).to.throw(DefinitionInvalidError);
    expect(() => defineNanoservice({ name: 'x', subscriptions: [] })).to.throw(DefinitionInvalidError);
    expect(() => defineNanoservice({ name: 'x', subscriptions: [{ pattern: 'a..b', handler: async () => {} }] })).to.throw(DefinitionInvalidError);
    expect(() => defineNanoservice({ name: 'x', subscriptions: [{ pattern: 'a.b', handler: 'missing' }] })).to.throw(DefinitionInvalidError);
    expect(() => definitionFromInstance({})).to.throw(DefinitionInvalidError);
  });
});

describe('errors', () => {
  it('errors - a relayed remote failure keeps its original code', async () => {
    const { errorCode, RemoteHandlerError, BackpressureError } = await import('../../core/index.js');
    expect(errorCode(new RemoteHandlerError('far side failed', 'SB_ERR_CONTRACT_INVALID'))).to.equal('SB_ERR_CONTRACT_INVALID');
    expect(errorCode(new BackpressureError('full'))).to.equal('SB_ERR_BACKPRESSURE');
    expect(errorCode(new Error('plain'))).to.equal('SB_ERR_HANDLER_FAILED');
  });
});

describe('dead letters', () => {
  it('bus - a dead letter whose handler fails is logged and settled, never dead-lettered again', async () => {
    const broker = new MemoryBroker();
    const logged: string[] = [];
    const logger = { ...silentLogger, error: (msg: string) => { logged.push(msg); }, child() { return logger; } };
    const bus = new Bus({ service: 'svc', transport: new MemoryTransport({ broker }), metrics: false, logger, retry: { maxAttempts: 1 } });
    let dlqHandled = 0;
    const subjects: string[] = [];
    await bus.subscribe('dlq.>', async (_m, ctx) => { dlqHandled++; subjects.push(ctx.subject); throw new Error('the dead-letter consumer is broken too'); });
    await bus.subscribe('work.x', async () => { throw new Error('fails'); });
    await bus.publish('work.x', 1);
    await waitFor(() => logged.includes('handling a dead letter failed; it is not dead-lettered again'), { timeoutMs: 2000, what: 'the log line' });
    await bus.stop(); // drains: a dead letter of the dead letter, under way or queued, would be handled by now
    expect(subjects).to.deep.equal(['dlq.work.x']);
    expect(dlqHandled).to.equal(1);
  });

  it('bus - undecodable bytes are dead-lettered as application/octet-stream', async () => {
    const broker = new MemoryBroker();
    const t = new MemoryTransport({ broker });
    const bus = new Bus({ service: 'svc', transport: t, metrics: false, logger: silentLogger });
    const dead: Envelope[] = [];
    await bus.subscribe('dlq.>', async (m) => { dead.push(m); });
    await bus.subscribe('bytes.x', async () => {});
    await t.publish('bytes.x', { specversion: '1.0', id: 'x1', source: '/device', type: 'raw', data: new TextEncoder().encode('{"broken": ') });
    await waitFor(() => dead.length === 1, { timeoutMs: 2000, what: 'the dead letter' });
    expect(dead[0]!.dlqreason).to.equal('SB_ERR_CODEC_DECODE');
    expect(dead[0]!.datacontenttype).to.equal('application/octet-stream');
    expect(new TextDecoder().decode(dead[0]!.data as Uint8Array)).to.equal('{"broken": ');
    await bus.stop();
  });

  it('bus - a dlqreason on a message outside the dead-letter subjects does not spare it its dead letter', async () => {
    const broker = new MemoryBroker();
    const t = new MemoryTransport({ broker });
    const bus = new Bus({ service: 'svc', transport: t, metrics: false, logger: silentLogger, retry: { maxAttempts: 1 } });
    const dead: Envelope[] = [];
    await bus.subscribe('dlq.>', async (m) => { dead.push(m); });
    await bus.subscribe('work.x', async () => { throw new Error('fails'); });
    // A forged reason on a failing message, and one on a message the inbound rules refuse (a bad time).
    await t.publish('work.x', { specversion: '1.0', id: 'f1', source: '/peer', type: 't', dlqreason: 'SB_ERR_NONE', datacontenttype: 'application/json', data: new TextEncoder().encode('1') });
    await t.publish('work.x', { specversion: '1.0', id: 'f2', source: '/peer', type: 't', time: 'yesterday', dlqreason: 'SB_ERR_NONE' });
    await waitFor(() => dead.length === 2, { timeoutMs: 2000, what: 'both dead letters' });
    expect(dead.map((d) => [d.id, d.dlqreason, d.dlqsubject])).to.deep.equal([['f1', 'SB_ERR_HANDLER_FAILED', 'work.x'], ['f2', 'SB_ERR_ENVELOPE_INVALID', 'work.x']]);
    await bus.stop();
  });

  it('bus - bytes never decoded that are not the JSON their content type says go to the dead letter as application/octet-stream', async () => {
    const broker = new MemoryBroker();
    const t = new MemoryTransport({ broker });
    const bus = new Bus({ service: 'svc', transport: t, metrics: false, logger: silentLogger });
    const dead: Envelope[] = [];
    await bus.subscribe('dlq.>', async (m) => { dead.push(m); });
    await bus.subscribe('refused.x', async () => {});
    // Refused by the inbound rules (a bad time) before any decoding: the data is as it came.
    const forged = '{"t":1},"tenant":"victim","dlqreason":"SB_ERR_NONE","x":{"y":1}';
    await t.publish('refused.x', { specversion: '1.0', id: 'r1', source: '/device', type: 't', time: 'yesterday', datacontenttype: 'application/json', data: new TextEncoder().encode(forged) });
    await t.publish('refused.x', { specversion: '1.0', id: 'r2', source: '/device', type: 't', time: 'yesterday', datacontenttype: 'application/json', data: new TextEncoder().encode('{"t":1}') });
    await waitFor(() => dead.length === 2, { timeoutMs: 2000, what: 'both dead letters' });
    const [bad, good] = [dead.find((d) => d.id === 'r1')!, dead.find((d) => d.id === 'r2')!];
    expect(bad.datacontenttype).to.equal('application/octet-stream');
    expect(new TextDecoder().decode(bad.data as Uint8Array)).to.equal(forged);
    // JSON that parses stays readable as JSON.
    expect(good.datacontenttype).to.equal('application/json');
    expect(good.data).to.deep.equal({ t: 1 });
    await bus.stop();
  });
});
