import { Counter, Registry } from 'prom-client';
import { formatMetricField, validateMetricField, type MetricField } from './metric-field.js';

/** Aggregate of one field over one interval (what a `metric.field` batch carries per field). */
export interface MetricFieldStats {
  field: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  unit?: string;
}

/** The data of a `metric.field` envelope: one batch per service per interval. */
export interface MetricBatch {
  service: string;
  start: string;
  end: string;
  fields: MetricFieldStats[];
}

/** A handle to one field; `add` is what the hot path calls (no string work). */
export class FieldCounter {
  count = 0; sum = 0; min = Infinity; max = -Infinity;
  totalCount = 0; totalSum = 0;
  private exportedCount = 0; private exportedSum = 0;

  constructor(readonly field: MetricField, readonly text: string, readonly unit?: string) {}

  add(value = 1): void {
    this.count++; this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Moves the interval into the totals and returns it (undefined when nothing happened). */
  take(): MetricFieldStats | undefined {
    if (this.count === 0) return undefined;
    const stats: MetricFieldStats = { field: this.text, count: this.count, sum: this.sum, min: this.min, max: this.max };
    if (this.unit !== undefined) stats.unit = this.unit;
    this.totalCount += this.count; this.totalSum += this.sum;
    this.count = 0; this.sum = 0; this.min = Infinity; this.max = -Infinity;
    return stats;
  }

  /** Counts since the last call, for Prometheus counters. */
  exportDelta(): { count: number; sum: number } {
    const count = this.totalCount + this.count - this.exportedCount;
    const sum = this.totalSum + this.sum - this.exportedSum;
    this.exportedCount += count; this.exportedSum += sum;
    return { count, sum };
  }
}

export interface MetricsOptions {
  /** Query keys that become Prometheus labels (others are left out to bound cardinality). */
  labelQueryKeys?: string[];
  /** Registry to expose on; a new one per recorder by default. */
  registry?: Registry;
}

/**
 * Counts metric fields locally. `take()` yields one batch per interval; the Bus publishes it as a
 * `metric.field` envelope on `signalbus.metrics.<app>`. `prometheus()` renders the totals.
 *
 * @example
 * const rec = new MetricsRecorder('filter');
 * rec.counter({ app: 'filter', context: 'sensor.reading', event: 'received', action: 'forwarded' }).add();
 */
export class MetricsRecorder {
  private readonly counters = new Map<string, FieldCounter>();
  private intervalStart = new Date();
  readonly registry: Registry;
  private readonly labelQueryKeys: string[];
  private readonly promCount: Counter<string>;
  private readonly promSum: Counter<string>;

  constructor(readonly service: string, options: MetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    this.labelQueryKeys = [...(options.labelQueryKeys ?? [])].sort();
    const labelNames = ['service', 'container', 'context', 'event', 'action', ...this.labelQueryKeys];
    const sync = () => this.syncPrometheus();
    this.promCount = new Counter({ name: 'signalbus_metric_fields_total', help: 'Metric fields counted, by service:context event action', labelNames, registers: [this.registry], collect: sync });
    this.promSum = new Counter({ name: 'signalbus_metric_field_value_sum', help: 'Sum of the values metric fields carried (e.g. latency ms)', labelNames, registers: [this.registry] });
  }

  /** The counter for a field, made (and validated) once. */
  counter(field: MetricField, unit?: string): FieldCounter {
    const text = formatMetricField(field);
    const key = unit === undefined ? text : `${text}|${unit}`;
    let c = this.counters.get(key);
    if (!c) {
      validateMetricField(field);
      c = new FieldCounter(field, text, unit);
      this.counters.set(key, c);
    }
    return c;
  }

  record(field: MetricField, value?: number, unit?: string): void {
    this.counter(field, unit).add(value);
  }

  /** Everything counted since the last call, or undefined when nothing was. */
  take(): MetricBatch | undefined {
    const end = new Date();
    const fields: MetricFieldStats[] = [];
    for (const c of this.counters.values()) {
      const s = c.take();
      if (s) fields.push(s);
    }
    const start = this.intervalStart;
    this.intervalStart = end;
    if (fields.length === 0) return undefined;
    return { service: this.service, start: start.toISOString(), end: end.toISOString(), fields };
  }

  /** Totals (this interval included) per field text. */
  totals(): Map<string, { count: number; sum: number }> {
    const out = new Map<string, { count: number; sum: number }>();
    for (const c of this.counters.values()) {
      const prev = out.get(c.text) ?? { count: 0, sum: 0 };
      out.set(c.text, { count: prev.count + c.totalCount + c.count, sum: prev.sum + c.totalSum + c.sum });
    }
    return out;
  }

  /** Prometheus text exposition of the totals. */
  async prometheus(): Promise<string> {
    return this.registry.metrics();
  }

  private syncPrometheus(): void {
    for (const c of this.counters.values()) {
      const { count, sum } = c.exportDelta();
      if (count === 0) continue;
      const f = c.field;
      const labels: Record<string, string> = { service: f.app, container: f.container ?? '', context: f.context, event: f.event, action: f.action };
      for (const k of this.labelQueryKeys) labels[k] = f.query?.[k] ?? '';
      this.promCount.inc(labels, count);
      if (sum !== count || c.unit !== undefined) this.promSum.inc(labels, sum);
    }
  }
}
