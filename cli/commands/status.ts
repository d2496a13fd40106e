import { parseArgs } from 'node:util';
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import { TransportConnectError } from '../../core/index.js';
import { NatsCoordination } from '../../scale/nats-coordination.js';
import { PipelineNotFoundError, UsageError } from '../errors.js';
import type { SacMemberInfo } from '../pipeline/sac-scaled-service.js';
import { natsConnectionOptionsOf } from '../pipeline/scaled-runtime.js';

export const statusHelp = `signalbus status <nats-url|amqp-url> [--pipeline <name>] [--json]

Shows who owns what in scaled pipelines (a "scale" block): per service, the live instances, the
owner of each partition, and the position (NATS) or epoch (RabbitMQ) and age of each partition's
last checkpoint. On NATS the leases are read, and without --pipeline every scaled pipeline on that
NATS is shown. On RabbitMQ (coordination "amqp") the instances' heartbeats are listened to for
3 seconds, and --pipeline is required.

Examples:
  signalbus status nats://127.0.0.1:4222 --pipeline iot-nats
  signalbus status amqp://guest:guest@127.0.0.1:5672 --pipeline iot-amqp`;

export interface PartitionStatus { partition: number; owner?: string; checkpoint?: { position?: number; epoch?: number; owner: string; ageMs: number } }
export interface ServiceStatus { service: string; members: string[]; partitions: PartitionStatus[] }
export interface PipelineStatus { pipeline: string; services: ServiceStatus[] }

const LEASES = /^KV_sb-(.+)-leases$/;

/**
 * Reads the leases and checkpoints of one scaled pipeline, or of all (`pipeline` undefined), from
 * the NATS servers given as URLs or as connection options (credentials, TLS).
 */
export async function readStatus(target: string[] | ConnectionOptions, pipeline?: string, now = Date.now()): Promise<PipelineStatus[]> {
  const options: ConnectionOptions = Array.isArray(target) ? { servers: target } : target;
  const servers = [options.servers ?? []].flat();
  let nc: NatsConnection;
  try {
    nc = await connect({ ...options, noAsyncTraces: true, name: 'signalbus-status', timeout: 5000, maxReconnectAttempts: 0 });
  } catch (cause) {
    throw new TransportConnectError(`could not connect to ${servers.join(', ')}: ${(cause as Error).message}`, { cause });
  }
  try {
    const jsm = await nc.jetstreamManager();
    const names: string[] = [];
    for await (const s of jsm.streams.list()) {
      const m = LEASES.exec(s.config.name);
      if (m) names.push(m[1]!);
    }
    const wanted = pipeline === undefined ? names.sort() : names.filter((n) => n === bucketPart(pipeline));
    const out: PipelineStatus[] = [];
    for (const part of wanted) {
      // Only buckets that exist are opened, so reading status never creates one.
      const coordination = await NatsCoordination.open({ connection: nc, name: `sb-${part}` });
      const leases = await coordination.leases.list('');
      const checkpoints = await coordination.checkpoints.list('');
      const services = new Map<string, ServiceStatus>();
      const serviceOf = (group: string): ServiceStatus => {
        let s = services.get(group);
        if (!s) services.set(group, s = { service: group, members: [], partitions: [] });
        return s;
      };
      for (const l of leases) {
        const member = /^(.+)\.m\.([^.]+)$/.exec(l.key);
        const lease = /^(.+)\.p\.(\d+)$/.exec(l.key);
        if (member) serviceOf(member[1]!).members.push(member[2]!);
        else if (lease) partitionOf(serviceOf(lease[1]!), Number(lease[2])).owner = l.value;
      }
      for (const c of checkpoints) {
        const m = /^(.+)\.p(\d+)$/.exec(c.name);
        if (!m) continue;
        partitionOf(serviceOf(m[1]!), Number(m[2])).checkpoint = { position: c.record.position, owner: c.record.owner, ageMs: Math.max(0, now - c.record.savedAt) };
      }
      for (const s of services.values()) { s.members.sort(); s.partitions.sort((a, b) => a.partition - b.partition); }
      const groups = [...services.values()].sort((a, b) => a.service.localeCompare(b.service));
      out.push({ pipeline: pipeline ?? part, services: groups });
    }
    return out;
  } finally {
    await nc.close();
  }
}

