import {
  ContractInvalidError, ContractUnknownError, ContractVersionError, defineNanoservice, OptionsInvalidError, systemClock, SignalbusError,
  type Envelope, type HandlerContext, type NanoserviceDefinition,
} from '../../core/index.js';
import { keyNameOf, positiveInt } from '../filter/service.js';
import { KeyedMetrics } from '../keyed-metrics.js';
import { KeyedDedupe } from './dedupe.js';
import { compileMapping, subjectToken, type FieldType, type MappingConfig } from './mapping.js';
import { compileSubjectTemplate, dataschemaOf, metricContext } from './naming.js';

/** Configuration of the ingest nanoservice. Every field has a default that fits device telemetry. */
export interface IngestConfig extends MappingConfig {
  /** Service name used for the definition. Default `ingest`. */
  name?: string;
  /** Subject pattern of the raw payloads. Default `devices.*.telemetry` (MQTT `devices/+/telemetry`). */
  input?: string;
  /** Subject of the envelopes made; `{field}` placeholders read the mapped data. Default `sensor.reading.{deviceId}`. */
  output?: string;
  /** Contract (CloudEvents `type`) of the envelopes made. Default `sensor.reading`. */
  type?: string;
  /** Contract version stamped and validated. Default `2.0.0`. */
  version?: string;
  /** Data field that is the partition key (per-key order downstream). Default `deviceId`. */
  key?: string;
  /** Drop a reading whose `field` value was already seen for its key within the last `window` readings. */
  dedupe?: { field: string; window?: number };
  /** Consumer group, so several instances share the work. */
  group?: string;
  /** Payloads handled at once. Default 64: one device at a time per subject (its readings stay in arrival order), 64 devices alongside. */
  maxInFlight?: number;
  /**
   * Validates mapped data against the contract; throws when it does not match. Code only, and
   * only for a Bus without a contract registry: a Bus with one checks the data when ingest
   * publishes it, and a refusal is dead-lettered and counted the same way. Errors that are not
   * SignalbusErrors become ContractInvalidError.
   */
  validate?: (type: string, version: string, data: unknown) => void;
  /** Wall clock for `receivedAt` (`Clock.now`: `signalbus test` injects a virtual one). Default `systemClock.now`. */
  now?: () => number;
}

/** The defaults: device telemetry `{ ts, temperature, humidity }` on `devices.<deviceId>.telemetry` → `sensor.reading` 2.0.0. */
export const INGEST_DEFAULTS = {
  name: 'ingest',
  input: 'devices.*.telemetry',
  output: 'sensor.reading.{deviceId}',
  type: 'sensor.reading',
  version: '2.0.0',
  key: 'deviceId',
  subjectTokens: { deviceId: 1 },
  required: { deviceId: 'string', ts: 'integer', temperature: 'number', humidity: 'number' } as Record<string, FieldType>,
  maxInFlight: 64,
} as const;

const VERSION = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/;

/** The errors a contract registry refuses a publish with (no contract of that name or version, invalid data). */
function isContractRefusal(err: unknown): boolean {
  return err instanceof ContractInvalidError || err instanceof ContractUnknownError || err instanceof ContractVersionError;
}

/**
 * The ingest nanoservice: takes raw payloads (subscribe with `raw: true`, so devices that know
 * nothing of CloudEvents can publish), maps and enriches them, validates them and publishes
 * contract envelopes keyed by device. Bad payloads are dead-lettered at once with the reason
 * (`dlqreason` SB_ERR_CODEC_DECODE, SB_ERR_CODEC_TOO_DEEP or SB_ERR_CONTRACT_INVALID).
 * A payload starting with a UTF-8 byte order mark is read without it.
 * Fields taken from the subject (`subjectTokens`, by default `deviceId`) win over the same field
 * in the payload: the topic is what broker ACLs vouch for, a body can claim anything. A payload
 * value that differs is replaced and counted (`mismatch overridden`, query `field=<name>`).
 * Metric fields: `received forwarded`, `invalid deadlettered`, `duplicate dropped`,
 * `mismatch overridden` (context = the contract, query = the key).
 *
 * @example
 * await startNanoservice(bus, createIngestService({ tenant: 'acme', static: { site: 'berlin' } }));
 * // MQTT devices/d7/telemetry {"ts":…,"temperature":21,"humidity":40} → sensor.reading.d7
 */
