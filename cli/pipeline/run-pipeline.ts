import { hostname } from 'node:os';
import { Bus, createLogger, OptionsInvalidError, transportFromUrl, type Logger, type Transport } from '../../core/index.js';
import { ContractRegistry } from '../../contracts/index.js';
import { nanoserviceFactories, runNanoservice, type NanoserviceKind, type RunningNanoservice } from '../../nanoservices/index.js';
import '../../transports/index.js';
import type { Pipeline } from './load.js';
import { planScale } from './scale-plan.js';
import { startScaledCoordination, withPartitionSubjects, type ScaledRuntime } from './scaled-runtime.js';
import type { ScaledService } from './scaled-service.js';
import { consolePipeline } from './console-graph.js';

export interface RunningPipeline {
  /** One bus per service instance, named `<service>@<instance>`. */
  readonly buses: Map<string, Bus>;
  readonly registry: ContractRegistry;
  /** Addresses of what the pipeline hosts itself (embedded MQTT broker, HTTP gateway). */
  readonly hosted: { mqtt?: string; http?: string };
  /** Stops every service gracefully (drain, flush, checkpoint), then what it hosts. Idempotent. */
  stop(): Promise<void>;
  /** Scaled pipelines: the partitions each member (`<service>@<instance>`) holds now. */
  owned(): Map<string, number[]>;
}

interface Closer { close(): Promise<void> }

/**
 * Starts what a pipeline file describes: embedded brokers and gateway first, then each service
 * on its own Bus (its own identity and connections), with contracts enforced on every bus. The
 * buses check what the services publish, so ingest gets no `validate` hook of its own: each
 * reading is checked once, when ingest publishes it.
 */
