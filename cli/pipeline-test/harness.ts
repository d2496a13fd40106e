import { randomUUID } from 'node:crypto';
import {
  Bus, parseMetricField, type Envelope, type Logger, type MetricField, type NanoserviceDefinition,
} from '../../core/index.js';
import { ContractRegistry } from '../../contracts/index.js';
import { nanoserviceFactories, runNanoservice, type NanoserviceKind, type RunningNanoservice } from '../../nanoservices/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import type { Pipeline } from '../pipeline/load.js';
import { CountingTransport, InFlight } from './counting-transport.js';
import { DEFAULT_START_TS, type TestCase, type TestInput } from './test-file.js';
import { VirtualClock } from './virtual-clock.js';

/** One message a case's pipeline published (inputs left out). */
export interface Output {
  subject: string;
  envelope: Envelope;
}

/** A dead letter, read from its `dlq*` attributes. */
export interface DeadLetter {
  /** The subject the original was on. */
  subject: string;
  reason: string;
  service: string;
  message: string;
  output: Output;
}

export interface CaseRun {
  outputs: Output[];
  deadLetters: DeadLetter[];
  /** Every metric field the services counted, with its total count. */
  metrics: Array<{ field: MetricField; text: string; count: number }>;
  /** What the virtual clock read at the end. */
  endedAt: number;
}

/** Kinds that read the wall clock through a `now` option (and, aggregate, a timer run by `tick`). */
const CLOCKED_KINDS: ReadonlySet<string> = new Set(['ingest', 'aggregate']);

/** How long a case may run in real time before it is reported as not settling. */
const SETTLE_LIMIT_MS = 10_000;

/**
 * A pipeline file made runnable under test: every service on one in-process memory broker (the
 * file's transports, routes, embedded brokers and scale block are not used), with a virtual clock
 * in place of the wall clock. Sinks are not started (no database in a test); what they would
 * store stays visible as outputs on their input subjects. `notes` says what was left out.
 */
export class PipelineHarness {
  readonly notes: string[] = [];
  private readonly registry: ContractRegistry;

  constructor(private readonly pipeline: Pipeline, private readonly options: { logger: Logger; timeField?: string }) {
    this.registry = new ContractRegistry({ directories: pipeline.contracts?.dirs ?? [] });
    for (const s of pipeline.services) {
      if (s.kind === 'sink') this.notes.push(`${s.name ?? s.kind} (sink) is not run: what it would store stays visible as outputs on ${String(s.config.input)}`);
    }
    if (pipeline.scale || pipeline.services.some((s) => (s.instances ?? 1) > 1)) this.notes.push('scale and instances are not used: one instance of each service');
    if (pipeline.embedded) this.notes.push('embedded brokers and gateways are not started: inputs are published straight onto the memory broker');
  }

