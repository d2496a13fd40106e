import type { Registry } from 'prom-client';
import { OptionsInvalidError } from './errors.js';
import type { Logger } from './logger.js';
import { formatMetricField, type MetricField } from './metric-field.js';
import { fieldMetricsRegistry } from './metrics-exposition.js';

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

/** The labels every series has, before the allow-listed query keys. */
export const BASE_LABELS = ['service', 'container', 'context', 'event', 'action'] as const;
/** The context (and, for a series, event and action) of what was folded past a bound. */
export const OVERFLOW_CONTEXT = '_other_';
/** Default bound on a recorder's distinct series (Prometheus label sets). */
export const MAX_SERIES = 10_000;
/** Default bound on a recorder's distinct field texts (query included). */
export const MAX_FIELDS = 10_000;

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * One Prometheus series: the totals of every field with the same labels (service, container,
 * context, event, action and the allow-listed query keys), since the recorder was made.
 */
export interface FieldSeries {
  /** Label values, in the order of `BASE_LABELS` then the recorder's `labelQueryKeys`. */
  readonly values: readonly string[];
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Some field of it carries a value (a unit, or values other than 1): sum, min and max mean something. */
  valued: boolean;
}

/**
 * A handle to one field; `add` is what the hot path calls (no string work). It stays usable after
 * the recorder let go of it (see `MetricsRecorder`): the next `add` finds the live handle.
 */
export class FieldCounter {
  /** This interval (what the next batch carries). */
  count = 0; sum = 0; min = Infinity; max = -Infinity;
  /** Earlier intervals. */
  totalCount = 0; totalSum = 0;
  /** Let go of by the recorder while idle; `add` goes through `reattach`. */
  detached = false;
  /** The part of this interval already added to the series. */
  private syncedCount = 0; private syncedSum = 0;

  constructor(readonly field: MetricField, readonly text: string, readonly unit: string | undefined,
    readonly key: string, private readonly series: FieldSeries, private readonly owner: MetricsRecorder) {}

  add(value = 1): void {
    if (this.detached) { this.owner.reattach(this).add(value); return; }
    this.count++; this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Adds what the series has not seen of this interval to it. */
  sync(): void {
    const count = this.count - this.syncedCount;
    if (count === 0) return;
    const sum = this.sum - this.syncedSum;
    const s = this.series;
    s.count += count; s.sum += sum;
    if (this.min < s.min) s.min = this.min;
    if (this.max > s.max) s.max = this.max;
    if (sum !== count || this.unit !== undefined) s.valued = true;
    this.syncedCount = this.count; this.syncedSum = this.sum;
  }

  /** Moves the interval into the totals and returns it (undefined when nothing happened). */
  take(): MetricFieldStats | undefined {
    if (this.count === 0) return undefined;
    this.sync();
    const stats: MetricFieldStats = { field: this.text, count: this.count, sum: this.sum, min: this.min, max: this.max };
    if (this.unit !== undefined) stats.unit = this.unit;
    this.totalCount += this.count; this.totalSum += this.sum;
    this.count = 0; this.sum = 0; this.min = Infinity; this.max = -Infinity;
    this.syncedCount = 0; this.syncedSum = 0;
    return stats;
  }
}

export interface MetricsOptions {
  /**
   * Query keys that become Prometheus labels (others are left out to bound cardinality). Each
   * must be a Prometheus label name other than the base labels. Allow-list only keys with few
   * values: the series bound still applies.
   */
  labelQueryKeys?: string[];
  /** Distinct series (label sets) at most; past it new ones fold into one `_other_` series. Default 10,000. */
  maxSeries?: number;
  /** Distinct field texts kept at most; idle ones are let go first, then new ones fold into `_other_`. Default 10,000. */
  maxFields?: number;
  /** Where the one warning about a bound goes. */
  logger?: Logger;
  /** Registry `registry` registers this recorder's metrics in (one recorder per registry); a new one by default. */
  registry?: Registry;
}

/**
 * Counts metric fields locally. `take()` yields one batch per interval; the Bus publishes it as a
 * `metric.field` envelope on `signalbus.metrics.<app>`. Prometheus sees series: fields summed by
 * their labels, where the query is left out but for `labelQueryKeys`.
 *
 * Memory is bounded whatever callers count. Series: at most `maxSeries`, then new label sets fold
 * into one series per service with context, event and action `_other_`. Field texts (which carry
 * the whole query, e.g. one per device): at most `maxFields`; when full, fields idle since the
 * last batch are let go (their totals live on in the series), and if none is idle, a new field is
 * counted in the batch as `<service>:_other_ <event> <action>` (its series is still its own).
 * Each bound logs one warning.
 *
 * @example
 * const rec = new MetricsRecorder('filter');
 * rec.counter({ app: 'filter', context: 'sensor.reading', event: 'received', action: 'forwarded' }).add();
 */
export class MetricsRecorder {
  readonly labelQueryKeys: readonly string[];
  private readonly fields = new Map<string, FieldCounter>();
  /** Handles of fields counted past `maxFields`, by series and unit (never let go). */
  private readonly overflowFields = new Map<string, FieldCounter>();
  private readonly series = new Map<string, FieldSeries>();
  private readonly overflowSeries = new Map<string, FieldSeries>();
  private readonly maxSeries: number;
  private readonly maxFields: number;
  private readonly logger: Logger | undefined;
  private intervalStart = new Date();
  /** Whether a sweep for idle fields could free anything (once per interval). */
  private sweepable = true;
  private warned = { series: false, fields: false };
  private ownRegistry: Registry | undefined;

