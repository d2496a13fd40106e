import { defineNanoservice, OptionsInvalidError, type Envelope, type HandlerContext, type NanoserviceDefinition } from '../../core/index.js';
import { compileSubjectTemplate, metricContext } from '../ingest/naming.js';
import { KeyedMetrics } from '../keyed-metrics.js';
import { compileFieldPath, readPath, type FieldPath } from './field-path.js';
import { forwardOptions } from './forward.js';
import { compilePredicate, type CompiledPredicate, type Predicate } from './predicate.js';

/** Configuration of the filter nanoservice (JSON-able except `predicate`). */
export interface FilterConfig {
  /** Service name used for the definition. Default `filter`. */
  name?: string;
  /** Subject pattern to consume, e.g. `sensor.reading.>`. */
  input: string;
  /** Subject passing messages go to; `{path}` placeholders read the envelope, e.g. `sensor.valid.{data.deviceId}`. */
  output: string;
  /** Declarative predicate over the envelope (paths like `data.temperature`, `tenant`). */
  where?: Predicate;
  /** Code escape hatch: a message passes only if this returns true too. Not JSON: code users only. */
  predicate?: (message: Envelope) => boolean;
  /** Envelope path of the key reported in metric fields. Default: the `partitionkey` attribute. */
  keyField?: string;
  /** Name of the key in metric field queries. Default: the last segment of `keyField`, else `key`. */
  keyAs?: string;
  /** Consumer group, so several instances share the work. */
  group?: string;
  /** Messages handled at once (across keys; one key stays in order). Default 64. */
  maxInFlight?: number;
}


/**
 * The filter nanoservice: forwards messages that pass its predicate to `output`, drops the rest.
 * Metric fields: `passed forwarded`, `rejected dropped` (context = contract, query = key).
 *
 * @example
 * const def = createFilterService({ input: 'sensor.reading.>', output: 'sensor.valid',
 *   where: { path: 'data.temperature', gte: -50, lte: 150 } });
 * await startNanoservice(bus, def);
 */
export function createFilterService(config: FilterConfig): NanoserviceDefinition {
  if (config === null || typeof config !== 'object') throw new OptionsInvalidError('filter config must be an object', { details: { field: '' } });
  const output = compileSubjectTemplate(config.output, 'output');
  const tests: CompiledPredicate[] = [];
  if (config.where !== undefined) tests.push(compilePredicate(config.where, 'where'));
  if (config.predicate !== undefined) {
    if (typeof config.predicate !== 'function') throw new OptionsInvalidError('predicate must be a function', { details: { field: 'predicate' } });
    tests.push(config.predicate as CompiledPredicate);
  }
  if (tests.length === 0) throw new OptionsInvalidError('a filter needs "where" (or a predicate function)', { details: { field: 'where' } });
  const test: CompiledPredicate = tests.length === 1 ? tests[0]! : (m) => tests[0]!(m) && tests[1]!(m);
  const keyPath: FieldPath | undefined = config.keyField === undefined ? undefined : compileFieldPath(config.keyField, 'keyField');
  const keyAs = keyNameOf(config.keyAs, keyPath);
  const metrics = new KeyedMetrics(keyAs);
  const rejected = metrics.field('rejected', 'dropped');
  const passed = metrics.field('passed', 'forwarded');

  const handle = async (message: Envelope, ctx: HandlerContext): Promise<void> => {
    const rawKey = keyPath ? readPath(message, keyPath) : message.partitionkey;
    const key = rawKey === undefined ? undefined : typeof rawKey === 'string' ? rawKey : String(rawKey);
    const context = metricContext(message.type);
    if (!test(message)) { rejected.add(ctx, context, key); return; }
    await ctx.publish(output.render(message), message.data, forwardOptions(message));
    passed.add(ctx, context, key);
  };
  const def = defineNanoservice({
    name: config.name ?? 'filter',
    version: '1.0.0',
    subscriptions: [{ pattern: config.input, handler: handle as never, group: config.group, ordered: true, maxInFlight: positiveInt(config.maxInFlight, 64, 'maxInFlight') }],
  });
  return { ...def, start: async (bus) => { metrics.bind(bus); }, stop: async () => { metrics.unbind(); } };
}

/** The query name for a key: explicit, else the path's last segment, else `key`. */
export function keyNameOf(keyAs: unknown, keyPath: FieldPath | undefined): string {
  if (keyAs !== undefined) {
    if (typeof keyAs !== 'string' || !/^[A-Za-z0-9_]+$/.test(keyAs)) throw new OptionsInvalidError('keyAs must be a name of letters, digits and _', { details: { field: 'keyAs' } });
    return keyAs;
  }
  return keyPath ? keyPath[keyPath.length - 1]! : 'key';
}

/** A positive integer option or its default, with an error naming the field. */
export function positiveInt(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new OptionsInvalidError(`${field} must be a positive integer`, { details: { field } });
  return value;
}
