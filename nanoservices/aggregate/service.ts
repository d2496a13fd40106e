import {
  ContractInvalidError, defineNanoservice, derivedEventId, OptionsInvalidError, systemClock,
  type Bus, type Envelope, type HandlerContext, type NanoserviceDefinition, type NanoserviceState,
} from '../../core/index.js';
import { compileFieldPath, eventTime, readPath, type FieldPath } from '../filter/field-path.js';
import { keyNameOf, positiveInt } from '../filter/service.js';
import { compileSubjectTemplate, dataschemaOf, metricContext } from '../ingest/naming.js';
import { KeyedMetrics, type MetricSink } from '../keyed-metrics.js';
import { EMIT_SLICE, nextTurn } from '../turns.js';
import { processCheckpointStore, type CheckpointStore } from './checkpoint.js';
import { SnapshotInvalidError } from '../snapshot.js';
import { LateEventError } from './errors.js';
import { STAT_NAMES, WindowAggregator, type FieldStats, type StatName, type WindowResult, type WindowSpec } from './window.js';

/** What an aggregate publishes when its config names nothing else. */
export const AGGREGATE_DEFAULTS = { output: 'sensor.aggregate.{key}', type: 'sensor.aggregate', version: '1.0.0' } as const;

/** The stats the standard `sensor.aggregate` 1.0.0 contract requires. */
const CONTRACT_STATS: readonly StatName[] = ['count', 'sum', 'min', 'max', 'avg'];

/** Configuration of the aggregate nanoservice (JSON-able except `checkpointStore` and `now`). */
export interface AggregateConfig {
  /** Service name used for the definition and the default checkpoint name. Default `aggregate`. */
  name?: string;
  /** Subject pattern to consume, e.g. `sensor.valid.>`. */
  input: string;
  /** Subject of the aggregates; placeholders read the aggregate data plus `{<keyAs>}` (`{key}`, `{metric}`, `{deviceId}`). Default `sensor.aggregate.{key}`. */
  output?: string;
  /** Contract of the aggregates. Default `sensor.aggregate` 1.0.0. */
  type?: string;
  version?: string;
  /** Data path of the key windows are kept per. Default: the `partitionkey` attribute. */
  keyField?: string;
  /** Name of the key in metric field queries. Default: the last segment of `keyField`, else `deviceId`. */
  keyAs?: string;
  /** Data path of the event time: ms since the epoch or an RFC 3339 string. Default `ts`. */
  timeField?: string;
  /** Data paths of the numeric fields aggregated, e.g. `["temperature", "humidity"]`. */
  fields: string[];
  /**
   * Stats per field. Default all: count sum min max avg p50 p95. The standard `sensor.aggregate`
   * 1.0.0 contract requires count sum min max avg, so with that type and version they are always
   * emitted and `stats` adds the percentiles.
   */
  stats?: StatName[];
  window: WindowSpec;
  /** Bounded out-of-orderness: watermark = latest event time of the key minus this. Default 0. */
  watermarkDelayMs?: number;
  /** How long after its end an emitted window still merges late events (with `late: merge`). Default 0. */
  allowedLatenessMs?: number;
  /** Late events: dead-letter them (default) or merge them and re-emit the window with `revision` + 1. */
  late?: 'deadletter' | 'merge';
  /** Wall-clock ms without events after which a key's windows close by the clock. Default: the window size; 0 = never. */
  idleTimeoutMs?: number;
  /** How often the idle check (and periodic checkpoint) runs, ms. Default 1000; 0 = no timer. */
  tickIntervalMs?: number;
  /** Window state checkpoints: restored on start, saved on stop and every `intervalMs` (0 = on stop only). */
  checkpoint?: { name?: string; intervalMs?: number } | false;
  /** Where checkpoints go. Default: a process-wide memory store. Code only. */
  checkpointStore?: CheckpointStore;
  /** Wall clock (`Clock.now`: `signalbus test` injects a virtual one). Default `systemClock.now`. Code only. */
  now?: () => number;
  /**
   * Several instances: give each the same `count` and `instanceCount` and its own `instanceIndex`;
   * every instance receives all messages and keeps the keys of its partitions, so a key's
   * windows and alert state live on one instance. (A consumer group would spread one key over
   * instances; use it only when a single instance consumes.)
   */
  partitions?: { count: number; instanceIndex: number; instanceCount: number };
  /** Consumer group: only for a single consuming instance behind a durable transport. */
  group?: string;
  /** Keys handled at once; one key is always handled in order. Default 64. */
  maxInFlight?: number;
}

