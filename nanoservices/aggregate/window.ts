import { SnapshotReader } from '../snapshot.js';

/** Tumbling windows tile time; sliding (hopping) windows of `sizeMs` start every `slideMs`. */
export type WindowSpec = { kind: 'tumbling'; sizeMs: number } | { kind: 'sliding'; sizeMs: number; slideMs: number };

export type StatName = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'p50' | 'p95';
export const STAT_NAMES: readonly StatName[] = ['count', 'sum', 'min', 'max', 'avg', 'p50', 'p95'];

/**
 * Appends to `out` the start of every window that contains event time `ts` (latest first) and
 * returns it. A window `[start, start + sizeMs)` includes its start and excludes its end; starts
 * are multiples of the slide (of the size for tumbling windows), also for negative times.
 *
 * @example windowStarts({ kind: 'sliding', sizeMs: 10, slideMs: 5 }, 12, []) // [10, 5]
 */
export function windowStarts(spec: WindowSpec, ts: number, out: number[]): number[] {
  const slide = spec.kind === 'tumbling' ? spec.sizeMs : spec.slideMs;
  const last = Math.floor(ts / slide) * slide;
  for (let start = last; start > ts - spec.sizeMs; start -= slide) out.push(start);
  return out;
}

/** Per field: running stats, and the values themselves when a percentile is wanted. */
interface FieldAcc { count: number; sum: number; min: number; max: number; values?: number[] }

/** One window of one key. Plain numbers and strings only: snapshots are JSON. */
interface WindowAcc {
  start: number;
  end: number;
  count: number;
  late: number;
  revision: number;
  fields: FieldAcc[];
  lastId?: string;
  lastCorrelation?: string;
  lastTenant?: string;
  /**
   * Traceparents of the window's first TRACE_LINKS events, which its aggregate's publish span
   * links to. Not in snapshots: a window restored after a takeover links to what came since.
   */
  traces?: string[];
}

/** Most events a window's aggregate links its span to (the rest of a busy window goes unlinked). */
export const TRACE_LINKS = 32;

interface KeyState {
  /** Event time up to which windows are complete; -Infinity before the first event. */
  watermark: number;
  maxTs: number;
  /** Wall clock of the last accepted event (drives the idle close). */
  lastArrival: number;
  open: Map<number, WindowAcc>;
  /** The earliest end of an open window (Infinity: none), so most events skip looking for windows to close. */
  nextEnd: number;
  /** Emitted windows kept for late events while within the allowed lateness (`late: merge`). */
  closed: Map<number, WindowAcc>;
}

export interface FieldStats { count: number; sum?: number; min?: number; max?: number; avg?: number; p50?: number; p95?: number }

/** A window's result: what `sensor.aggregate` carries (plus the ids that caused it). */
export interface WindowResult {
  key: string;
  windowStart: number;
  windowEnd: number;
  /** Events in the window. */
  count: number;
  /** Late events merged after it was first emitted. */
  late: number;
  /** 0 when first emitted; +1 for each re-emission after a late merge. */
  revision: number;
  fields: Record<string, FieldStats>;
  /** Id, correlation id and tenant of the last event added (what a window closed by the clock carries on). */
  causationId?: string;
  correlationId?: string;
  tenant?: string;
  /** Traceparents of up to TRACE_LINKS of its events (links of the aggregate's span). */
  traceparents?: string[];
}

export type AddStatus = 'accepted' | 'late-merged' | 'late-rejected';

export interface AddOutcome {
  status: AddStatus;
  /** Windows this event closed (or, when merged late, re-emitted), oldest first. */
  emitted: WindowResult[];
}

export interface WindowAggregatorOptions {
  window: WindowSpec;
  /** Names of the numeric fields aggregated; `add` takes their values in this order. */
  fields: readonly string[];
  /** Stats reported per field. Default all. */
  stats?: readonly StatName[];
  /** Watermark = latest event time seen for the key minus this (bounded out-of-orderness). */
  watermarkDelayMs?: number;
  /** How long after its end an emitted window still takes late events (`late: merge`). */
  allowedLatenessMs?: number;
  /** Late events (all their windows emitted): `deadletter` them or `merge` them into a re-emitted window. */
  late?: 'deadletter' | 'merge';
  /** Wall-clock ms without events after which a key's watermark moves with the wall clock (0 = never). */
  idleTimeoutMs?: number;
  /** Wall-clock ms after which an idle key with no windows is forgotten. Default 1 hour. */
  keyRetentionMs?: number;
}

