import { OptionsInvalidError } from '../../core/index.js';
import { SnapshotReader } from '../snapshot.js';

/** `above`: raise when the value goes above `raise.value`; `below`: when it goes below. */
export type Direction = 'above' | 'below';

/** A level and how long it must hold: every given condition must be met (default: 1 reading). */
export interface Level {
  value: number;
  /** Consecutive readings past the level. Default 1. */
  forReadings?: number;
  /** Event time from the first to the latest of those readings, ms. Default 0. */
  forMs?: number;
}

interface RuleBase {
  /** Unique rule name, e.g. `overheat` (in alerts and metric queries). */
  name: string;
  /** Severity stamped on `alert.raised`. Default `warning`. */
  severity?: 'info' | 'warning' | 'critical';
  /** Data path of the observed value, e.g. `temperature` or `fields.temperature.avg`. */
  field: string;
  direction?: Direction;
  /** Raised when the value is strictly past `raise.value` for the given readings/time. */
  raise: Level;
  /**
   * Resolved when the value is back at or behind `resolve.value` (above: `<=`, below: `>=`) for
   * the given readings/time. Default: `raise.value`, 1 reading. Must not be past the raise level,
   * so that between the two levels nothing changes (hysteresis).
   */
  resolve?: Level;
}

/** The value itself against the levels. */
export interface ThresholdRule extends RuleBase { kind: 'threshold' }

/** The change per `perMs` between consecutive readings of a key (by event time). */
export interface RateRule extends RuleBase {
  kind: 'rate';
  /** Rate unit, ms. Default 1000 (per second). */
  perMs?: number;
  /** Compare the size of the change, ignoring its sign. Default false. */
  absolute?: boolean;
}

/** How many standard deviations the value is from the mean of the key's previous `window` readings. */
export interface ZScoreRule extends RuleBase {
  kind: 'zscore';
  /** Readings in the rolling window. */
  window: number;
  /** Readings needed before the rule judges. Default `min(window, 10)`. */
  minSamples?: number;
  /** Use |z| (anomalies either way). Default true. */
  absolute?: boolean;
}

export type AlertRule = ThresholdRule | RateRule | ZScoreRule;

/** An alert raised or resolved by one reading. */
export interface AlertTransition {
  type: 'raised' | 'resolved';
  rule: string;
  kind: AlertRule['kind'];
  key: string;
  field: string;
  direction: Direction;
  /** The observed value (for rate and zscore rules: the rate or z-score) of the deciding reading. */
  value: number;
  /** The level crossed: `raise.value` or `resolve.value`. */
  threshold: number;
  /** Readings in the streak that decided it. */
  readings: number;
  /** Event time of the first and the deciding reading of the streak. */
  since: number;
  at: number;
  /** Event time the alert was raised (on resolved transitions). */
  raisedAt?: number;
  /** Ids of the readings in the streak (the last `maxCausationIds`). */
  causationIds: string[];
}

interface ResolvedLevel { value: number; forReadings: number; forMs: number }

/** A `Hysteresis` machine's state, JSON-able. */
export interface HysteresisState {
  raised: boolean;
  /** Event time it was raised (only while raised). */
  raisedAt?: number;
  /** Readings in the current streak past the level in force, and the event time of its first. */
  streak: number;
  streakStart: number;
  /** Ids of the streak's readings (the last `maxIds`). */
  ids: string[];
}

/**
 * A two-level state machine: raise once past `raise` for long enough, then resolve once back
 * behind `resolve` for long enough. Readings between the levels break a streak and change
 * nothing else, so a value hovering near one level cannot make the alert flap.
 *
 * @example
 * const h = new Hysteresis('above', { value: 80, forReadings: 3, forMs: 0 }, { value: 75, forReadings: 3, forMs: 0 });
 * h.observe(81, 1, 'a'); h.observe(82, 2, 'b'); h.observe(83, 3, 'c') // { type: 'raised', … }
 */
export class Hysteresis {
  raised = false;
  raisedAt?: number;
  private streak = 0;
  private streakStart = 0;
  private ids: string[] = [];

  constructor(readonly direction: Direction, readonly raise: ResolvedLevel, readonly resolve: ResolvedLevel, private readonly maxIds = 20) {}