export function createIngestService(config: IngestConfig = {}): NanoserviceDefinition {
  if (config === null || typeof config !== 'object') throw new OptionsInvalidError('ingest config must be an object', { details: { field: '' } });
  const c = {
    ...INGEST_DEFAULTS, ...config,
    subjectTokens: config.subjectTokens ?? INGEST_DEFAULTS.subjectTokens,
    required: config.required ?? INGEST_DEFAULTS.required,
  };
  const mapping = compileMapping(c);
  const output = compileSubjectTemplate(c.output, 'output');
  if (typeof c.type !== 'string' || c.type.length === 0) throw new OptionsInvalidError('type must be a contract name', { details: { field: 'type' } });
  if (typeof c.version !== 'string' || !VERSION.test(c.version)) throw new OptionsInvalidError('version must be a semver version', { details: { field: 'version' } });
  if (typeof c.key !== 'string' || c.key.length === 0) throw new OptionsInvalidError('key must be a data field name', { details: { field: 'key' } });
  if (c.validate !== undefined && typeof c.validate !== 'function') throw new OptionsInvalidError('validate must be a function', { details: { field: 'validate' } });
  const now = c.now ?? systemClock.now;
  const { type, version, key: keyField, validate } = c;
  const keyAs = keyNameOf(undefined, [keyField]);
  const keyToken = (c.subjectTokens as Record<string, number>)[keyField];
  const context = metricContext(type);
  const dataschema = dataschemaOf(type, version);
  // Frozen and made once: the Bus spreads `headers` into each envelope, and V8 (Node 20) clones
  // a frozen object into an envelope whose later attributes take the fast path (a fresh one: ~10 µs).
  const plainHeaders = Object.freeze({ dataschema });
  const tenantHeaders = c.tenant === undefined ? plainHeaders : Object.freeze({ dataschema, tenant: c.tenant });
  const metrics = new KeyedMetrics(keyAs);
  const invalid = metrics.field('invalid', 'deadlettered');
  const duplicate = metrics.field('duplicate', 'dropped');
  const forwarded = metrics.field('received', 'forwarded');
  // One field per subject-token field: `mismatch overridden` with field=<name>, e.g. field=deviceId.
  const overrides = new Map(Object.keys(c.subjectTokens as Record<string, number>).map((name) => [name, metrics.field('mismatch', 'overridden', { field: name })]));
  // Filled by the mapping and read before the handler's first await: one array serves every message.
  const overridden: string[] = [];
  const noteOverride = (field: string): void => { overridden.push(field); };
  let dedupe: { seen: KeyedDedupe; field: string } | undefined;
  if (c.dedupe !== undefined) {
    if (c.dedupe === null || typeof c.dedupe.field !== 'string' || c.dedupe.field.length === 0) throw new OptionsInvalidError('dedupe.field must be a data field name', { details: { field: 'dedupe.field' } });
    dedupe = { seen: new KeyedDedupe(positiveInt(c.dedupe.window, 1000, 'dedupe.window')), field: c.dedupe.field };
  }

  const countInvalid = (ctx: HandlerContext): void => {
    invalid.add(ctx, context, keyToken === undefined ? undefined : subjectToken(ctx.subject, keyToken));
  };

  const handle = async (message: Envelope, ctx: HandlerContext): Promise<void> => {
    let data: Record<string, unknown>;
    let key: string;
    overridden.length = 0;
    try {
      data = mapping(message.data, ctx.subject, message.tenant, now(), noteOverride);
      const k = data[keyField];
      if (typeof k !== 'string' && typeof k !== 'number') throw new ContractInvalidError(`key field "${keyField}" must be a string or number`, { details: { field: keyField } });
      key = String(k);
      if (validate) {
        try { validate(type, version, data); } catch (cause) {
          throw cause instanceof SignalbusError ? cause : new ContractInvalidError(`data does not match ${type} ${version}: ${(cause as Error)?.message ?? cause}`, { cause });
        }
      }
    } catch (err) {
      countInvalid(ctx);
      throw err;
    }
    for (const field of overridden) overrides.get(field)!.add(ctx, context, key);
    const dedupeValue = dedupe ? data[dedupe.field] : undefined;
    if (dedupe && dedupeValue !== undefined && dedupe.seen.has(key, dedupeValue)) {
      duplicate.add(ctx, context, key);
      return;
    }
    const headers = message.tenant === undefined ? tenantHeaders : plainHeaders;
    const subject = output.render(data);
    try {
      await ctx.publish(subject, data, { type, version, partitionKey: key, headers });
    } catch (err) {
      // A Bus with a contract registry refuses data that does not fit the contract: that is
      // this payload's fault, dead-lettered at once like a failed `validate`.
      if (isContractRefusal(err)) countInvalid(ctx);
      throw err;
    }
    if (dedupe && dedupeValue !== undefined) dedupe.seen.add(key, dedupeValue);
    forwarded.add(ctx, context, key);
  };
  const def = defineNanoservice({
    name: c.name,
    version: '1.0.0',
    // Ordered: a device's payloads (no partition key) stay in order per subject, other devices run alongside.
    subscriptions: [{ pattern: c.input, handler: handle as never, raw: true, group: c.group, ordered: true, maxInFlight: positiveInt(c.maxInFlight, 64, 'maxInFlight') }],
  });
  return { ...def, start: async (bus) => { metrics.bind(bus); }, stop: async () => { metrics.unbind(); } };
}