  constructor(readonly service: string, options: MetricsOptions = {}) {
    this.labelQueryKeys = checkLabelQueryKeys(options.labelQueryKeys ?? []);
    this.maxSeries = bound(options.maxSeries, MAX_SERIES, 'maxSeries');
    this.maxFields = bound(options.maxFields, MAX_FIELDS, 'maxFields');
    this.logger = options.logger;
    if (options.registry) this.ownRegistry = fieldMetricsRegistry(this.labelQueryKeys, () => [this], options.registry);
  }

  /** Field texts held now (bounded by `maxFields`, plus the overflow handles). */
  get fieldCount(): number { return this.fields.size + this.overflowFields.size; }

  /** Series held now (bounded by `maxSeries`, plus one overflow series per service). */
  get seriesCount(): number { return this.series.size + this.overflowSeries.size; }

  /** The counter for a field, made (and validated) once. */
  counter(field: MetricField, unit?: string): FieldCounter {
    const text = formatMetricField(field);
    const key = unit === undefined ? text : `${text}|${unit}`;
    const known = this.fields.get(key);
    if (known) return known;
    const series = this.seriesFor(field);
    if (this.fields.size >= this.maxFields && !this.makeRoom()) return this.overflowField(field, unit, series);
    const c = new FieldCounter(field, text, unit, key, series, this);
    this.fields.set(key, c);
    return c;
  }

  record(field: MetricField, value?: number, unit?: string): void {
    this.counter(field, unit).add(value);
  }

  /** The live handle for one that was let go: itself again, the one made since, or an overflow one. */
  reattach(c: FieldCounter): FieldCounter {
    const live = this.fields.get(c.key);
    if (live) return live;
    if (this.fields.size >= this.maxFields && !this.makeRoom()) return this.overflowField(c.field, c.unit, this.seriesFor(c.field));
    c.detached = false;
    this.fields.set(c.key, c);
    return c;
  }

  /** Everything counted since the last call, or undefined when nothing was. */
  take(): MetricBatch | undefined {
    const end = new Date();
    const byText = new Map<string, MetricFieldStats>();
    // Past half the bound, fields idle for a whole interval are let go now, not when it is full.
    const letGo = this.fields.size > this.maxFields / 2;
    for (const c of this.fields.values()) {
      const s = c.take();
      if (s) merge(byText, s);
      else if (letGo) this.detach(c);
    }
    for (const c of this.overflowFields.values()) {
      const s = c.take();
      if (s) merge(byText, s);
    }
    this.sweepable = true;
    const start = this.intervalStart;
    this.intervalStart = end;
    if (byText.size === 0) return undefined;
    return { service: this.service, start: start.toISOString(), end: end.toISOString(), fields: [...byText.values()] };
  }

  /** Totals (this interval included) per field text, of the fields held now. */
  totals(): Map<string, { count: number; sum: number }> {
    const out = new Map<string, { count: number; sum: number }>();
    for (const c of [...this.fields.values(), ...this.overflowFields.values()]) {
      const prev = out.get(c.text) ?? { count: 0, sum: 0 };
      out.set(c.text, { count: prev.count + c.totalCount + c.count, sum: prev.sum + c.totalSum + c.sum });
    }
    return out;
  }

  /** Every series, up to date (the current interval included). */
  currentSeries(): FieldSeries[] {
    for (const c of this.fields.values()) c.sync();
    for (const c of this.overflowFields.values()) c.sync();
    return [...this.series.values(), ...this.overflowSeries.values()];
  }

  /**
   * A prom-client registry with this recorder's series alone (to merge into an application's
   * own). A gateway's `/metrics` shows every Bus in the process instead: `processMetrics`.
   */
  get registry(): Registry {
    this.ownRegistry ??= fieldMetricsRegistry(this.labelQueryKeys, () => [this]);
    return this.ownRegistry;
  }