/**
 * A JSON snapshot of everything `add` and `advanceIdle` depend on: per key its watermark, latest
 * event time, last arrival (wall clock), open windows and the emitted windows still kept for
 * late merges. `null` stands for -Infinity (nothing seen yet), which JSON cannot hold.
 */
export interface AggregatorSnapshot {
  v: 1;
  keys: Array<{ key: string; watermark: number | null; maxTs: number | null; lastArrival: number; open: WindowAcc[]; closed: WindowAcc[] }>;
}

// Typed explicitly: TypeScript narrows after a `never` call only through an annotated reference.
const read: SnapshotReader = new SnapshotReader('aggregate snapshot');

/**
 * Per-key event-time windows with watermarks: the pure logic of the aggregate nanoservice.
 * Each key's watermark is its latest event time minus `watermarkDelayMs`; a window is emitted
 * once the watermark reaches its end. An event whose windows were all emitted already is late.
 *
 * @example
 * const agg = new WindowAggregator({ window: { kind: 'tumbling', sizeMs: 5000 }, fields: ['temperature'] });
 * agg.add('d1', 1000, [21], Date.now());
 * agg.add('d1', 6000, [22], Date.now()).emitted // [{ windowStart: 0, count: 1, fields: { temperature: … } }]
 */
export class WindowAggregator {
  private readonly keys = new Map<string, KeyState>();
  private readonly spec: WindowSpec;
  private readonly fieldNames: readonly string[];
  private readonly stats: ReadonlySet<StatName>;
  private readonly keepValues: boolean;
  private readonly delay: number;
  private readonly lateness: number;
  private readonly merge: boolean;
  private readonly idleTimeout: number;
  private readonly keyRetention: number;
  private readonly starts: number[] = [];

  constructor(options: WindowAggregatorOptions) {
    this.spec = options.window;
    this.fieldNames = options.fields;
    this.stats = new Set(options.stats ?? STAT_NAMES);
    this.keepValues = this.stats.has('p50') || this.stats.has('p95');
    this.delay = options.watermarkDelayMs ?? 0;
    this.lateness = options.allowedLatenessMs ?? 0;
    this.merge = options.late === 'merge';
    this.idleTimeout = options.idleTimeoutMs ?? 0;
    this.keyRetention = options.keyRetentionMs ?? 3_600_000;
  }

  /**
   * Adds one event. `values[i]` is the value of `fields[i]` (undefined or not finite when absent). Returns
   * whether it was taken and the windows to emit now.
   */
  add(key: string, ts: number, values: ReadonlyArray<number | undefined>, wallNow: number, id?: string, correlationId?: string, tenant?: string,
    traceparent?: string): AddOutcome {
    let state = this.keys.get(key);
    if (!state) {
      state = { watermark: -Infinity, maxTs: -Infinity, lastArrival: wallNow, open: new Map(), nextEnd: Infinity, closed: new Map() };
      this.keys.set(key, state);
    }
    const starts = this.starts;
    starts.length = 0;
    windowStarts(this.spec, ts, starts);
    let opened = 0;
    let emitted: WindowResult[] | undefined;
    for (let i = starts.length - 1; i >= 0; i--) {
      const start = starts[i]!;
      const end = start + this.spec.sizeMs;
      if (end > state.watermark) {
        let acc = state.open.get(start);
        if (!acc) {
          acc = this.newWindow(start, end);
          state.open.set(start, acc);
          if (end < state.nextEnd) state.nextEnd = end;
        }
        this.addTo(acc, values, id, correlationId, tenant, traceparent);
        opened++;
      } else if (this.merge) {
        const acc = state.closed.get(start);
        if (acc) {
          this.addTo(acc, values, id, correlationId, tenant, traceparent);
          acc.late++;
          acc.revision++;
          (emitted ??= []).push(this.result(key, acc));
        }
      }
    }
    const status: AddStatus = opened > 0 ? 'accepted' : emitted ? 'late-merged' : 'late-rejected';
    if (status === 'late-rejected') return { status, emitted: [] };
    state.lastArrival = wallNow;
    if (ts > state.maxTs) state.maxTs = ts;
    if (ts - this.delay > state.watermark) state.watermark = ts - this.delay;
    const closing = this.closeReady(key, state);
    return { status, emitted: emitted ? emitted.concat(closing) : closing };
  }

