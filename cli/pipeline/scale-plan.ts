import type { PipelineService } from './load.js';

/** The subject template each kind publishes to when its config names none. */
const DEFAULT_OUTPUT: Record<string, string | undefined> = {
  ingest: 'sensor.reading.{deviceId}',
  aggregate: 'sensor.aggregate.{key}',
  alert: 'alerts.{key}',
};

/** What scale-out does with one service of a pipeline. */
export interface ServicePlan {
  name: string;
  /** Its input pattern. */
  input: string;
  /**
   * True when another service of the pipeline publishes into its input: the input then travels
   * partitioned, and the service's work is split into `partitions` leases. False for input from
   * outside (devices): one lease, one owner at a time.
   */
  partitioned: boolean;
}

/**
 * Which inputs travel partitioned: those some service of the same pipeline publishes into, and
 * the outside inputs the server partitions itself (`partitionedInputs`: a NATS mapping to
 * `part.{{partition(P,i)}}.<subject>`). The pipeline's own outputs that nobody inside consumes
 * (alerts, aggregates) keep their plain subjects, so outside consumers subscribe to them as before.
 */
export function planScale(services: readonly PipelineService[], partitionedInputs: readonly string[] = []): { services: ServicePlan[]; partitionedSubjects: string[] } {
  const outputs = services.map((s) => outputPattern(s)).filter((o): o is string => o !== undefined);
  const plans = services.map((s) => {
    const input = String(s.config.input);
    // Input from outside that the server itself partitions (a NATS subject mapping) counts as fed inside.
    return { name: s.name ?? s.kind, input, partitioned: partitionedInputs.includes(input) || outputs.some((o) => patternsOverlap(o, input)) };
  });
  return { services: plans, partitionedSubjects: [...new Set(plans.filter((p) => p.partitioned).map((p) => p.input))] };
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