  observe(value: number, ts: number, id: string): { type: 'raised' | 'resolved'; threshold: number; readings: number; since: number; raisedAt?: number; ids: string[] } | undefined {
    const above = this.direction === 'above';
    const level = this.raised ? this.resolve : this.raise;
    const past = this.raised ? (above ? value <= level.value : value >= level.value) : (above ? value > level.value : value < level.value);
    if (!past) {
      this.streak = 0;
      this.ids.length = 0;
      return undefined;
    }
    if (this.streak === 0) this.streakStart = ts;
    this.streak++;
    this.ids.push(id);
    if (this.ids.length > this.maxIds) this.ids.shift();
    if (this.streak < level.forReadings || ts - this.streakStart < level.forMs) return undefined;
    const out = { type: this.raised ? 'resolved' as const : 'raised' as const, threshold: level.value, readings: this.streak, since: this.streakStart, ids: this.ids };
    if (this.raised) { Object.assign(out, { raisedAt: this.raisedAt }); this.raisedAt = undefined; } else this.raisedAt = ts;
    this.raised = !this.raised;
    this.streak = 0;
    this.ids = [];
    return out;
  }

  /** Its state, JSON-able. */
  snapshot(): HysteresisState {
    const s: HysteresisState = { raised: this.raised, streak: this.streak, streakStart: this.streakStart, ids: [...this.ids] };
    if (this.raisedAt !== undefined) s.raisedAt = this.raisedAt;
    return s;
  }

  /** Takes over a state from `snapshot()` (of a machine with the same levels, possibly elsewhere). */
  restore(s: HysteresisState): void {
    this.raised = s.raised;
    this.raisedAt = s.raised ? s.raisedAt : undefined;
    this.streak = s.streak;
    this.streakStart = s.streakStart;
    this.ids = s.ids.slice(-this.maxIds);
  }
}

/** A z-score rule's rolling window, JSON-able: the running sums too, so a restore continues bit for bit. */
export interface RollingStatsState { values: number[]; next: number; sum: number; sumSq: number; sinceRecompute: number }

/** Rolling window of numbers with O(1) mean and standard deviation. */
class RollingStats {
  private readonly ring: number[] = [];
  private next = 0;
  private sum = 0;
  private sumSq = 0;
  private sinceRecompute = 0;

  constructor(private readonly size: number) {}

  get count(): number { return this.ring.length; }

  push(v: number): void {
    if (this.ring.length < this.size) this.ring.push(v);
    else {
      const old = this.ring[this.next]!;
      this.sum -= old; this.sumSq -= old * old;
      this.ring[this.next] = v;
      this.next = (this.next + 1) % this.size;
    }
    this.sum += v; this.sumSq += v * v;
    // Running sums drift with floating-point error; rebuild them once per window.
    if (++this.sinceRecompute >= this.size) {
      this.sinceRecompute = 0;
      this.sum = 0; this.sumSq = 0;
      for (const x of this.ring) { this.sum += x; this.sumSq += x * x; }
    }
  }

  mean(): number { return this.sum / this.ring.length; }

  snapshot(): RollingStatsState {
    return { values: [...this.ring], next: this.next, sum: this.sum, sumSq: this.sumSq, sinceRecompute: this.sinceRecompute };
  }

  /** `s` has been checked against this window's size (see `readStats`). */
  restore(s: RollingStatsState): void {
    this.ring.length = 0;
    this.ring.push(...s.values);
    this.next = s.next; this.sum = s.sum; this.sumSq = s.sumSq; this.sinceRecompute = s.sinceRecompute;
  }

  std(): number {
    const m = this.mean();
    return Math.sqrt(Math.max(0, this.sumSq / this.ring.length - m * m));
  }
}

// A flat history has no spread; a floor keeps z finite (and huge) for any change.
const MIN_STD = 1e-9;

interface RuleState { machine: Hysteresis; prev?: { v: number; ts: number }; stats?: RollingStats }

/**
 * Everything `AlertEvaluator.evaluate` depends on, JSON-able: what a checkpoint stores and a
 * takeover restores (`AlertEvaluator.snapshot()` / `restore()`).
 */
export interface AlertSnapshot {
  /** Format version; `restore` reads 1. */
  v: 1;
  /** The rules the states were kept for, in the order of each key's `states`. */
  rules: Array<{ name: string; kind: AlertRule['kind']; window?: number }>;
  keys: Array<{ key: string; states: AlertRuleState[] }>;
}