  /**
   * Moves the watermark of keys idle for `idleTimeoutMs` (wall clock) on by the wall-clock time
   * since their last event, so their windows close although no later event comes; forgets keys
   * idle past `keyRetentionMs` with nothing open. Returns the windows to emit.
   */
  advanceIdle(wallNow: number): WindowResult[] {
    const out: WindowResult[] = [];
    for (const key of this.idleKeys(wallNow)) for (const r of this.advanceIdleKey(key, wallNow)) out.push(r);
    return out;
  }

  /**
   * The first half of `advanceIdle`, for callers that close keys a few at a time: the keys idle
   * for `idleTimeoutMs` with windows to close (in key order). Forgets keys idle past
   * `keyRetentionMs` with nothing open.
   */
  idleKeys(wallNow: number): string[] {
    const out: string[] = [];
    for (const [key, state] of this.keys) {
      if (this.isIdle(state, wallNow)) out.push(key);
      else if (state.open.size === 0 && state.closed.size === 0 && wallNow - state.lastArrival >= this.keyRetention) this.keys.delete(key);
    }
    return out;
  }

  /**
   * The second half: moves one key's watermark on by the wall clock if it is (still) idle and
   * returns its windows to emit, oldest first; forgets the key when that leaves nothing open
   * and it is idle past `keyRetentionMs`.
   */
  advanceIdleKey(key: string, wallNow: number): WindowResult[] {
    const state = this.keys.get(key);
    if (state === undefined || !this.isIdle(state, wallNow)) return [];
    const idle = wallNow - state.lastArrival;
    const candidate = state.maxTs - this.delay + idle;
    if (candidate > state.watermark) state.watermark = candidate;
    const out = this.closeReady(key, state);
    if (state.open.size === 0 && state.closed.size === 0 && idle >= this.keyRetention) this.keys.delete(key);
    return out;
  }

  private isIdle(state: KeyState, wallNow: number): boolean {
    return this.idleTimeout > 0 && wallNow - state.lastArrival >= this.idleTimeout && (state.open.size > 0 || state.closed.size > 0);
  }

  /** Windows still open, over all keys. */
  get openWindows(): number {
    let n = 0;
    for (const s of this.keys.values()) n += s.open.size;
    return n;
  }

  /** The watermark of a key (undefined when the key is unknown). */
  watermarkOf(key: string): number | undefined {
    const w = this.keys.get(key)?.watermark;
    return w === undefined || w === -Infinity ? undefined : w;
  }

  /** Every key's state as a JSON-able copy (later events do not change it); take it between events. */
  snapshot(): AggregatorSnapshot {
    const keys: AggregatorSnapshot['keys'] = [];
    for (const [key, s] of this.keys) {
      keys.push({
        key, watermark: Number.isFinite(s.watermark) ? s.watermark : null, maxTs: Number.isFinite(s.maxTs) ? s.maxTs : null,
        lastArrival: s.lastArrival, open: [...s.open.values()].map(copyWindow), closed: [...s.closed.values()].map(copyWindow),
      });
    }
    return { v: 1, keys };
  }