/** The aggregate definition, with the lifecycle its clock and checkpoints need. */
export interface AggregateService extends NanoserviceDefinition {
  readonly aggregator: WindowAggregator;
  /** Restores the checkpoint and starts the timer; call before subscribing (`runNanoservice` does). */
  start(bus: Bus): Promise<void>;
  /** Stops the timer and saves the checkpoint; call after the subscriptions drained. */
  stop(): Promise<void>;
  /** One run of the timer: closes idle keys' windows by the clock, saves a due checkpoint. */
  tick(): Promise<void>;
  /**
   * The aggregator's snapshot and restore (scale-out checkpoints, see `AggregatorSnapshot`). A
   * `restore` before `start` wins over the checkpoint store: `start` then loads nothing.
   */
  readonly state: NanoserviceState;
}

const VERSION = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/;

function nonNegative(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new OptionsInvalidError(`${field} must be an integer >= 0`, { details: { field } });
  return value;
}

/** Checks a window spec; errors name the field. */
export function parseWindowSpec(w: unknown): WindowSpec {
  if (w === null || typeof w !== 'object') throw new OptionsInvalidError('window must be { kind: "tumbling", sizeMs } or { kind: "sliding", sizeMs, slideMs }', { details: { field: 'window' } });
  const { kind, sizeMs, slideMs } = w as Record<string, unknown>;
  const size = positiveInt(sizeMs, NaN, 'window.sizeMs');
  if (Number.isNaN(size)) throw new OptionsInvalidError('window.sizeMs is required', { details: { field: 'window.sizeMs' } });
  if (kind === 'tumbling') return { kind, sizeMs: size };
  if (kind === 'sliding') {
    const slide = positiveInt(slideMs, NaN, 'window.slideMs');
    if (Number.isNaN(slide) || slide > size) throw new OptionsInvalidError('window.slideMs must be a positive integer <= sizeMs', { details: { field: 'window.slideMs' } });
    return { kind, sizeMs: size, slideMs: slide };
  }
  throw new OptionsInvalidError('window.kind must be "tumbling" or "sliding"', { details: { field: 'window.kind' } });
}

/**
 * The aggregate nanoservice: per-key event-time windows over numeric fields, emitted as one
 * `sensor.aggregate` per field when the key's watermark passes a window's end (or, for idle
 * keys, by the wall clock). Subscribes with `ordered: true`, so each key's events are handled in order.
 * Each aggregate's id derives from the service name, key, metric, window bounds and revision, so
 * a replay re-creates it. Metric fields: `received accepted`, `windowclosed emitted`, `windowrevised emitted`,
 * `late merged`, `late deadlettered`, `invalid deadlettered` (context = contract, query = key).
 *
 * @example
 * const agg = createAggregateService({ input: 'sensor.valid.>', fields: ['temperature'],
 *   window: { kind: 'tumbling', sizeMs: 5000 }, watermarkDelayMs: 1000 });
 * const running = await runNanoservice(bus, agg); … await running.stop();
 */
