import { Counter, Gauge, Registry } from 'prom-client';
import type { FieldSeries, MetricsRecorder } from './metrics.js';

/** Content type of the Prometheus text exposition. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const BASE = ['service', 'container', 'context', 'event', 'action'];

interface Merged { labels: Record<string, string>; count: number; sum: number; min: number; max: number; valued: boolean }

/**
 * The series of `recorders`, labelled with `queryKeys` (a recorder that does not allow-list a key
 * gives it ""), with equal label sets summed: two Buses with one identity are one series.
 */
function mergeSeries(recorders: Iterable<MetricsRecorder>, queryKeys: readonly string[]): Merged[] {
  const out = new Map<string, Merged>();
  for (const r of recorders) {
    const positions = queryKeys.map((k) => r.labelQueryKeys.indexOf(k));
    for (const s of r.currentSeries()) {
      if (s.count === 0) continue;
      const values = [...s.values.slice(0, BASE.length), ...positions.map((p) => (p < 0 ? '' : s.values[BASE.length + p]!))];
      const key = JSON.stringify(values);
      const prev = out.get(key);
      if (prev) { add(prev, s); continue; }
      const labels: Record<string, string> = {};
      [...BASE, ...queryKeys].forEach((name, i) => { labels[name] = values[i]!; });
      out.set(key, { labels, count: s.count, sum: s.sum, min: s.min, max: s.max, valued: s.valued });
    }
  }
  return [...out.values()];
}

function add(m: Merged, s: FieldSeries): void {
  m.count += s.count; m.sum += s.sum;
  if (s.min < m.min) m.min = s.min;
  if (s.max > m.max) m.max = s.max;
  m.valued ||= s.valued;
}

/**
 * A registry with the four field metrics of `recorders()`, read afresh on every scrape:
 * - `signalbus_metric_fields_total` (counter): fields counted;
 * - `signalbus_metric_field_value_sum`, `_min`, `_max` (gauges, since start): of the values
 *   fields carried, for series that carry one (a unit, or values other than 1). The sum is a
 *   gauge because values may be negative; `rate()` of it over the count's is the mean.
 */
export function fieldMetricsRegistry(queryKeys: readonly string[], recorders: () => Iterable<MetricsRecorder>, registry = new Registry()): Registry {
  const labelNames = [...BASE, ...queryKeys];
  const each = (fill: (m: Merged) => void) => () => { for (const m of mergeSeries(recorders(), queryKeys)) fill(m); };
  const count: Counter<string> = new Counter({
    name: 'signalbus_metric_fields_total', help: 'Metric fields counted, by service, container, context (subscription pattern or contract), event and action',
    labelNames, registers: [registry], collect: () => { count.reset(); each((m) => count.inc(m.labels, m.count))(); },
  });
  const valued = (name: string, help: string, pick: (m: Merged) => number): Gauge<string> => {
    const g: Gauge<string> = new Gauge({
      name, help, labelNames, registers: [registry],
      collect: () => { g.reset(); each((m) => { if (m.valued) g.set(m.labels, pick(m)); })(); },
    });
    return g;
  };
  valued('signalbus_metric_field_value_sum', 'Sum of the values metric fields carried (e.g. latency ms), since start', (m) => m.sum);
  valued('signalbus_metric_field_value_min', 'Smallest value a metric field carried, since start', (m) => m.min);
  valued('signalbus_metric_field_value_max', 'Largest value a metric field carried, since start', (m) => m.max);
  return registry;
}

/**
 * The metric recorders of every running Bus in this process: what a gateway's `/metrics` shows,
 * so one scrape sees every service of `signalbus run` or `demo`. A Bus joins when it starts and
 * leaves when it has stopped. Query keys are labels when any joined recorder allow-lists them.
 *
 * @example
 * res.end(await processMetrics.prometheus());
 */
export class ProcessMetrics {
  private readonly recorders = new Set<MetricsRecorder>();

  join(recorder: MetricsRecorder): void { this.recorders.add(recorder); }
  leave(recorder: MetricsRecorder): void { this.recorders.delete(recorder); }

  /** Recorders joined now. */
  get size(): number { return this.recorders.size; }

  /** Prometheus text of every joined recorder, and of `also` (e.g. a gateway's own Bus, before it started). */
  async prometheus(also: readonly MetricsRecorder[] = []): Promise<string> {
    const recorders = new Set([...this.recorders, ...also]);
    const keys = [...new Set([...recorders].flatMap((r) => r.labelQueryKeys))].sort();
    return fieldMetricsRegistry(keys, () => recorders).metrics();
  }
}

/**
 * The process-wide view. Kept on `globalThis` so that signalbus loaded twice in one process (an
 * ESM and a CommonJS copy, two bundles) still gives one view.
 */
export const processMetrics: ProcessMetrics = ((globalThis as Record<symbol, unknown>)[Symbol.for('signalbus.processMetrics')] ??= new ProcessMetrics()) as ProcessMetrics;