/** One rule's state for one key: its hysteresis, plus the baseline reading (rate) or the rolling window (zscore). */
export interface AlertRuleState extends HysteresisState {
  prev?: { v: number; ts: number };
  stats?: RollingStatsState;
}

const KINDS: Record<AlertRule['kind'], true> = { threshold: true, rate: true, zscore: true };
// Typed explicitly: TypeScript narrows after a `never` call only through an annotated reference.
const read: SnapshotReader = new SnapshotReader('alert snapshot');

function fail(message: string, field: string): never {
  throw new OptionsInvalidError(`${field} ${message}`, { details: { field } });
}

function level(l: unknown, field: string): ResolvedLevel {
  if (l === null || typeof l !== 'object') fail('must be { value, forReadings?, forMs? }', field);
  const { value, forReadings = 1, forMs = 0 } = l as Level;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail('must be a finite number', `${field}.value`);
  if (!Number.isInteger(forReadings) || forReadings < 1) fail('must be an integer >= 1', `${field}.forReadings`);
  if (!Number.isInteger(forMs) || forMs < 0) fail('must be an integer >= 0', `${field}.forMs`);
  return { value, forReadings, forMs };
}

/** Checks a rule list; errors name the field (`rules[1].resolve.value`). */
export function validateRules(rules: unknown): AlertRule[] {
  if (!Array.isArray(rules) || rules.length === 0) fail('must list at least one rule', 'rules');
  const names = new Set<string>();
  rules.forEach((r: AlertRule, i) => {
    const at = `rules[${i}]`;
    if (r === null || typeof r !== 'object') fail('must be an object', at);
    if (typeof r.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(r.name)) fail('must match [A-Za-z0-9._-]+', `${at}.name`);
    if (names.has(r.name)) fail(`repeats the rule name "${r.name}"`, `${at}.name`);
    names.add(r.name);
    if (!['threshold', 'rate', 'zscore'].includes(r.kind)) fail('must be threshold, rate or zscore', `${at}.kind`);
    if (r.severity !== undefined && !['info', 'warning', 'critical'].includes(r.severity)) fail('must be info, warning or critical', `${at}.severity`);
    if (typeof r.field !== 'string' || r.field.length === 0) fail('must be a data path', `${at}.field`);
    const direction = r.direction ?? 'above';
    if (direction !== 'above' && direction !== 'below') fail('must be above or below', `${at}.direction`);
    const raise = level(r.raise, `${at}.raise`);
    const resolve = r.resolve === undefined ? { ...raise, forReadings: 1, forMs: 0 } : level(r.resolve, `${at}.resolve`);
    if (direction === 'above' ? resolve.value > raise.value : resolve.value < raise.value) {
      fail(`must be ${direction === 'above' ? '<=' : '>='} raise.value (${raise.value}) for hysteresis`, `${at}.resolve.value`);
    }
    if (r.kind === 'rate' && r.perMs !== undefined && !(Number.isInteger(r.perMs) && r.perMs > 0)) fail('must be a positive integer', `${at}.perMs`);
    if (r.kind === 'zscore') {
      if (!Number.isInteger(r.window) || r.window < 2) fail('must be an integer >= 2', `${at}.window`);
      if (r.minSamples !== undefined && !(Number.isInteger(r.minSamples) && r.minSamples >= 2 && r.minSamples <= r.window)) fail('must be an integer in 2..window', `${at}.minSamples`);
    }
  });
  return rules as AlertRule[];
}

/**
 * Evaluates alert rules per key: the pure logic of the alert nanoservice. Feed it each reading
 * of a key in order; it returns the alerts raised or resolved by that reading.
 *
 * @example
 * const ev = new AlertEvaluator([{ name: 'overheat', kind: 'threshold', field: 'temperature',
 *   raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } }]);
 * ev.evaluate('d1', 1000, 'msg-1', [81]) // [] until the third reading above 80
 */
export class AlertEvaluator {
  readonly rules: readonly AlertRule[];
  private readonly keys = new Map<string, RuleState[]>();

  constructor(rules: AlertRule[], private readonly maxCausationIds = 20) {
    this.rules = validateRules(rules);
  }

