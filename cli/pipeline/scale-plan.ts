import { OptionsInvalidError } from '../../core/index.js';
import type { PipelineService } from './load.js';

/** The subject template each kind publishes to when its config names none. */
const DEFAULT_OUTPUT: Record<string, string | undefined> = {
  ingest: 'sensor.reading.{deviceId}',
  aggregate: 'sensor.aggregate.{key}',
  alert: 'alerts.{key}',
};

/**
 * Kinds that are stateless and order-insensitive (a sink stores each event by its id, whatever
 * the order or the copy): they never make a subject travel partitioned, and run partitioned only
 * where the other services already partition their input.
 */
const FOLLOWERS = new Set(['sink']);

/** What scale-out does with one service of a pipeline. */
export interface ServicePlan {
  name: string;
  /** Its input pattern. */
  input: string;
  /**
   * True when its input travels partitioned: another service (not a sink) of the pipeline
   * publishes into it, or the server partitions it (`partitionedInputs`). Its work is then split
   * into `partitions` leases. False for input from outside (devices) and for a sink on a plain
   * subject: one lease, one owner at a time (or a shared subscription).
   */
  partitioned: boolean;
}

/** A follower (sink) whose input overlaps a partitioned subject without being equal to it. */
export interface FollowerConflict {
  index: number;
  name: string;
  input: string;
  /** The partitioned subjects it overlaps. */
  overlaps: string[];
}

/**
 * Which inputs travel partitioned: those some service of the same pipeline publishes into, and
 * the outside inputs the server partitions itself (`partitionedInputs`: a NATS mapping to
 * `part.{{partition(P,i)}}.<subject>`). The pipeline's own outputs that nobody inside consumes
 * (alerts, aggregates) keep their plain subjects, so outside consumers subscribe to them as before.
 *
 * Sinks do not count: they are computed from the other services. A sink whose input is exactly a
 * partitioned subject runs partitioned like its siblings there (one copy per partition); any
 * other sink runs unpartitioned on the plain subject. A sink whose input only overlaps a
 * partitioned subject would miss what travels under `part.<n>.`: refused (OptionsInvalidError).
 */
export function planScale(services: readonly PipelineService[], partitionedInputs: readonly string[] = []): { services: ServicePlan[]; partitionedSubjects: string[] } {
  const { plans, partitionedSubjects, conflicts } = planServices(services, partitionedInputs);
  const first = conflicts[0];
  if (first) throw new OptionsInvalidError(conflictMessage(first), { details: { field: `services[${first.index}].config.input`, service: first.name, input: first.input } });
  return { services: plans, partitionedSubjects };
}

/** The sinks planScale refuses, for the lint to report each at its place. */
export function followerConflicts(services: readonly PipelineService[], partitionedInputs: readonly string[] = []): FollowerConflict[] {
  return planServices(services, partitionedInputs).conflicts;
}

export function conflictMessage(c: FollowerConflict): string {
  return `scale: sink ${c.name} reads ${c.input}, which overlaps the partitioned subject${c.overlaps.length > 1 ? 's' : ''} ${c.overlaps.join(', ')} without being equal to it; `
    + 'what travels partitioned would not reach it. Give it exactly one partitioned subject as input (one sink per subject), or a subject no other service reads';
}

function planServices(services: readonly PipelineService[], partitionedInputs: readonly string[]) {
  const outputs = services.map((s) => outputPattern(s)).filter((o): o is string => o !== undefined);
  const leaders = services.map((s) => {
    const input = String(s.config.input);
    // Input from outside that the server itself partitions (a NATS subject mapping) counts as fed inside.
    return { name: s.name ?? s.kind, input, partitioned: partitionedInputs.includes(input) || outputs.some((o) => patternsOverlap(o, input)) };
  });
  const follower = (i: number) => FOLLOWERS.has(services[i]!.kind);
  const leading = [...new Set(leaders.filter((p, i) => p.partitioned && !follower(i)).map((p) => p.input))];
  const conflicts: FollowerConflict[] = [];
  const plans = leaders.map((p, index) => {
    if (!follower(index)) return p;
    const server = partitionedInputs.includes(p.input);
    const partitioned = server || leading.includes(p.input);
    const overlaps = partitioned ? [] : [...leading, ...partitionedInputs].filter((s) => patternsOverlap(s, p.input));
    if (overlaps.length > 0) conflicts.push({ index, name: p.name, input: p.input, overlaps: [...new Set(overlaps)] });
    return { ...p, partitioned };
  });
  const partitionedSubjects = [...new Set(plans.filter((p) => p.partitioned).map((p) => p.input))];
  return { plans, partitionedSubjects, conflicts };
}

/** A service's output template as a pattern: every token holding a placeholder becomes `*`. */
export function outputPattern(s: PipelineService): string | undefined {
  const template = typeof s.config.output === 'string' ? s.config.output : DEFAULT_OUTPUT[s.kind];
  // Placeholders first: `{data.deviceId}` is one token, its dot included.
  return template?.replace(/\{[^{}]*\}/g, '{}').split('.').map((t) => (t.includes('{') ? '*' : t)).join('.');
}

/** Whether some subject matches both patterns (`*` one token, `>` one or more trailing tokens). */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === '>' || q === '>') return (p === '>' ? y.length : x.length) > i;
    if (p === undefined || q === undefined) return p === q;
    if (p !== '*' && q !== '*' && p !== q) return false;
  }
}