  /**
   * Replaces all state with a snapshot's (taken by `snapshot()`, possibly by another process).
   * The windows keep the bounds they were opened with, also when the window spec changed since.
   * @throws SnapshotInvalidError when it is not a version 1 snapshot, or its windows hold another
   *   number of fields than `fields` (nothing changes then).
   * @param arrivedAt With it, every restored key counts as having just arrived then: its idle time
   *   runs from the restore, not from the saving machine's clock (a takeover comes seconds after
   *   the last save, and the keys' events are still to be replayed).
   */
  restore(snapshot: unknown, arrivedAt?: number): void {
    const s = read.object(snapshot, '(root)');
    if (s.v !== 1) read.fail('v', `must be 1 (this version reads format 1, got ${JSON.stringify(s.v)})`);
    const keys = new Map<string, KeyState>();
    read.array(s.keys, 'keys').forEach((x, i) => {
      const at = `keys[${i}]`;
      const k = read.object(x, at);
      const key = read.string(k.key, `${at}.key`);
      if (keys.has(key)) read.fail(`${at}.key`, `repeats the key "${key}"`);
      const open = read.array(k.open, `${at}.open`).map((w, j) => this.readWindow(w, `${at}.open[${j}]`));
      const closed = read.array(k.closed, `${at}.closed`).map((w, j) => this.readWindow(w, `${at}.closed[${j}]`));
      keys.set(key, {
        watermark: read.finiteOrNull(k.watermark, `${at}.watermark`) ?? -Infinity, maxTs: read.finiteOrNull(k.maxTs, `${at}.maxTs`) ?? -Infinity,
        lastArrival: arrivedAt ?? read.finite(k.lastArrival, `${at}.lastArrival`),
        open: new Map(open.map((w) => [w.start, w])), nextEnd: earliestEnd(open), closed: new Map(closed.map((w) => [w.start, w])),
      });
    });
    this.keys.clear();
    for (const [key, state] of keys) this.keys.set(key, state);
  }

  /** Checks one saved window and copies it (the snapshot stays the caller's). */
  private readWindow(x: unknown, at: string): WindowAcc {
    const w = read.object(x, at);
    const fields = read.array(w.fields, `${at}.fields`);
    if (fields.length !== this.fieldNames.length) read.fail(`${at}.fields`, `must hold ${this.fieldNames.length} fields (${this.fieldNames.join(', ')}), as configured`);
    const acc: WindowAcc = {
      start: read.finite(w.start, `${at}.start`), end: read.finite(w.end, `${at}.end`),
      count: read.integer(w.count, `${at}.count`), late: read.integer(w.late, `${at}.late`), revision: read.integer(w.revision, `${at}.revision`),
      fields: fields.map((f, i) => {
        const o = read.object(f, `${at}.fields[${i}]`);
        const acc: FieldAcc = {
          count: read.integer(o.count, `${at}.fields[${i}].count`), sum: read.finite(o.sum, `${at}.fields[${i}].sum`),
          min: read.finite(o.min, `${at}.fields[${i}].min`), max: read.finite(o.max, `${at}.fields[${i}].max`),
        };
        // Percentiles need the values: a snapshot without them (stats changed) restarts them empty.
        if (this.keepValues) acc.values = o.values === undefined ? [] : read.array(o.values, `${at}.fields[${i}].values`).map((v, j) => read.finite(v, `${at}.fields[${i}].values[${j}]`));
        return acc;
      }),
    };
    if (!(acc.end > acc.start)) read.fail(`${at}.end`, 'must be after start');
    const lastId = read.optionalString(w.lastId, `${at}.lastId`);
    const lastCorrelation = read.optionalString(w.lastCorrelation, `${at}.lastCorrelation`);
    const lastTenant = read.optionalString(w.lastTenant, `${at}.lastTenant`);
    if (lastId !== undefined) acc.lastId = lastId;
    if (lastCorrelation !== undefined) acc.lastCorrelation = lastCorrelation;
    if (lastTenant !== undefined) acc.lastTenant = lastTenant;
    return acc;
  }

  private newWindow(start: number, end: number): WindowAcc {
    const fields: FieldAcc[] = [];
    for (let i = 0; i < this.fieldNames.length; i++) fields.push(this.keepValues ? { count: 0, sum: 0, min: 0, max: 0, values: [] } : { count: 0, sum: 0, min: 0, max: 0 });
    return { start, end, count: 0, late: 0, revision: 0, fields };
  }