  /** `values[i]` is the value of `rules[i].field` in the reading (undefined or not finite when absent: the rule skips it). */
  evaluate(key: string, ts: number, id: string, values: ReadonlyArray<number | undefined>): AlertTransition[] {
    let states = this.keys.get(key);
    if (!states) { states = this.rules.map((r) => this.newState(r)); this.keys.set(key, states); }
    let out: AlertTransition[] | undefined;
    for (let i = 0; i < this.rules.length; i++) {
      const v = values[i];
      // NaN and ±Infinity count as absent: they would poison the rolling sums, and JSON (so a
      // checkpoint) cannot carry them.
      if (v === undefined || !Number.isFinite(v)) continue;
      const rule = this.rules[i]!;
      const state = states[i]!;
      const observed = this.observed(rule, state, v, ts);
      if (observed === undefined) continue;
      const t = state.machine.observe(observed, ts, id);
      if (!t) continue;
      const transition: AlertTransition = {
        type: t.type, rule: rule.name, kind: rule.kind, key, field: rule.field, direction: state.machine.direction,
        value: observed, threshold: t.threshold, readings: t.readings, since: t.since, at: ts, causationIds: t.ids,
      };
      if (t.raisedAt !== undefined) transition.raisedAt = t.raisedAt;
      (out ??= []).push(transition);
    }
    return out ?? [];
  }

  /** Whether `rule` is raised for `key`. */
  isRaised(key: string, rule: string): boolean {
    const i = this.rules.findIndex((r) => r.name === rule);
    return i >= 0 && this.keys.get(key)?.[i]?.machine.raised === true;
  }

  /**
   * Every key's state, JSON-able; take it between readings. `restore` on an evaluator with the
   * same rules continues exactly where this one stands.
   * @example const next = new AlertEvaluator(rules); next.restore(JSON.parse(JSON.stringify(ev.snapshot())));
   */
  snapshot(): AlertSnapshot {
    const keys: AlertSnapshot['keys'] = [];
    for (const [key, states] of this.keys) {
      keys.push({
        key,
        states: states.map((st) => {
          const out: AlertRuleState = st.machine.snapshot();
          if (st.prev) out.prev = { v: st.prev.v, ts: st.prev.ts };
          if (st.stats) out.stats = st.stats.snapshot();
          return out;
        }),
      });
    }
    return { v: 1, rules: this.rules.map((r) => (r.kind === 'zscore' ? { name: r.name, kind: r.kind, window: r.window } : { name: r.name, kind: r.kind })), keys };
  }

  /**
   * Replaces every key's state with a snapshot's (from `snapshot()`, possibly of another process).
   * States are matched to rules by name: a rule the snapshot lacks, or kept as another kind,
   * starts fresh; a z-score rule whose window size changed keeps its hysteresis and starts its
   * window empty; rules no longer configured are dropped.
   * @throws SnapshotInvalidError when the snapshot is not a version 1 alert snapshot (nothing changes then).
   */
  restore(snapshot: unknown): void {
    const s = read.object(snapshot, '(root)');
    if (s.v !== 1) read.fail('v', `must be 1 (this version reads format 1, got ${JSON.stringify(s.v)})`);
    const saved = read.array(s.rules, 'rules').map((r, i) => {
      const o = read.object(r, `rules[${i}]`);
      const kind = read.string(o.kind, `rules[${i}].kind`) as AlertRule['kind'];
      if (!Object.hasOwn(KINDS, kind)) read.fail(`rules[${i}].kind`, 'must be threshold, rate or zscore');
      return { name: read.string(o.name, `rules[${i}].name`), kind, window: o.window === undefined ? undefined : read.integer(o.window, `rules[${i}].window`, 2) };
    });
    // For each configured rule: where its state sits in the snapshot's lists, and whether its window carries over.
    const from = this.rules.map((rule) => {
      const j = saved.findIndex((r) => r.name === rule.name);
      if (j < 0 || saved[j]!.kind !== rule.kind) return undefined;
      return { j, window: rule.kind === 'zscore' && saved[j]!.window === rule.window ? rule.window : undefined };
    });
    const keys = new Map<string, RuleState[]>();
    read.array(s.keys, 'keys').forEach((k, i) => {
      const o = read.object(k, `keys[${i}]`);
      const key = read.string(o.key, `keys[${i}].key`);
      if (keys.has(key)) read.fail(`keys[${i}].key`, `repeats the key "${key}"`);
      const states = read.array(o.states, `keys[${i}].states`);
      if (states.length !== saved.length) read.fail(`keys[${i}].states`, `must hold one state per rule (${saved.length})`);
      const checked = states.map((st, j) => readRuleState(st, saved[j]!, `keys[${i}].states[${j}]`));
      keys.set(key, this.rules.map((rule, r) => {
        const state = this.newState(rule);
        const src = from[r];
        if (!src) return state;
        const c = checked[src.j]!;
        state.machine.restore(c);
        if (rule.kind === 'rate' && c.prev) state.prev = { v: c.prev.v, ts: c.prev.ts };
        if (src.window !== undefined && c.stats) state.stats!.restore(c.stats);
        return state;
      }));
    });
    this.keys.clear();
    for (const [key, states] of keys) this.keys.set(key, states);
  }