function partitionOf(s: ServiceStatus, partition: number): PartitionStatus {
  let p = s.partitions.find((x) => x.partition === partition);
  if (!p) s.partitions.push(p = { partition });
  return p;
}

/** The bucket-name form of a pipeline name (what `scale` coordination names its buckets by). */
function bucketPart(pipeline: string): string { return pipeline.replace(/[^A-Za-z0-9_-]/g, '_'); }

/**
 * Who owns what in one pipeline scaled on RabbitMQ: the heartbeats of its instances, listened to
 * for `waitMs` (a few heartbeats). Only live instances are seen; a partition nobody is active on
 * has no owner. Reads no checkpoint queue (a read holds the checkpoints for a moment, which an
 * owner loading at that moment must not see).
 */
export async function readAmqpStatus(url: string, pipeline: string, waitMs = 3000, now = Date.now()): Promise<PipelineStatus[]> {
  const { AmqpCoordination } = await import('../../scale/amqp-coordination.js');
  const seen = await AmqpCoordination.observe(url, `sb-${bucketPart(pipeline)}`, waitMs);
  const services = new Map<string, ServiceStatus>();
  for (const { group, member, info } of seen) {
    let s = services.get(group);
    if (!s) services.set(group, s = { service: group, members: [], partitions: [] });
    s.members.push(member);
    const i = info as Partial<SacMemberInfo> | undefined;
    for (const p of i?.active ?? []) {
      const x = partitionOf(s, p);
      x.owner = member;
      const cp = i?.checkpoints?.[String(p)];
      if (cp) x.checkpoint = { epoch: cp.epoch, owner: member, ageMs: Math.max(0, now - cp.savedAt) };
    }
  }
  if (services.size === 0) return [];
  for (const s of services.values()) { s.members.sort(); s.partitions.sort((a, b) => a.partition - b.partition); }
  return [{ pipeline, services: [...services.values()].sort((a, b) => a.service.localeCompare(b.service)) }];
}

/** Status as lines for a terminal. */
export function formatStatus(status: PipelineStatus[]): string {
  if (status.length === 0) return 'no scaled pipeline found (a pipeline with a "scale" block running, or on NATS one that has run there)';
  const lines: string[] = [];
  for (const p of status) {
    lines.push(`pipeline ${p.pipeline}`);
    for (const s of p.services) {
      lines.push(`  ${s.service}: ${s.members.length} live instance${s.members.length === 1 ? '' : 's'}${s.members.length ? ` (${s.members.join(', ')})` : ''}`);
      lines.push(`    ${'partition'.padEnd(10)} ${'owner'.padEnd(24)} ${'checkpoint'.padEnd(12)} age`);
      for (const x of s.partitions) {
        const age = x.checkpoint ? `${(x.checkpoint.ageMs / 1000).toFixed(1)} s` : '-';
        lines.push(`    ${String(x.partition).padEnd(10)} ${(x.owner ?? '(none)').padEnd(24)} ${String(x.checkpoint?.position ?? (x.checkpoint?.epoch !== undefined ? `epoch ${x.checkpoint.epoch}` : '-')).padEnd(12)} ${age}`);
      }
    }
  }
  return lines.join('\n');
}

export async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { pipeline: { type: 'string' }, json: { type: 'boolean' } } });
  const [url] = positionals;
  if (!url || positionals.length > 1) throw new UsageError('usage: signalbus status <nats-url|amqp-url> [--pipeline <name>] [--json]');
  const amqp = /^amqps?:\/\//i.test(url);
  if (!amqp && !/^(nats|tls):\/\//i.test(url)) throw new UsageError(`"${url.replace(/\/\/[^@/]*@/, '//***@')}" is not a nats:// or amqp:// URL; see signalbus status --help`);
  if (amqp && values.pipeline === undefined) throw new UsageError('signalbus status on RabbitMQ needs --pipeline <name> (instances are found by their heartbeats)');
  const result = amqp ? await readAmqpStatus(url, values.pipeline!) : await readStatus(await natsConnectionOptionsOf(url), values.pipeline);
  const missing = values.pipeline !== undefined && result.length === 0;
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else if (!missing) console.log(formatStatus(result));
  if (missing) throw new PipelineNotFoundError(`no scaled pipeline "${values.pipeline}" on ${url.replace(/\/\/[^@/]*@/, '//***@')}`, { details: { pipeline: values.pipeline } });
  return 0;
}