export async function startPipeline(p: Pipeline, options: { logger?: Logger; instance?: string } = {}): Promise<RunningPipeline> {
  const logger = options.logger ?? createLogger();
  const registry = new ContractRegistry({ directories: p.contracts?.dirs ?? [] });
  const hooks = registry.hooks();
  const intake: Closer[] = []; // closed first: no new work comes in
  const infrastructure: Closer[] = []; // closed last: brokers the buses still talk to
  const buses = new Map<string, Bus>();
  const services: RunningNanoservice[] = [];
  const hosted: RunningPipeline['hosted'] = {};
  const instance = options.instance ?? p.instance;
  // `instances` > 1 in one process shares the work by partition, as separate processes do.
  const scale = p.scale ?? (p.services.some((s) => (s.instances ?? 1) > 1) ? { coordination: 'memory' as const } : undefined);
  const plan = scale ? planScale(p.services, p.scale?.partitionedInputs ?? []) : undefined;
  const partitioning = scale && plan ? { count: scale.partitions ?? 16, subjects: plan.partitionedSubjects } : undefined;
  const transportUrls = partitioning ? Object.fromEntries(Object.entries(p.transports).map(([n, u]) => [n, withPartitionSubjects(u, partitioning.subjects)])) : p.transports;
  /** Scaled members, by bus key: given up (drained, checkpointed) before their bus stops. */
  const scaledMembers = new Map<string, ScaledService>();
  let scaled: ScaledRuntime | undefined;
  const owned = () => new Map([...scaledMembers].map(([key, m]) => [key, m.owned()]));

  const connect = async (): Promise<Record<string, Transport>> => {
    const out: Record<string, Transport> = {};
    for (const [name, url] of Object.entries(transportUrls)) out[name] = await transportFromUrl(url);
    return out;
  };
  const makeBus = async (service: string, container?: string, source?: string) => new Bus({
    service: { app: service, ...(container ? { container } : {}) }, ...(source ? { source } : {}), transports: await connect(), routes: p.routes ?? [],
    contracts: hooks, logger, metrics: { intervalMs: p.metrics?.intervalMs ?? 5000, ...(p.metrics?.labelQueryKeys ? { labelQueryKeys: p.metrics.labelQueryKeys } : {}) }, ...(partitioning ? { partitioning } : {}),
    ...(p.tenantSubjects ? { tenantSubjects: p.tenantSubjects } : {}),
  });

  let stopping: Promise<void> | undefined;
  const stop = () => stopping ??= (async () => {
    const close = (c: Closer) => c.close().catch((err: unknown) => logger.warn('closing failed', { err }));
    for (const c of intake) await close(c);
    // Upstream first, so each stage drains what the one before it still sends.
    for (const [key, bus] of buses) {
      await scaledMembers.get(key)?.stop().catch((err: unknown) => logger.warn('leaving the scale group failed', { service: key, err }));
      await bus.stop();
    }
    for (const c of infrastructure) await close(c);
  })();

  try {
    if (p.embedded?.mqtt) {
      const { startEmbeddedBroker } = await import('../../transports/mqtt/embedded-broker.js');
      const broker = await startEmbeddedBroker({ port: p.embedded.mqtt.port, host: p.embedded.mqtt.host });
      infrastructure.push({ close: () => broker.stop() });
      hosted.mqtt = broker.url;
    }
    if (scale) {
      scaled = await startScaledCoordination(p, scale, logger);
      infrastructure.push({ close: () => scaled!.close() });
    }
    // With NATS in the pipeline, aggregate windows are checkpointed in JetStream KV, so they
    // survive a restart of the process (memory checkpoints survive only a service restart).
    // Scaled, each partition checkpoints its own copy of the service instead.
    const natsUrl = Object.values(p.transports).find((u) => u.startsWith('nats:'));
    let checkpointStore: unknown;
    if (!scale && natsUrl && p.services.some((s) => s.kind === 'aggregate' && s.config.checkpoint !== false)) {
      const { KvCheckpointStore } = await import('../../checkpoints/index.js');
      const u = new URL(natsUrl);
      const store = await KvCheckpointStore.open({ servers: `${u.protocol}//${u.username ? `${u.username}:${u.password}@` : ''}${u.host}` });
      infrastructure.push({ close: () => store.close() });
      checkpointStore = store;
    }
    for (const [index, s] of p.services.entries()) {
      const name = s.name ?? s.kind;
      const count = s.instances ?? 1;
      if (scaled && plan) {
        const factory = nanoserviceFactories[s.kind as NanoserviceKind] as (c: unknown) => Parameters<typeof runNanoservice>[1];
        // The partition worker checkpoints the state itself, with the input position.
        const config = s.kind === 'aggregate' ? { ...s.config, checkpoint: false } : { ...s.config };
        const base = instance ?? defaultInstanceId();
        if (base.includes('.')) throw new OptionsInvalidError(`scale: instance id "${base}" may not contain "." (lease keys use it as a separator)`, { details: { field: 'instance' } });
        for (let i = 0; i < count; i++) {
          const member = count > 1 ? `${base}-${i}` : base;
          // One source for every member: a replay by another member after a takeover re-creates
          // the same event (derived id and source), which sinks and dedupe() recognise.
          const bus = await makeBus(name, member, scaledSource(p.name, name));
          const key = `${name}@${bus.identity.container}`;
          buses.set(key, bus);
          scaledMembers.set(key, await scaled.startService({ plan: plan.services[index]!, member, bus, logger, create: () => factory(config) }));
        }
        continue;
      }
      for (let i = 0; i < count; i++) {
        const container = instance === undefined ? undefined : count > 1 ? `${instance}-${i}` : instance;
        const bus = await makeBus(name, container);
        buses.set(`${name}@${bus.identity.container}`, bus);
        const config: Record<string, unknown> = { ...s.config };
        if (s.kind === 'aggregate' && checkpointStore && config.checkpointStore === undefined) config.checkpointStore = checkpointStore;
        const factory = nanoserviceFactories[s.kind as NanoserviceKind] as (c: unknown) => Parameters<typeof runNanoservice>[1];
        services.push(await runNanoservice(bus, factory(config)));
      }
    }
    if (p.embedded?.http) {
      const { hostGateway } = await import('../../gateway/index.js');
      const bus = await makeBus('gateway', instance);
      buses.set(`gateway@${bus.identity.container}`, bus);
      // The web console at `/`, showing this pipeline; `"options": { "console": false }` turns it off.
      const consoleOptions = { pipeline: consolePipeline(p), ownership: () => owned() };
      const gateway = await hostGateway(p.embedded.http.url, bus, { console: consoleOptions, ...p.embedded.http.options });
      intake.push({ close: () => gateway.close() });
      hosted.http = p.embedded.http.url;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { buses, registry, hosted, stop, owned };
}

/** `host-pid`: unique per process, as a scale member id must be. */
function defaultInstanceId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_-]/g, '_')}-${process.pid}`;
}

/** The CloudEvents source the members of a scaled service share: `/signalbus/<service>/<pipeline>`. */
export function scaledSource(pipeline: string, service: string): string {
  return `/signalbus/${service}/${pipeline.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}
