import {
  ContractInvalidError, defineNanoservice, derivedEventId, OptionsInvalidError,
  type Envelope, type HandlerContext, type NanoserviceDefinition, type NanoserviceState,
} from '../../core/index.js';
import { compileFieldPath, eventTime, readPath, type FieldPath } from '../filter/field-path.js';
import { keyNameOf, positiveInt } from '../filter/service.js';
import { compileSubjectTemplate, dataschemaOf, metricContext } from '../ingest/naming.js';
import { KeyedMetrics } from '../keyed-metrics.js';
import { AlertEvaluator, type AlertRule, type AlertTransition } from './rules.js';

/** Configuration of the alert nanoservice (JSON-able). */
export interface AlertConfig {
  /** Service name used for the definition. Default `alert`. */
  name?: string;
  /** Subject pattern of the readings (or aggregates) judged. */
  input: string;
  /** Subject template of alerts; placeholders read the alert data plus `{<keyAs>}` (`alerts.{deviceId}`, `alerts.{rule}.{key}`). Default `alerts.{key}`. */
  output?: string;
  /** Data path of the key alerts are kept per. Default: the `partitionkey` attribute. */
  keyField?: string;
  /** Name of the key in metric queries, subject placeholders and extended data. Default: the last segment of `keyField`, else `deviceId`. */
  keyAs?: string;
  /** Data path of the event time (ms since the epoch or RFC 3339). Default `ts`; `window.end` for aggregates (`sensor.aggregate` has no `ts`). */
  timeField?: string;
  rules: AlertRule[];
  /** Contract names and version of the alerts. Default `alert.raised` / `alert.resolved` 1.1.0 (1.0.0 with `extendedData: false`). */
  raisedType?: string;
  resolvedType?: string;
  version?: string;
  /** Most causing message ids an alert lists (in its `causationids` attribute). Default 20, at most 50. */
  maxCausationIds?: number;
  /**
   * Put `[keyAs]`, `causationIds`, `field`, `direction`, `readings` (and `threshold` on
   * resolved) into the data, as the standard alert contracts declare (`deviceId` is the only
   * key name they know). Default true; false keeps to the required fields.
   */
  extendedData?: boolean;
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

/** What an alert publishes when its config names nothing else (`version`: 1.0.0 with `extendedData: false`). */
export const ALERT_DEFAULTS = { output: 'alerts.{key}', raisedType: 'alert.raised', resolvedType: 'alert.resolved', version: '1.1.0', plainVersion: '1.0.0' } as const;

const METRIC_EVENT: Record<AlertRule['kind'], string> = { threshold: 'threshold', rate: 'rate', zscore: 'anomaly' };

/**
 * The alert nanoservice: threshold (held for N readings or a duration), rate-of-change and
 * z-score rules with hysteresis, per key; publishes `alert.raised` once and `alert.resolved` once
 * per episode, with rule, key, value, threshold and the causing message ids. Event ids derive
 * from the service name, `alertId` and the transition, so a replay re-creates them; `state`
 * snapshots and restores the evaluator (scale-out checkpoints).
 * Metric fields: `received evaluated`, `threshold|rate|anomaly raised|resolved`,
 * `invalid deadlettered` (context = the input contract, query = key and rule).
 *
 * @example
 * await startNanoservice(bus, createAlertService({ input: 'sensor.valid.>', keyField: 'deviceId', rules: [
 *   { name: 'overheat', kind: 'threshold', field: 'temperature', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } }] }));
 */
export function createAlertService(config: AlertConfig): NanoserviceDefinition & { readonly evaluator: AlertEvaluator; readonly state: NanoserviceState } {
  if (config === null || typeof config !== 'object') throw new OptionsInvalidError('alert config must be an object', { details: { field: '' } });
  const maxIds = positiveInt(config.maxCausationIds, 20, 'maxCausationIds');
  if (maxIds > 50) throw new OptionsInvalidError('maxCausationIds must be at most 50 (they travel in one header)', { details: { field: 'maxCausationIds' } });
  const evaluator = new AlertEvaluator(config.rules, maxIds);
  const severities = evaluator.rules.map((r) => r.severity ?? 'warning');
  const extended = config.extendedData !== false;
  const fieldPaths = evaluator.rules.map((r, i) => compileFieldPath(r.field, `rules[${i}].field`));
  const keyPath: FieldPath | undefined = config.keyField === undefined ? undefined : compileFieldPath(config.keyField, 'keyField');
  const keyAs = config.keyAs === undefined && !keyPath ? 'deviceId' : keyNameOf(config.keyAs, keyPath);
  const timePath = compileFieldPath(config.timeField ?? 'ts', 'timeField');
  const output = compileSubjectTemplate(config.output ?? ALERT_DEFAULTS.output, 'output');
  const version = config.version ?? (config.extendedData === false ? ALERT_DEFAULTS.plainVersion : ALERT_DEFAULTS.version);
  const types = { raised: config.raisedType ?? ALERT_DEFAULTS.raisedType, resolved: config.resolvedType ?? ALERT_DEFAULTS.resolvedType };
  for (const [field, t] of [['raisedType', types.raised], ['resolvedType', types.resolved]] as const) {
    if (typeof t !== 'string' || t.length === 0) throw new OptionsInvalidError(`${field} must be a contract name`, { details: { field } });
  }
  const dataschemas = { raised: dataschemaOf(types.raised, version), resolved: dataschemaOf(types.resolved, version) };
  const values: Array<number | undefined> = new Array(fieldPaths.length);
  const name = config.name ?? 'alert';
  const metrics = new KeyedMetrics(keyAs);
  const invalid = metrics.field('invalid', 'deadlettered');
  const evaluated = metrics.field('received', 'evaluated');
  // Per rule name: its severity and its `raised` / `resolved` fields (query: key and rule).
  const byRule = new Map(evaluator.rules.map((r, i) => [r.name, {
    severity: severities[i]!,
    raised: metrics.field(METRIC_EVENT[r.kind], 'raised', { rule: r.name }),
    resolved: metrics.field(METRIC_EVENT[r.kind], 'resolved', { rule: r.name }),
  }]));

  /** Publishes the alerts one reading decided, in order. */
  const publishAll = async (transitions: readonly AlertTransition[], key: string, context: string, ctx: HandlerContext): Promise<void> => {
    for (const t of transitions) {
      const rule = byRule.get(t.rule)!;
      const data = alertData(t, rule.severity, extended ? keyAs : undefined);
      // Frozen: the Bus spreads `headers` into the envelope, which V8 does fast only for a frozen object.
      const headers = Object.freeze({ dataschema: dataschemas[t.type], causationids: t.causationIds.join(',') });
      // The same episode gets the same id on a replay (after a takeover), so the broker's
      // duplicate window absorbs the second copy.
      const id = derivedEventId(name, data.alertId as string, t.type);
      await ctx.publish(output.renderKeyed(data, keyAs, key), data, { id, type: types[t.type], version, partitionKey: key, headers });
      rule[t.type].add(ctx, context, key);
    }
  };

  // Not async: most readings decide no alert, and then the handler is done without a promise.
  const handle = (message: Envelope, ctx: HandlerContext): Promise<void> | undefined => {
    const context = metricContext(message.type);
    const rawKey = keyPath ? readPath(message.data, keyPath) : message.partitionkey;
    const key = typeof rawKey === 'string' || typeof rawKey === 'number' ? String(rawKey) : undefined;
    const ts = eventTime(readPath(message.data, timePath));
    if (key === undefined || ts === undefined) {
      invalid.add(ctx, context, key);
      throw new ContractInvalidError(key === undefined ? `no key (${config.keyField ?? 'partitionkey'})` : `no event time in ${config.timeField ?? 'ts'}`,
        { details: { field: key === undefined ? config.keyField ?? 'partitionkey' : config.timeField ?? 'ts' } });
    }
    for (let i = 0; i < fieldPaths.length; i++) {
      const v = readPath(message.data, fieldPaths[i]!);
      values[i] = typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    }
    const transitions = evaluator.evaluate(key, ts, message.id, values);
    evaluated.add(ctx, context, key);
    return transitions.length === 0 ? undefined : publishAll(transitions, key, context, ctx);
  };
  const def = defineNanoservice({
    name,
    version: '1.0.0',
    subscriptions: [{ pattern: config.input, handler: handle as never, ordered: true, group: config.group, partitions: config.partitions, maxInFlight: positiveInt(config.maxInFlight, 64, 'maxInFlight') }],
  });
  return {
    ...def, evaluator,
    start: async (bus) => { metrics.bind(bus); },
    stop: async () => { metrics.unbind(); },
    // Per-key hysteresis, rate baselines and z-score windows (see `AlertSnapshot`).
    state: { snapshot: () => evaluator.snapshot(), restore: (s) => evaluator.restore(s) },
  };
}

/**
 * The data of an `alert.raised` / `alert.resolved` 1.0.0 envelope. `alertId` is
 * `<rule>:<key>:<raisedAt>`, the same on both, so a consumer can pair them. With `keyAs`, the
 * extended fields are added too (see `AlertConfig.extendedData`).
 */
export function alertData(t: AlertTransition, severity: string, keyAs?: string): Record<string, unknown> {
  const raisedAt = t.type === 'raised' ? t.at : t.raisedAt!;
  const alertId = `${t.rule}:${t.key}:${raisedAt}`;
  const data: Record<string, unknown> = t.type === 'raised'
    ? { alertId, rule: t.rule, key: t.key, kind: t.kind, severity, value: t.value, threshold: t.threshold, message: describe(t), raisedAt, since: t.since }
    : { alertId, rule: t.rule, key: t.key, value: t.value, raisedAt, resolvedAt: t.at, durationMs: Math.max(0, t.at - raisedAt) };
  if (keyAs !== undefined) {
    data[keyAs] = t.key;
    data.causationIds = t.causationIds;
    data.field = t.field;
    data.direction = t.direction;
    data.readings = t.readings;
    if (t.type === 'resolved') data.threshold = t.threshold;
  }
  return data;
}

const KIND_WORD = { threshold: '', rate: 'rate of ', zscore: 'z-score of ' } as const;

/** `temperature above 80 for 3 readings`, `rate of temperature above 5 for 1 reading`. */
function describe(t: AlertTransition): string {
  const readings = `${t.readings} reading${t.readings === 1 ? '' : 's'}`;
  return `${KIND_WORD[t.kind]}${t.field} ${t.direction} ${t.threshold} for ${readings}`.slice(0, 1024);
}
