import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Context, type ContextManager } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Bus, RemoteHandlerError, type BusOptions, type Envelope, type Transport } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import {
  createAggregateService, createAlertService, createFilterService, createIngestService, runNanoservice, type RunningNanoservice,
} from '../../nanoservices/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

const encoder = new TextEncoder();
const T0 = 1_700_000_000_000; // a multiple of the 5 s window

/** The span id a traceparent names. */
const spanIdOf = (traceparent: unknown) => String(traceparent).slice(36, 52);
const traceIdOf = (traceparent: unknown) => String(traceparent).slice(3, 35);

/**
 * The least context manager: synchronous, a stack. Enough for a handler that makes its spans
 * before its first await (Node applications register @opentelemetry/context-async-hooks).
 */
class StackContext implements ContextManager {
  private current: Context = ROOT_CONTEXT;
  active(): Context { return this.current; }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const before = this.current;
    this.current = ctx;
    try { return fn.call(thisArg, ...args); } finally { this.current = before; }
  }
  bind<T>(_ctx: Context, target: T): T { return target; }
  enable(): this { return this; }
  disable(): this { this.current = ROOT_CONTEXT; return this; }
}

/** `span` and its ancestors, root first, as far as the exporter saw them. */
function chainTo(span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const chain = [span];
  for (let s = span; s.parentSpanContext !== undefined;) {
    const parent = byId.get(s.parentSpanContext.spanId);
    if (parent === undefined) break;
    chain.unshift(parent);
    s = parent;
  }
  return chain;
}