  /** Prometheus text exposition of this recorder's series. */
  async prometheus(): Promise<string> {
    return this.registry.metrics();
  }

  private seriesFor(f: MetricField): FieldSeries {
    const values = [f.app, f.container ?? '', f.context, f.event, f.action];
    for (const k of this.labelQueryKeys) values.push(f.query?.[k] ?? '');
    const key = JSON.stringify(values);
    const known = this.series.get(key);
    if (known) return known;
    if (this.series.size >= this.maxSeries) {
      this.warnOnce('series', `metric series past ${this.maxSeries}: new label sets are counted under context "${OVERFLOW_CONTEXT}"`, { maxSeries: this.maxSeries, field: formatMetricField(f) });
      const overflowValues = [f.app, f.container ?? '', OVERFLOW_CONTEXT, OVERFLOW_CONTEXT, OVERFLOW_CONTEXT, ...this.labelQueryKeys.map(() => '')];
      const overflowKey = JSON.stringify(overflowValues.slice(0, 2));
      let overflow = this.overflowSeries.get(overflowKey);
      if (!overflow) { overflow = newSeries(overflowValues); this.overflowSeries.set(overflowKey, overflow); }
      return overflow;
    }
    const s = newSeries(values);
    this.series.set(key, s);
    return s;
  }

  /** Lets go of the fields idle since the last batch (once per interval); true when that made room. */
  private makeRoom(): boolean {
    if (this.sweepable) {
      this.sweepable = false;
      for (const c of this.fields.values()) if (c.count === 0) this.detach(c);
    }
    return this.fields.size < this.maxFields;
  }

  private detach(c: FieldCounter): void {
    c.detached = true;
    this.fields.delete(c.key);
  }

  private overflowField(f: MetricField, unit: string | undefined, series: FieldSeries): FieldCounter {
    const key = `${JSON.stringify(series.values)}|${unit ?? ''}`;
    let c = this.overflowFields.get(key);
    if (!c) {
      this.warnOnce('fields', `metric fields past ${this.maxFields}, none idle: new ones are counted in batches under context "${OVERFLOW_CONTEXT}"`, { maxFields: this.maxFields, field: formatMetricField(f) });
      const field: MetricField = { app: f.app, context: OVERFLOW_CONTEXT, event: f.event, action: f.action, ...(f.container === undefined ? {} : { container: f.container }) };
      c = new FieldCounter(field, formatMetricField(field), unit, key, series, this);
      this.overflowFields.set(key, c);
    }
    return c;
  }

  private warnOnce(which: 'series' | 'fields', message: string, fields: Record<string, unknown>): void {
    if (this.warned[which]) return;
    this.warned[which] = true;
    this.logger?.warn(message, { service: this.service, ...fields });
  }
}

function newSeries(values: string[]): FieldSeries {
  return { values, count: 0, sum: 0, min: Infinity, max: -Infinity, valued: false };
}

/** Adds `s` to the stats of its text (two handles may share one: an overflow one, one made after another was let go). */
function merge(byText: Map<string, MetricFieldStats>, s: MetricFieldStats): void {
  const key = s.unit === undefined ? s.field : `${s.field}|${s.unit}`;
  const prev = byText.get(key);
  if (!prev) { byText.set(key, s); return; }
  prev.count += s.count; prev.sum += s.sum;
  if (s.min < prev.min) prev.min = s.min;
  if (s.max > prev.max) prev.max = s.max;
}

function bound(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!(Number.isInteger(value) && value >= 1)) throw new OptionsInvalidError(`metrics.${field} must be an integer >= 1`, { details: { field: `metrics.${field}` } });
  return value;
}

/** Sorted, unique, each a Prometheus label name that is not a base label. */
function checkLabelQueryKeys(keys: readonly string[]): string[] {
  if (!Array.isArray(keys)) throw new OptionsInvalidError('metrics.labelQueryKeys must be a list of query keys', { details: { field: 'metrics.labelQueryKeys' } });
  for (const [i, k] of keys.entries()) {
    const field = `metrics.labelQueryKeys[${i}]`;
    if (typeof k !== 'string' || !LABEL_NAME.test(k) || k.startsWith('__')) {
      throw new OptionsInvalidError(`${field} "${String(k)}" must be a Prometheus label name ([A-Za-z_][A-Za-z0-9_]*, not starting with __)`, { details: { field } });
    }
    if ((BASE_LABELS as readonly string[]).includes(k)) throw new OptionsInvalidError(`${field} "${k}" is a label already (${BASE_LABELS.join(', ')})`, { details: { field } });
    if (keys.indexOf(k) !== i) throw new OptionsInvalidError(`${field} "${k}" is listed twice`, { details: { field } });
  }
  return [...keys].sort();
}