  private addTo(acc: WindowAcc, values: ReadonlyArray<number | undefined>, id: string | undefined, correlationId: string | undefined, tenant: string | undefined,
    traceparent: string | undefined): void {
    acc.count++;
    if (traceparent !== undefined) {
      if (acc.traces === undefined) acc.traces = [traceparent];
      else if (acc.traces.length < TRACE_LINKS) acc.traces.push(traceparent);
    }
    if (id !== undefined) acc.lastId = id;
    if (correlationId !== undefined) acc.lastCorrelation = correlationId;
    if (tenant !== undefined) acc.lastTenant = tenant;
    for (let i = 0; i < acc.fields.length; i++) {
      const v = values[i];
      // Not finite counts as absent, as in the alert: JSON (so a checkpoint) cannot carry it.
      if (v === undefined || !Number.isFinite(v)) continue;
      const f = acc.fields[i]!;
      if (f.count === 0) { f.min = v; f.max = v; } else { if (v < f.min) f.min = v; if (v > f.max) f.max = v; }
      f.count++;
      f.sum += v;
      f.values?.push(v);
    }
  }

  /** Emits (oldest first) and retires the open windows the watermark has passed. */
  private closeReady(key: string, state: KeyState): WindowResult[] {
    const out: WindowResult[] = [];
    if (state.nextEnd <= state.watermark) {
      const ready: WindowAcc[] = [];
      for (const acc of state.open.values()) if (acc.end <= state.watermark) ready.push(acc);
      if (ready.length > 1) ready.sort((a, b) => a.start - b.start);
      for (const acc of ready) {
        state.open.delete(acc.start);
        out.push(this.result(key, acc));
        if (this.merge && acc.end + this.lateness > state.watermark) state.closed.set(acc.start, acc);
      }
      state.nextEnd = earliestEnd(state.open.values());
    }
    if (state.closed.size > 0) {
      for (const acc of state.closed.values()) if (acc.end + this.lateness <= state.watermark) state.closed.delete(acc.start);
    }
    return out;
  }

  private result(key: string, acc: WindowAcc): WindowResult {
    const fields: Record<string, FieldStats> = {};
    for (let i = 0; i < this.fieldNames.length; i++) fields[this.fieldNames[i]!] = this.fieldStats(acc.fields[i]!);
    const r: WindowResult = { key, windowStart: acc.start, windowEnd: acc.end, count: acc.count, late: acc.late, revision: acc.revision, fields };
    if (acc.lastId !== undefined) r.causationId = acc.lastId;
    if (acc.lastCorrelation !== undefined) r.correlationId = acc.lastCorrelation;
    if (acc.lastTenant !== undefined) r.tenant = acc.lastTenant;
    if (acc.traces !== undefined) r.traceparents = acc.traces.slice();
    return r;
  }

  private fieldStats(f: FieldAcc): FieldStats {
    const s = this.stats;
    const out: FieldStats = { count: f.count };
    if (s.has('sum')) out.sum = f.sum;
    if (f.count === 0) return out;
    if (s.has('min')) out.min = f.min;
    if (s.has('max')) out.max = f.max;
    if (s.has('avg')) out.avg = f.sum / f.count;
    if (f.values) {
      f.values.sort(ascending);
      if (s.has('p50')) out.p50 = percentile(f.values, 50);
      if (s.has('p95')) out.p95 = percentile(f.values, 95);
    }
    return out;
  }
}

const ascending = (a: number, b: number) => a - b;

function copyWindow(w: WindowAcc): WindowAcc {
  const copy = { ...w, fields: w.fields.map((f) => (f.values ? { ...f, values: [...f.values] } : { ...f })) };
  delete copy.traces; // spans of this process: no use to the one restoring it
  return copy;
}

function earliestEnd(windows: Iterable<WindowAcc>): number {
  let end = Infinity;
  for (const w of windows) if (w.end < end) end = w.end;
  return end;
}

/** Nearest-rank percentile of sorted values (an actual observed value, never interpolated). */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}