  /** Runs one case on fresh services (no state carried over from another case). */
  async run(c: TestCase, defaults: { startTs?: number } = {}): Promise<CaseRun> {
    const clock = new VirtualClock(c.startTs ?? defaults.startTs ?? DEFAULT_START_TS);
    const start = clock.now();
    const broker = new MemoryBroker();
    const inFlight = new InFlight();
    const container = this.pipeline.instance ?? 'test';
    const hooks = this.registry.hooks();
    const logger = this.options.logger;
    const buses: Bus[] = [];
    const services: RunningNanoservice[] = [];
    const ticking: Array<() => Promise<void>> = [];
    const newBus = (app: string) => {
      const bus = new Bus({
        service: { app, container }, transport: new CountingTransport(new MemoryTransport({ broker }), inFlight),
        contracts: hooks, logger, metrics: false, retry: { initialDelayMs: 0, maxDelayMs: 0 },
      });
      buses.push(bus);
      return bus;
    };

    /** `subject id` of each input: its dead-lettered copy keeps the id but not the subject. */
    const inputs = new Set<string>();
    const outputs: Output[] = [];
    let recording = true;
    const observer = new MemoryTransport({ broker });
    await observer.subscribe('>', (msg) => {
      if (recording && !inputs.has(`${msg.subject} ${msg.envelope.id}`) && !msg.subject.startsWith('signalbus.metrics.')) outputs.push({ subject: msg.subject, envelope: msg.envelope });
    }, { maxInFlight: Number.MAX_SAFE_INTEGER });

    try {
      for (const s of this.pipeline.services) {
        if (s.kind === 'sink') continue;
        const name = s.name ?? s.kind;
        const config: Record<string, unknown> = { ...s.config };
        if (CLOCKED_KINDS.has(s.kind)) config.now = clock.now;
        // The timer is replaced by a tick after each move of the clock; checkpoints would carry windows into the next case.
        if (s.kind === 'aggregate') { config.tickIntervalMs = 0; config.checkpoint = false; }
        const factory = nanoserviceFactories[s.kind as NanoserviceKind] as (c: unknown) => NanoserviceDefinition & { tick?: () => Promise<void> };
        const def = factory(config);
        if (typeof def.tick === 'function') ticking.push(def.tick.bind(def));
        services.push(await runNanoservice(newBus(name), def));
      }
      const sender = newBus('signalbus-test');
      const timeField = this.options.timeField ?? 'ts';
      const moveTo = async (at: number) => {
        if (!clock.advanceTo(at)) return;
        for (const tick of ticking) await tick();
        await settle(inFlight);
      };
      for (const step of c.input) {
        if ('advance' in step) { await moveTo(clock.now() + step.advance); continue; }
        const eventTime = step.ts ?? (step.at !== undefined ? start + step.at : undefined);
        if (eventTime !== undefined) await moveTo(eventTime);
        // Known before the publish: the observer sees the input while it is being published.
        const id = randomUUID();
        inputs.add(`${step.subject} ${id}`);
        await publishInput(sender, step, id, eventTime, timeField);
        await settle(inFlight);
      }
      if (c.advance !== undefined) await moveTo(clock.now() + c.advance);
      await settle(inFlight);
      recording = false;
      return { outputs, deadLetters: outputs.filter((o) => o.envelope.dlqreason !== undefined).map(deadLetterOf), metrics: collectMetrics(buses), endedAt: clock.now() };
    } finally {
      recording = false;
      for (const s of services) await s.stop().catch(() => {});
      for (const b of buses) await b.stop().catch(() => {});
      await observer.close();
    }
  }
}

const encoder = new TextEncoder();

function publishInput(bus: Bus, step: TestInput, id: string, eventTime: number | undefined, timeField: string): Promise<Envelope> {
  const options = { id, type: step.type ?? step.subject, ...(step.headers ? { headers: step.headers } : {}) };
  if (step.raw !== undefined) return bus.publish(step.subject, encoder.encode(step.raw), options);
  let data = step.data;
  // A device stamps its reading; the test gives the time as `at` or `ts` and the runner writes it in.
  if (eventTime !== undefined && data !== null && typeof data === 'object' && !Array.isArray(data) && !Object.hasOwn(data, timeField)) {
    data = { ...data, [timeField]: eventTime };
  }
  return bus.publish(step.subject, data ?? null, options);
}

/** Waits until every delivery is settled and stays so across a few turns of the event loop (a retry's backoff timer included). */
async function settle(inFlight: InFlight): Promise<void> {
  const deadline = Date.now() + SETTLE_LIMIT_MS;
  let quiet = 0;
  while (quiet < 3) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    quiet = inFlight.count === 0 ? quiet + 1 : 0;
    if (Date.now() > deadline) throw new Error(`the pipeline did not settle within ${SETTLE_LIMIT_MS} ms (${inFlight.count} messages still being handled)`);
  }
}

function deadLetterOf(o: Output): DeadLetter {
  const e = o.envelope;
  return { subject: String(e.dlqsubject ?? ''), reason: String(e.dlqreason ?? ''), service: String(e.dlqservice ?? ''), message: String(e.dlqmessage ?? ''), output: o };
}

function collectMetrics(buses: Bus[]): CaseRun['metrics'] {
  const out: CaseRun['metrics'] = [];
  for (const bus of buses) {
    for (const [text, { count }] of bus.metrics.totals()) {
      if (count > 0) out.push({ field: parseMetricField(text), text, count });
    }
  }
  return out;
}