export function createAggregateService(config: AggregateConfig): AggregateService {
  if (config === null || typeof config !== 'object') throw new OptionsInvalidError('aggregate config must be an object', { details: { field: '' } });
  const window = parseWindowSpec(config.window);
  const keyPath: FieldPath | undefined = config.keyField === undefined ? undefined : compileFieldPath(config.keyField, 'keyField');
  const keyAs = config.keyAs === undefined && !keyPath ? 'deviceId' : keyNameOf(config.keyAs, keyPath);
  const timePath = compileFieldPath(config.timeField ?? 'ts', 'timeField');
  if (!Array.isArray(config.fields) || config.fields.length === 0) throw new OptionsInvalidError('fields must list at least one data path', { details: { field: 'fields' } });
  const fieldPaths = config.fields.map((f, i) => compileFieldPath(f, `fields[${i}]`));
  const chosen = config.stats ?? [...STAT_NAMES];
  if (!Array.isArray(chosen) || !chosen.every((s) => STAT_NAMES.includes(s))) throw new OptionsInvalidError(`stats must list some of ${STAT_NAMES.join(' ')}`, { details: { field: 'stats' } });
  if (config.late !== undefined && config.late !== 'deadletter' && config.late !== 'merge') throw new OptionsInvalidError('late must be "deadletter" or "merge"', { details: { field: 'late' } });
  const type = config.type ?? AGGREGATE_DEFAULTS.type;
  const version = config.version ?? AGGREGATE_DEFAULTS.version;
  if (typeof type !== 'string' || type.length === 0) throw new OptionsInvalidError('type must be a contract name', { details: { field: 'type' } });
  if (typeof version !== 'string' || !VERSION.test(version)) throw new OptionsInvalidError('version must be a semver version', { details: { field: 'version' } });
  // Without them every window would be refused by the contract (and its reading dead-lettered).
  const stats = type === 'sensor.aggregate' && version === '1.0.0' ? [...new Set<StatName>([...CONTRACT_STATS, ...chosen])] : chosen;
  const output = compileSubjectTemplate(config.output ?? AGGREGATE_DEFAULTS.output, 'output');
  const name = config.name ?? 'aggregate';
  const tickInterval = nonNegative(config.tickIntervalMs, 1000, 'tickIntervalMs');
  const checkpoint = config.checkpoint === false ? undefined : { name: config.checkpoint?.name ?? name, intervalMs: nonNegative(config.checkpoint?.intervalMs, 0, 'checkpoint.intervalMs') };
  const store = config.checkpointStore ?? processCheckpointStore;
  const now = config.now ?? systemClock.now;
  const aggregator = new WindowAggregator({
    window, fields: config.fields, stats,
    watermarkDelayMs: nonNegative(config.watermarkDelayMs, 0, 'watermarkDelayMs'),
    allowedLatenessMs: nonNegative(config.allowedLatenessMs, 0, 'allowedLatenessMs'),
    late: config.late ?? 'deadletter',
    idleTimeoutMs: nonNegative(config.idleTimeoutMs, window.sizeMs, 'idleTimeoutMs'),
  });
  const outContext = metricContext(type);
  const dataschema = dataschemaOf(type, version);
  const values: Array<number | undefined> = new Array(fieldPaths.length);
  // Frozen and made once (see ingest: the Bus clones a frozen `headers` object cheaply).
  const firstHeaders = Object.freeze({ dataschema });

  const windowOf = (r: WindowResult): AggregateData['window'] => (window.kind === 'sliding'
    ? { kind: 'sliding', start: r.windowStart, end: r.windowEnd, sizeMs: window.sizeMs, slideMs: window.slideMs }
    : { kind: 'tumbling', start: r.windowStart, end: r.windowEnd, sizeMs: window.sizeMs });
  const metrics = new KeyedMetrics(keyAs);
  const counted = {
    invalid: metrics.field('invalid', 'deadlettered'), lateRejected: metrics.field('late', 'deadlettered'),
    accepted: metrics.field('received', 'accepted'), merged: metrics.field('late', 'merged'),
    closed: metrics.field('windowclosed', 'emitted'), revised: metrics.field('windowrevised', 'emitted'),
  };
  /**
   * One `sensor.aggregate` per field with values; a revision carries a `revision` extension
   * attribute. `sink` is the handler's ctx, or the Bus for windows closed by the clock.
   * Ids derive from what the window is, not from how it closed: a replay after a takeover may
   * close it by the other path, and its copy must still meet the broker's duplicate window.
   */
  const emit = async (r: WindowResult, publish: (subject: string, data: unknown, id: string, headers: Readonly<Record<string, string>>) => Promise<unknown>, sink: MetricSink) => {
    const headers = r.revision === 0 ? firstHeaders : Object.freeze({ dataschema, revision: String(r.revision) });
    const start = String(r.windowStart); const end = String(r.windowEnd); const revision = String(r.revision);
    for (const data of aggregateData(r, windowOf(r))) {
      await publish(output.renderKeyed(data, keyAs, r.key), data, derivedEventId(name, r.key, data.metric, start, end, revision), headers);
    }
    (r.revision === 0 ? counted.closed : counted.revised).add(sink, outContext, r.key);
  };

  /** Publishes the windows one event closed, in order, a slice at a time. */
  const emitAll = async (emitted: readonly WindowResult[], ctx: HandlerContext): Promise<void> => {
    for (let i = 0; i < emitted.length; i++) {
      // One event can close many windows (sliding ones, or a jump in event time): a turn of
      // the event loop between slices lets other keys' messages and I/O in. This key waits.
      if (i > 0 && i % EMIT_SLICE === 0) await nextTurn();
      const r = emitted[i]!;
      await emit(r, (subject, data, id, headers) => ctx.publish(subject, data, { id, type, version, partitionKey: r.key, headers, traceLinks: r.traceparents }), ctx);
    }
  };

  // Not async: most events close no window, and then the handler is done without a promise.
  const handle = (message: Envelope, ctx: HandlerContext): Promise<void> | undefined => {
    const context = metricContext(message.type);
    const rawKey = keyPath ? readPath(message.data, keyPath) : message.partitionkey;
    const key = typeof rawKey === 'string' ? rawKey : typeof rawKey === 'number' ? String(rawKey) : undefined;
    const ts = eventTime(readPath(message.data, timePath));
    if (key === undefined || ts === undefined) {
      counted.invalid.add(ctx, context, key);
      throw new ContractInvalidError(key === undefined ? `no key (${config.keyField ?? 'partitionkey'})` : `no event time in ${config.timeField ?? 'ts'}`,
        { details: { field: key === undefined ? config.keyField ?? 'partitionkey' : config.timeField ?? 'ts' } });
    }
    for (let i = 0; i < fieldPaths.length; i++) {
      const v = readPath(message.data, fieldPaths[i]!);
      values[i] = typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    }
    const outcome = aggregator.add(key, ts, values, now(), message.id, message.correlationid, message.tenant, message.traceparent);
    if (outcome.status === 'late-rejected') {
      counted.lateRejected.add(ctx, context, key);
      throw new LateEventError(`event time ${ts} of ${key} is behind its watermark ${aggregator.watermarkOf(key)}; its windows were emitted`,
        { details: { key, ts, watermark: aggregator.watermarkOf(key) } });
    }
    (outcome.status === 'accepted' ? counted.accepted : counted.merged).add(ctx, context, key);
    return outcome.emitted.length === 0 ? undefined : emitAll(outcome.emitted, ctx);
  };

  let bus: Bus | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let lastCheckpoint = 0;
  const saveCheckpoint = async () => {
    if (!checkpoint) return;
    await store.save(checkpoint.name, aggregator.snapshot());
    lastCheckpoint = now();
  };
  const runTick = async () => {
    const b = bus;
    if (!b) return;
    // Many keys can go idle at once (a gateway drops, a fleet stops reporting): they are closed
    // and emitted a slice at a time, with a turn of the event loop in between, so the burst does
    // not hold up the messages still arriving. One key's windows are emitted in order.
    let sinceTurn = 0;
    for (const key of aggregator.idleKeys(now())) {
      if (sinceTurn >= EMIT_SLICE) { await nextTurn(); sinceTurn = 0; }
      for (const r of aggregator.advanceIdleKey(key, now())) {
        sinceTurn++;
        try {
          const built: Record<string, string> = { dataschema };
          if (r.causationId !== undefined) built.causationid = r.causationId;
          if (r.correlationId !== undefined) built.correlationid = r.correlationId;
          if (r.tenant !== undefined) built.tenant = r.tenant;
          const headers = Object.freeze(built);
          await emit(r, (subject, data, id) => b.publish(subject, data, { id, type, version, partitionKey: r.key, headers, traceLinks: r.traceparents }), b);
        } catch (err) {
          b.logger.warn('aggregate: could not emit a window closed by the clock', { key: r.key, windowStart: r.windowStart, err });
        }
      }
    }
    if (checkpoint && checkpoint.intervalMs > 0 && now() - lastCheckpoint >= checkpoint.intervalMs) await saveCheckpoint();
  };

  // Set by `state.restore`: the state a takeover handed over is newer than the store's checkpoint.
  let restoredByState = false;
  const def = defineNanoservice({
    name,
    version: '1.0.0',
    subscriptions: [{ pattern: config.input, handler: handle as never, ordered: true, group: config.group, partitions: config.partitions, maxInFlight: positiveInt(config.maxInFlight, 64, 'maxInFlight') }],
  });
  return {
    ...def,
    aggregator,
    async start(b: Bus) {
      bus = b;
      metrics.bind(b);
      if (checkpoint) {
        const snapshot = restoredByState ? undefined : await store.load(checkpoint.name);
        try {
          if (snapshot !== undefined) aggregator.restore(snapshot);
        } catch (err) {
          // A checkpoint from another configuration (other fields, an older format): a config change
          // must not stop the service for good. Its open windows are not restored; say so.
          if (!(err instanceof SnapshotInvalidError)) throw err;
          b.logger.warn('aggregate: the checkpoint does not fit this configuration; starting without it (its open windows are not restored)',
            { checkpoint: checkpoint.name, err });
        }
        lastCheckpoint = now();
      }
      if (tickInterval > 0 && !timer) {
        timer = setInterval(() => { ticking ??= runTick().finally(() => { ticking = undefined; }); }, tickInterval);
        timer.unref();
      }
    },
    async stop() {
      if (timer) { clearInterval(timer); timer = undefined; }
      await ticking;
      await saveCheckpoint();
      bus = undefined;
      metrics.unbind();
    },
    tick() { return ticking ??= runTick().finally(() => { ticking = undefined; }); },
    state: {
      snapshot: () => aggregator.snapshot(),
      // A takeover: idle times start now, or every restored key would look idle before its replay.
      restore: (snapshot) => { aggregator.restore(snapshot, now()); restoredByState = true; },
    },
  };
}

/** The data of one `sensor.aggregate` 1.0.0 envelope: one field of one key over one window. */
export interface AggregateData extends FieldStats {
  key: string;
  /** The field aggregated (its data path). */
  metric: string;
  window: { kind: 'tumbling' | 'sliding'; start: number; end: number; sizeMs: number; slideMs?: number };
  /** Late events merged into this window after it was first emitted (only when there were any). */
  late?: number;
}

/** A window's result as `sensor.aggregate` data, one per field that had values. */
export function aggregateData(r: WindowResult, window: AggregateData['window']): AggregateData[] {
  const out: AggregateData[] = [];
  for (const metric in r.fields) {
    const stats = r.fields[metric]!;
    if (stats.count === 0) continue;
    const data: AggregateData = { key: r.key, metric, window, ...stats };
    if (r.late > 0) data.late = r.late;
    out.push(data);
  }
  return out;
}