  private newState(rule: AlertRule): RuleState {
    const direction = rule.direction ?? 'above';
    const raise = level(rule.raise, 'raise');
    const resolve = rule.resolve === undefined ? { ...raise, forReadings: 1, forMs: 0 } : level(rule.resolve, 'resolve');
    const state: RuleState = { machine: new Hysteresis(direction, raise, resolve, this.maxCausationIds) };
    if (rule.kind === 'zscore') state.stats = new RollingStats(rule.window);
    return state;
  }

  /** The value a rule judges: the reading, its rate of change or its z-score (undefined: not yet judgeable). */
  private observed(rule: AlertRule, state: RuleState, v: number, ts: number): number | undefined {
    if (rule.kind === 'threshold') return v;
    if (rule.kind === 'rate') {
      const prev = state.prev;
      if (!prev) { state.prev = { v, ts }; return undefined; }
      if (ts <= prev.ts) return undefined; // same or older event time: no rate, keep the newer baseline
      const rate = ((v - prev.v) / (ts - prev.ts)) * (rule.perMs ?? 1000);
      prev.v = v; prev.ts = ts;
      return rule.absolute ? Math.abs(rate) : rate;
    }
    const stats = state.stats!;
    let z: number | undefined;
    if (stats.count >= (rule.minSamples ?? Math.min(rule.window, 10))) {
      z = (v - stats.mean()) / Math.max(stats.std(), MIN_STD);
      if (rule.absolute !== false) z = Math.abs(z);
    }
    stats.push(v);
    return z;
  }
}

/** Checks one saved rule state (of a rule of `kind`) field by field. */
function readRuleState(x: unknown, rule: { kind: AlertRule['kind']; window?: number }, at: string): AlertRuleState {
  const o = read.object(x, at);
  const raised = read.boolean(o.raised, `${at}.raised`);
  const state: AlertRuleState = {
    raised,
    streak: read.integer(o.streak, `${at}.streak`),
    streakStart: read.finite(o.streakStart, `${at}.streakStart`),
    ids: read.array(o.ids, `${at}.ids`).map((id, i) => read.string(id, `${at}.ids[${i}]`)),
  };
  if (raised) state.raisedAt = read.finite(o.raisedAt, `${at}.raisedAt`);
  if (rule.kind === 'rate' && o.prev !== undefined) {
    const p = read.object(o.prev, `${at}.prev`);
    state.prev = { v: read.finite(p.v, `${at}.prev.v`), ts: read.finite(p.ts, `${at}.prev.ts`) };
  }
  if (rule.kind === 'zscore') {
    if (rule.window === undefined) read.fail(`${at}`, 'belongs to a zscore rule saved without its window');
    state.stats = readStats(o.stats, rule.window, `${at}.stats`);
  }
  return state;
}

/** Checks a saved rolling window against its size: at most `size` values, the ring position inside it. */
function readStats(x: unknown, size: number, at: string): RollingStatsState {
  const o = read.object(x, at);
  const values = read.array(o.values, `${at}.values`).map((v, i) => read.finite(v, `${at}.values[${i}]`));
  if (values.length > size) read.fail(`${at}.values`, `must hold at most ${size} values`);
  const next = read.integer(o.next, `${at}.next`);
  if (next >= size || (values.length < size && next !== 0)) read.fail(`${at}.next`, `must be 0 until the window is full, then below ${size}`);
  const sinceRecompute = read.integer(o.sinceRecompute, `${at}.sinceRecompute`);
  if (sinceRecompute >= size) read.fail(`${at}.sinceRecompute`, `must be below ${size}`);
  return { values, next, sum: read.finite(o.sum, `${at}.sum`), sumSq: read.finite(o.sumSq, `${at}.sumSq`), sinceRecompute };
}
