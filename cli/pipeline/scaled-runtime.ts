import type { ConnectionOptions } from 'nats';
import { OptionsInvalidError, type Bus, type Logger, type NanoserviceDefinition, type Transport } from '../../core/index.js';
import { splitServerList } from '../../core/server-list.js';
import { natsConnectionOptions } from '../../transports/nats/nats-transport.js';
import { natsOptionsFromUrl, resolveNatsOptions } from '../../transports/nats/options.js';
import type { LeaseStore } from '../../scale/lease-store.js';
import { MemoryLeaseStore } from '../../scale/memory-lease-store.js';
import { MemoryPartitionCheckpoints, type PartitionCheckpoints } from '../../scale/partition-checkpoints.js';
import type { Pipeline, PipelineScale } from './load.js';
import type { ServicePlan } from './scale-plan.js';
import { startSacScaledService, type SacCoordination } from './sac-scaled-service.js';
import { scaleCarriage } from './scale-carriage.js';
import { startScaledService, type ScaledService } from './scaled-service.js';
import { startSharedService } from './shared-service.js';

/** First token of partitioned wire subjects (the Bus' default). */
const PARTITION_PREFIX = 'part';

/** Where a scaled pipeline keeps its leases and checkpoints, and how it starts a member of a service. */
export interface ScaledRuntime {
  startService(o: { plan: ServicePlan; member: string; bus: Bus; logger: Logger; create(): NanoserviceDefinition }): Promise<ScaledService>;
  close(): Promise<void>;
}

/**
 * Opens the coordination a `scale` block names: NATS JetStream KV (leases with a TTL, checkpoints
 * written compare-and-set), RabbitMQ (single-active-consumer quorum queues own the partitions,
 * checkpoints in quorum queues, heartbeats for the balance), or memory (one process: `instances`
 * copies sharing the work).
 */
export async function startScaledCoordination(p: Pipeline, scale: PipelineScale, logger: Logger): Promise<ScaledRuntime> {
  let leases: LeaseStore;
  let checkpoints: PartitionCheckpoints;
  let close = async () => {};
  const leaseTtlMs = scale.leaseTtlMs ?? 5000;
  const partitions = scale.partitions ?? 16;
  const checkpointIntervalMs = scale.checkpointIntervalMs ?? 1000;
  if (scale.coordination === 'amqp') return startAmqpCoordination(p, scale, logger, { leaseTtlMs, partitions, checkpointIntervalMs });
  if (scale.coordination === 'nats') {
    // The first JetStream transport (its replicas are the ones to match), else the first NATS one.
    const nats = Object.values(p.transports).filter((u) => /^(nats|tls):/i.test(u));
    const url = scale.url ?? nats.find((u) => /[?&]jetstream=(1|true)/.test(u)) ?? nats[0];
    if (!url) {
      throw new OptionsInvalidError('scale.coordination "nats" needs scale.url or a nats:// transport for its leases and checkpoints', { details: { field: 'scale.url' } });
    }
    const { NatsCoordination } = await import('../../scale/nats-coordination.js');
    const coordination = await NatsCoordination.open({
      connectionOptions: await natsConnectionOptionsOf(url), name: `sb-${p.name.replace(/[^A-Za-z0-9_-]/g, '_')}`, replicas: scale.replicas ?? replicasOf(url), leaseTtlMs,
    });
    leases = coordination.leases;
    checkpoints = coordination.checkpoints;
    close = () => coordination.close();
  } else {
    leases = new MemoryLeaseStore({ ttlMs: leaseTtlMs });
    checkpoints = new MemoryPartitionCheckpoints();
  }
  return {
    async startService({ plan, member, bus, logger, create }) {
      const input = bus.transportFor(plan.input);
      // A NATS-coordinated run is scaled only on a transport that replays; `memory` takes any.
      const carriage = scale.coordination === 'nats' ? scaleCarriage('nats', plan.partitioned, input) : 'scaled';
      if (carriage === 'shared') return startSharedService({ pipeline: p.name, plan, bus, create });
      if (carriage !== 'scaled') throw carriageError(plan, input, carriage.problem);
      const replay = input.capabilities.replay === true;
      return startScaledService({ pipeline: p.name, plan, member, bus, leases, checkpoints, partitions, replay, checkpointIntervalMs, logger, create });
    },
    close,
  };
}