describe('tracing with OpenTelemetry', function () {
  this.timeout(20_000);
  let exporter: InMemorySpanExporter;
  let provider: BasicTracerProvider;
  let broker: MemoryBroker;
  const buses: Bus[] = [];
  const running: RunningNanoservice[] = [];
  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().filter((s) => s.name === name);

  beforeEach(() => {
    exporter = new InMemorySpanExporter();
    provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    broker = new MemoryBroker();
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
    for (const b of buses.splice(0)) await b.stop();
    trace.disable();
    context.disable();
    await provider.shutdown();
  });

  const bus = (service: string, transport: Transport = new MemoryTransport({ broker }), options: Partial<BusOptions> = { tracing: { tracerProvider: provider } }) => {
    const b = new Bus({ service, transport, metrics: false, logger: silentLogger, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 }, ...options });
    buses.push(b);
    return b;
  };

  /**
   * ingest → filter → aggregate → alert under subjects starting with `prefix`, each service on
   * its own Bus and transport; two readings of d-1, the second closing the first 5 s window,
   * whose aggregate (max 90) raises the alert. Resolves with the alert and the second reading.
   */
  async function onePipelineReading(prefix: string, busFor: (service: string) => Bus): Promise<{ alert: Envelope; reading: Envelope; first: Envelope }> {
    const alerts: Envelope[] = [];
    await busFor('watcher@test').subscribe(`${prefix}alerts.>`, (m) => { alerts.push(m); });
    running.push(
      await runNanoservice(busFor('ingest@edge-1'), createIngestService({
        input: `${prefix}devices.*.telemetry`, output: `${prefix}sensor.reading.{deviceId}`, subjectTokens: { deviceId: prefix === '' ? 1 : 2 }, group: 'ingest',
      })),
      await runNanoservice(busFor('filter@edge-1'), createFilterService({
        input: `${prefix}sensor.reading.>`, output: `${prefix}sensor.valid.{data.deviceId}`, keyField: 'data.deviceId', where: { path: 'data.temperature', gte: -50, lte: 150 },
      })),
      await runNanoservice(busFor('aggregate@edge-1'), createAggregateService({
        name: 'aggregate-traced', input: `${prefix}sensor.valid.>`, output: `${prefix}sensor.aggregate.{key}`, keyField: 'deviceId', fields: ['temperature'],
        window: { kind: 'tumbling', sizeMs: 5000 }, tickIntervalMs: 0, checkpoint: false,
      })),
      await runNanoservice(busFor('alert@edge-1'), createAlertService({
        input: `${prefix}sensor.aggregate.>`, keyField: 'key', timeField: 'window.end', output: `${prefix}alerts.{key}`,
        rules: [{ name: 'overheat', kind: 'threshold', field: 'max', raise: { value: 80, forReadings: 1 }, resolve: { value: 75, forReadings: 1 } }],
      })),
    );
    const devices = busFor('devices@sim');
    const send = (ts: number, temperature: number) => devices.publish(`${prefix}devices.d-1.telemetry`, encoder.encode(JSON.stringify({ ts, temperature, humidity: 40 })));
    const first = await send(T0, 90);
    const reading = await send(T0 + 5000, 91);
    // A span is exported when it ends, and a publish span may end after its consumer's: wait for the whole chain.
    const chainLength = () => { const [last] = named(`${prefix}alerts.d-1 process`); return last === undefined ? 0 : chainTo(last, spans()).length; };
    await waitFor(() => alerts.length === 1 && chainLength() === 10, { timeoutMs: 10_000, what: () => `the alert and its chain of 10 spans (${chainLength()})` });
    return { alert: alerts[0]!, reading, first };
  }

  /**
   * Checks that the alert's trace runs from the device's publish through every service, hop by
   * hop; `systems` names the transport of each hop (device, reading, valid, aggregate, alert).
   */
  function expectOneTrace(prefix: string, systems: string[], r: { alert: Envelope; reading: Envelope; first: Envelope }): void {
    const chain = chainTo(named(`${prefix}alerts.d-1 process`)[0]!, spans());
    const hops = ['devices.d-1.telemetry', 'sensor.reading.d-1', 'sensor.valid.d-1', 'sensor.aggregate.d-1', 'alerts.d-1'];
    expect(chain.map((s) => s.name)).to.deep.equal(hops.flatMap((h) => [`${prefix}${h} publish`, `${prefix}${h} process`]));
    expect(chain.map((s) => s.kind)).to.deep.equal(hops.flatMap(() => [SpanKind.PRODUCER, SpanKind.CONSUMER]));
    expect(chain[0]!.parentSpanContext, 'the device publish is the root').to.equal(undefined);
    expect(new Set(chain.map((s) => s.spanContext().traceId))).to.deep.equal(new Set([traceIdOf(r.reading.traceparent)]));
    // A published envelope carries its publish span, not only the trace; a handler sees its process span.
    expect(chain[0]!.spanContext().spanId).to.equal(spanIdOf(r.reading.traceparent));
    expect(chain[9]!.spanContext().spanId).to.equal(spanIdOf(r.alert.traceparent));
    expect(chain[0]!.attributes).to.include({ 'messaging.message.id': r.reading.id, 'cloudevents.event_source': r.reading.source });
    expect(chain.map((s) => s.attributes['messaging.system'])).to.deep.equal(systems.flatMap((system) => [system, system]));
    const [aggregatePublish, aggregateProcess] = [chain[6]!, chain[7]!];
    expect(aggregatePublish.attributes).to.include({
      'messaging.destination.name': `${prefix}sensor.aggregate.d-1`, 'messaging.operation.type': 'send', 'cloudevents.event_type': 'sensor.aggregate',
    });
    expect(aggregateProcess.attributes).to.include({
      'messaging.operation.type': 'process', 'messaging.destination.template': `${prefix}sensor.aggregate.>`,
      'messaging.message.id': aggregatePublish.attributes['messaging.message.id'],
    });
    expect(chain[1]!.attributes['messaging.consumer.group.name']).to.equal('ingest');
    expect(chain[9]!.attributes).to.include({ 'messaging.message.id': r.alert.id, 'cloudevents.event_type': 'alert.raised' });
    expect(chain.every((s) => s.status.code === SpanStatusCode.UNSET)).to.equal(true);
    // The first reading's trace ends at the aggregate that held it: the window result belongs to the reading that closed it.
    const firstTrace = spans().filter((s) => s.spanContext().traceId === traceIdOf(r.first.traceparent)).map((s) => s.name);
    expect(firstTrace).to.include(`${prefix}sensor.valid.d-1 process`);
    expect(firstTrace.some((n) => n.includes('sensor.aggregate'))).to.equal(false);
    // The aggregate's publish links to the readings of its window: the first one's aggregate process span.
    const firstHeld = spans().find((s) => s.name === `${prefix}sensor.valid.d-1 process` && s.spanContext().traceId === traceIdOf(r.first.traceparent))!;
    expect(aggregatePublish.links.map((l) => l.context.spanId)).to.deep.equal([firstHeld.spanContext().spanId]);
  }

  it('tracing - one reading through ingest, filter, aggregate and alert on the memory transport is one trace, each hop the child of the one before', async () => {
    const r = await onePipelineReading('', (service) => bus(service));
    expectOneTrace('', Array(5).fill('memory'), r);
  });

  describe('over NATS', () => {
    before(async function () { await requireBroker(this, 'nats'); });

    it('tracing - one reading through the pipeline over NATS is one trace, its context carried in the wire headers', async () => {
      const prefix = `tr${process.pid}x${Date.now()}.`;
      const r = await onePipelineReading(prefix, (service) => bus(service, new NatsTransport()));
      expectOneTrace(prefix, Array(5).fill('nats'), r);
    });

    it('tracing - one reading is one trace across two transports: ingest and filter in memory, the aggregate routed to NATS for the alert', async () => {
      const prefix = `tr${process.pid}y${Date.now()}.`;
      const onNats = new Set(['alert@edge-1', 'watcher@test']);
      const r = await onePipelineReading(prefix, (service) => {
        if (onNats.has(service)) return bus(service, new NatsTransport());
        if (service !== 'aggregate@edge-1') return bus(service);
        return bus(service, new MemoryTransport({ broker }), {
          transports: { nats: new NatsTransport() }, routes: [{ pattern: `${prefix}sensor.aggregate.>`, transport: 'nats' }],
          tracing: { tracerProvider: provider },
        });
      });
      expectOneTrace(prefix, ['memory', 'memory', 'memory', 'nats', 'nats'], r);
    });
  });

  it('tracing - a window the clock closes is published as a new root that links every reading of the window', async () => {
    let clock = Date.now();
    const aggregates: Envelope[] = [];
    await bus('watcher@test').subscribe('sensor.aggregate.>', (m) => { aggregates.push(m); });
    const aggregate = createAggregateService({
      name: 'aggregate-clock', input: 'sensor.valid.>', keyField: 'deviceId', fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 },
      tickIntervalMs: 0, checkpoint: false, now: () => clock,
    });
    running.push(await runNanoservice(bus('aggregate@clock'), aggregate));
    const producer = bus('producer@test');
    for (const i of [0, 1]) await producer.publish('sensor.valid.d-2', { deviceId: 'd-2', ts: T0 + i * 1000, temperature: 20 + i }, { type: 'sensor.reading', partitionKey: 'd-2' });
    await waitFor(() => named('sensor.valid.d-2 process').length === 2, { what: 'both readings handled' });
    clock += 10_000;
    await aggregate.tick();
    await waitFor(() => aggregates.length === 1 && named('sensor.aggregate.d-2 publish').length === 1, { what: 'the aggregate closed by the clock' });
    const [published] = named('sensor.aggregate.d-2 publish');
    expect(published!.parentSpanContext, 'no handler published it: a new root').to.equal(undefined);
    expect(published!.links.map((l) => l.context.spanId).sort()).to.deep.equal(named('sensor.valid.d-2 process').map((s) => s.spanContext().spanId).sort());
  });

  it('tracing - a handler runs with its process span active: spans it makes itself are its children', async () => {
    context.setGlobalContextManager(new StackContext());
    const tracer = provider.getTracer('app');
    await bus('store@test').subscribe('orders.paid', () => { tracer.startSpan('db insert').end(); });
    await bus('shop@test').publish('orders.paid', { n: 1 });
    await waitFor(() => named('orders.paid process').length === 1, { what: 'the process span' });
    const [db] = named('db insert');
    expect(db!.parentSpanContext?.spanId).to.equal(named('orders.paid process')[0]!.spanContext().spanId);
  });

  it('tracing - a handler that keeps failing ends its process span in ERROR with an exception per try, and its dead letter descends from it', async () => {
    const service = bus('orders@test');
    const watcher = bus('watcher@test');
    const deadLetters: Envelope[] = [];
    await watcher.subscribe('dlq.orders.>', (m) => { deadLetters.push(m); });
    await service.subscribe('orders.created', () => { throw new Error('boom'); }, { group: 'billing' });
    const sent = await service.publish('orders.created', { n: 1 });
    await waitFor(() => named('dlq.orders.created process').length === 1 && named('orders.created process').length === 1, { what: 'the dead letter handled' });

    const [failed] = named('orders.created process');
    expect(failed!.status).to.deep.include({ code: SpanStatusCode.ERROR, message: 'boom' });
    expect(failed!.attributes).to.include({ 'error.type': 'SB_ERR_HANDLER_FAILED', 'signalbus.outcome': 'dead-lettered', 'messaging.consumer.group.name': 'billing' });
    const exceptions = failed!.events.filter((e) => e.name === 'exception');
    expect(exceptions.map((e) => e.attributes?.['signalbus.attempt'])).to.deep.equal([1, 2]);
    expect(exceptions[0]!.attributes).to.include({ 'exception.message': 'boom', 'exception.type': 'Error' });
    expect(failed!.parentSpanContext?.spanId).to.equal(spanIdOf(sent.traceparent));
    const dlqProcess = named('dlq.orders.created process')[0]!;
    expect(dlqProcess.parentSpanContext?.spanId, 'the dead letter carries the failed process span').to.equal(failed!.spanContext().spanId);
    expect(deadLetters[0]!.dlqreason).to.equal('SB_ERR_HANDLER_FAILED');
  });

  it('tracing - a request is a CLIENT span and its handling a SERVER span under it; a remote failure ends both in ERROR', async () => {
    const server = bus('pricing@test');
    const client = bus('shop@test');
    await server.subscribe('pricing.quote', (m) => ({ price: (m.data as { n: number }).n * 2 }));
    await server.subscribe('pricing.fail', () => { throw new Error('no price'); });
    const reply = await client.request<{ price: number }>('pricing.quote', { n: 21 });
    expect(reply.data).to.deep.equal({ price: 42 });
    await waitFor(() => named('pricing.quote process').length === 1, { what: 'the server span' });
    const [requestSpan] = named('pricing.quote request');
    const [serverSpan] = named('pricing.quote process');
    expect(requestSpan!.kind).to.equal(SpanKind.CLIENT);
    expect(serverSpan!.kind).to.equal(SpanKind.SERVER);
    expect(serverSpan!.parentSpanContext?.spanId).to.equal(requestSpan!.spanContext().spanId);
    expect(requestSpan!.attributes).to.include({ 'messaging.operation.name': 'request', 'messaging.destination.name': 'pricing.quote' });

    let thrown: unknown;
    try { await client.request('pricing.fail', { n: 1 }); } catch (err) { thrown = err; }
    expect(thrown).to.be.instanceOf(RemoteHandlerError);
    await waitFor(() => named('pricing.fail process').length === 1, { what: 'the failed server span' });
    expect(named('pricing.fail request')[0]!.status.code).to.equal(SpanStatusCode.ERROR);
    expect(named('pricing.fail process')[0]!.attributes).to.include({ 'signalbus.outcome': 'error-replied', 'error.type': 'SB_ERR_HANDLER_FAILED' });
  });

  it('tracing - a malformed incoming traceparent makes the process span a new root, which the handler continues', async () => {
    const seen: Envelope[] = [];
    await bus('consumer@test').subscribe('in.readings', (m) => { seen.push(m); });
    const foreign = new MemoryTransport({ broker });
    await foreign.connect();
    const bad = '00-ZZZ-not-a-trace-01';
    await foreign.publish('in.readings', { specversion: '1.0', id: 'foreign-1', source: 'urn:foreign', type: 'reading', traceparent: bad, tracestate: 'k=v' });
    await foreign.close();
    await waitFor(() => named('in.readings process').length === 1, { what: 'the process span' });
    const [root] = named('in.readings process');
    expect(root!.parentSpanContext).to.equal(undefined);
    expect(seen[0]!.traceparent).to.not.equal(bad);
    expect(spanIdOf(seen[0]!.traceparent)).to.equal(root!.spanContext().spanId);
    expect(traceIdOf(seen[0]!.traceparent)).to.equal(root!.spanContext().traceId);
    expect(seen[0]!.tracestate, 'the tracestate of a malformed trace is dropped with it').to.equal(undefined);
  });

  it('tracing - an envelope the inbound rules refuse ends its process span in ERROR with the refusal code', async () => {
    await bus('consumer@test').subscribe('in.orders', () => { throw new Error('never called'); });
    const foreign = new MemoryTransport({ broker });
    await foreign.connect();
    await foreign.publish('in.orders', { specversion: '1.0', id: 'no-type', source: 'urn:foreign', 'Bad-Name': 'x' } as never);
    await foreign.close();
    await waitFor(() => named('in.orders process').length === 1, { what: 'the process span' });
    const [refused] = named('in.orders process');
    expect(refused!.status.code).to.equal(SpanStatusCode.ERROR);
    expect(refused!.attributes['error.type']).to.match(/^SB_ERR_/);
    expect(refused!.attributes).to.include({ 'signalbus.outcome': 'dead-lettered', 'messaging.message.id': 'no-type' });
  });

  it('tracing - a Bus finds the provider registered globally when it starts; `tracing: false` and no provider make no spans and messages still carry their trace', async () => {
    trace.setGlobalTracerProvider(provider);
    const traced = bus('traced@test', new MemoryTransport({ broker }), {});
    const optedOut = bus('quiet@test', new MemoryTransport({ broker }), { tracing: false });
    const got: Envelope[] = [];
    await optedOut.subscribe('quiet.>', (m) => { got.push(m); });
    const sent = await optedOut.publish('quiet.one', { n: 1 });
    await waitFor(() => got.length === 1, { what: 'the opted-out message' });
    expect(spans(), '`tracing: false` makes none').to.deep.equal([]);
    expect(traceIdOf(got[0]!.traceparent)).to.equal(traceIdOf(sent.traceparent));

    await traced.publish('traced.one', { n: 1 });
    expect(named('traced.one publish'), 'the global provider is found').to.have.length(1);

    trace.disable(); // back to the api's no-op proxy: no provider registered
    const untraced = bus('untraced@test', new MemoryTransport({ broker }), {});
    const before = spans().length;
    const more: Envelope[] = [];
    await untraced.subscribe('plain.>', (m) => { more.push(m); });
    const plain = await untraced.publish('plain.one', { n: 2 });
    await waitFor(() => more.length === 1, { what: 'the untraced message' });
    expect(spans().length, 'no spans without a provider').to.equal(before);
    expect(traceIdOf(more[0]!.traceparent)).to.equal(traceIdOf(plain.traceparent));
  });

  it('tracing - without @opentelemetry/api installed a Bus starts, publishes and handles as before', function () {
    this.timeout(30_000);
    const probe = spawnSync(process.execPath, ['--import', 'tsx', '--import', './test/helpers/without-otel-api.mjs', 'test/helpers/otel-absent-probe.ts'],
      { encoding: 'utf8', timeout: 25_000, cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    expect(probe.stdout.trim(), probe.stderr).to.match(/^ok 00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('tracing - a tracing option that is not a provider is refused, naming the field', () => {
    expect(() => new Bus({ service: 'x', transport: new MemoryTransport({ broker }), tracing: { tracerProvider: {} as never } }))
      .to.throw().with.property('code', 'SB_ERR_OPTIONS_INVALID');
  });
});