/**
 * RabbitMQ: every member subscribes to every partition's single-active-consumer quorum queue
 * and RabbitMQ picks the active one; acks are held until a checkpoint covers them.
 */
async function startAmqpCoordination(p: Pipeline, scale: PipelineScale, logger: Logger,
  o: { leaseTtlMs: number; partitions: number; checkpointIntervalMs: number }): Promise<ScaledRuntime> {
  const url = scale.url ?? Object.values(p.transports).find((u) => /^amqps?:/i.test(u));
  if (!url) {
    throw new OptionsInvalidError('scale.coordination "amqp" needs scale.url or an amqp:// transport for its checkpoints and heartbeats', { details: { field: 'scale.url' } });
  }
  const { AmqpCoordination } = await import('../../scale/amqp-coordination.js');
  const coordination: SacCoordination & { close(): Promise<void> } = await AmqpCoordination.open({
    url, name: `sb-${p.name.replace(/[^A-Za-z0-9_-]/g, '_')}`, memberTtlMs: o.leaseTtlMs, logger,
  });
  return {
    async startService({ plan, member, bus, logger: log, create }) {
      const transport = bus.transportFor(plan.input);
      const carriage = scaleCarriage('amqp', plan.partitioned, transport);
      if (carriage === 'shared') return startSharedService({ pipeline: p.name, plan, bus, create });
      if (carriage !== 'scaled') throw carriageError(plan, transport, carriage.problem);
      return startSacScaledService({
        pipeline: p.name, plan, member, bus, coordination, partitions: o.partitions, checkpointIntervalMs: o.checkpointIntervalMs,
        roundMs: Math.max(250, Math.floor(o.leaseTtlMs / 4)), prefix: PARTITION_PREFIX, logger: log, create,
      });
    },
    close: () => coordination.close(),
  };
}

/**
 * A JetStream transport URL whose stream also captures the partitioned subjects
 * (`part.*.<subject>` for each), so partitions travel in the same stream as the rest. Only the
 * pipeline's own subjects, not all of `part.>`: streams may not overlap, and other pipelines
 * have partitions too. Other URLs are returned as they are.
 */
export function withPartitionSubjects(url: string, partitioned: readonly string[]): string {
  const q = url.indexOf('?');
  if (!/^(nats|tls):/i.test(url) || q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  const js = params.get('jetstream');
  const subjects = params.get('subjects');
  if (!js || js === '0' || js === 'false' || subjects === null) return url;
  const list = subjects.split(',').filter(Boolean);
  const wanted = partitioned.map((s) => `${PARTITION_PREFIX}.*.${s}`).filter((s) => !list.includes(s));
  if (wanted.length === 0) return url;
  params.set('subjects', [...list, ...wanted].join(','));
  return `${url.slice(0, q)}?${params.toString()}`;
}

/**
 * The nats.js connection options of a nats:// URL, exactly as its transport connects: a
 * comma-separated host list and a `servers` parameter both count, and credentials, token, creds
 * and TLS stay connection options (never written into each server URL).
 */
export async function natsConnectionOptionsOf(url: string): Promise<ConnectionOptions> {
  if (!/^(nats|tls):\/\//i.test(url)) throw new OptionsInvalidError(`"${url.replace(/\/\/[^@/]*@/, '//***@')}" is not a nats:// URL`, { details: { field: 'scale.url' } });
  const u = splitServerList(url).url;
  // Only the connection matters here: the stream settings are the transport's business.
  u.searchParams.delete('jetstream');
  return natsConnectionOptions(resolveNatsOptions(natsOptionsFromUrl(u)));
}

/** The `replicas` of a JetStream URL (the stream's), so the KV buckets match it; 1 when absent. */
function replicasOf(url: string): number {
  const q = url.indexOf('?');
  const raw = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get('replicas');
  const n = raw === null ? 1 : Number(raw);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** A scaled service whose input travels where its coordination cannot carry it (`scaleCarriage`). */
function carriageError(plan: ServicePlan, transport: Transport, problem: string): OptionsInvalidError {
  return new OptionsInvalidError(`scale: service ${plan.name} reads ${plan.input} from transport ${transport.name}${problem}`,
    { details: { field: 'scale', service: plan.name, input: plan.input } });
}
