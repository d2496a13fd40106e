import { checkJsonDepth, CodecDecodeError, ContractInvalidError, OptionsInvalidError } from '../../core/index.js';
import { compileFieldPath, readPath, type FieldPath } from '../filter/field-path.js';

/** Types the built-in check knows; `integer` is a number with no fraction; numbers must be finite. */
export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

/** How a raw payload becomes the data of an envelope. Every field is optional. */
export interface MappingConfig {
  /** Fields taken from subject tokens by position (0-based; negative counts from the end): `{ deviceId: 1 }` for `devices.<id>.telemetry`. */
  subjectTokens?: Record<string, number>;
  /** Payload paths renamed to data fields: `{ "temp": "temperature", "env.hum": "humidity" }`. */
  rename?: Record<string, string>;
  /** Keep only these payload fields (after renaming); default: every field. */
  pick?: string[];
  /** Fields set to fixed values: `{ "site": "berlin" }`. */
  static?: Record<string, string | number | boolean | null>;
  /**
   * Data field that gets the receive time (ms since the epoch). Default none: the envelope's
   * `time` already is the receive time, and closed contracts (sensor.reading 2.0.0) allow no
   * extra field.
   */
  receivedAt?: string | false;
  /** Data field that gets the tenant (the message's `tenant`, else `tenant` below); default none. */
  tenantField?: string;
  /** Tenant for messages that arrive without one (e.g. devices on a dedicated broker). */
  tenant?: string;
  /** Built-in check after mapping: required field → type. */
  required?: Record<string, FieldType>;
}

/**
 * The mapping as one compiled function; throws CodecDecodeError / ContractInvalidError (dead-lettered at once).
 * `overridden` hears of each subject-token field whose payload value differed and was replaced.
 */
export type Mapping = (payload: unknown, subject: string, tenant: string | undefined, receivedAt: number,
  overridden?: (field: string) => void) => Record<string, unknown>;

const FIELD_TYPES = new Set<FieldType>(['string', 'number', 'integer', 'boolean', 'object', 'array']);
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const decoder = new TextDecoder('utf-8', { fatal: true });
const hasOwn = Object.prototype.hasOwnProperty;

function decodeUtf8(bytes: Uint8Array): string {
  try { return decoder.decode(bytes); } catch (cause) {
    throw new CodecDecodeError(`payload is not UTF-8 JSON: ${(cause as Error).message}`, { cause });
  }
}

function fieldName(name: unknown, field: string): string {
  if (typeof name !== 'string' || !FIELD_NAME.test(name) || name === '__proto__') {
    throw new OptionsInvalidError(`${field} must be a field name ([A-Za-z_][A-Za-z0-9_]*)`, { details: { field } });
  }
  return name;
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new OptionsInvalidError(`${field} must be an object`, { details: { field } });
  return value as Record<string, unknown>;
}

/**
 * Decodes a payload: bytes or text as UTF-8 JSON, objects as they are. The result must be a
 * JSON object. A leading byte order mark (U+FEFF, which some devices' firmware writes) is
 * skipped, as most JSON parsers do; JSON nested deeper than MAX_JSON_DEPTH is refused
 * (CodecTooDeepError, SB_ERR_CODEC_TOO_DEEP).
 */
export function decodePayload(payload: unknown): Record<string, unknown> {
  let value = payload;
  if (payload instanceof Uint8Array || typeof payload === 'string') {
    // The decoder drops a BOM from bytes itself; text gets the same treatment.
    const text = typeof payload === 'string' ? (payload.charCodeAt(0) === 0xfeff ? payload.slice(1) : payload) : decodeUtf8(payload);
    checkJsonDepth(text);
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new CodecDecodeError(`payload is not UTF-8 JSON: ${(cause as Error).message}`, { cause });
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ContractInvalidError(`payload must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Compiles a mapping once: decode, rename, pick, static fields, subject tokens, receive time,
 * tenant, then the built-in required-fields check.
 *
 * @example
 * const map = compileMapping({ subjectTokens: { deviceId: 1 }, required: { ts: 'integer' } });
 * map('{"ts":1,"temperature":21}', 'devices.d7.telemetry', undefined, Date.now())
 * // { ts: 1, temperature: 21, deviceId: 'd7' }
 */
export function compileMapping(config: MappingConfig): Mapping {
  const tokens = Object.entries(record(config.subjectTokens ?? {}, 'subjectTokens')).map(([name, index]) => {
    fieldName(name, `subjectTokens.${name}`);
    if (typeof index !== 'number' || !Number.isInteger(index)) throw new OptionsInvalidError(`subjectTokens.${name} must be an integer position`, { details: { field: `subjectTokens.${name}` } });
    return { name, index };
  });
  const renames: Array<{ from: FieldPath; top: string; to: string }> = Object.entries(record(config.rename ?? {}, 'rename')).map(([from, to]) => {
    const path = compileFieldPath(from, `rename.${from}`);
    return { from: path, top: path[0]!, to: fieldName(to, `rename.${from}`) };
  });
  let pick: Set<string> | undefined;
  if (config.pick !== undefined) {
    if (!Array.isArray(config.pick)) throw new OptionsInvalidError('pick must be an array of field names', { details: { field: 'pick' } });
    pick = new Set(config.pick.map((p, i) => fieldName(p, `pick[${i}]`)));
  }
  const statics = Object.entries(record(config.static ?? {}, 'static')).map(([name, value]) => {
    fieldName(name, `static.${name}`);
    if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) throw new OptionsInvalidError(`static.${name} must be a string, number, boolean or null`, { details: { field: `static.${name}` } });
    return [name, value] as const;
  });
  const receivedField = config.receivedAt === false || config.receivedAt === undefined ? undefined : fieldName(config.receivedAt, 'receivedAt');
  const tenantField = config.tenantField === undefined ? undefined : fieldName(config.tenantField, 'tenantField');
  if (config.tenant !== undefined && (typeof config.tenant !== 'string' || config.tenant.length === 0)) throw new OptionsInvalidError('tenant must be a non-empty string', { details: { field: 'tenant' } });
  const defaultTenant = config.tenant;
  const required = Object.entries(record(config.required ?? {}, 'required')).map(([name, type]) => {
    fieldName(name, `required.${name}`);
    if (!FIELD_TYPES.has(type as FieldType)) throw new OptionsInvalidError(`required.${name} must be one of ${[...FIELD_TYPES].join(' ')}`, { details: { field: `required.${name}` } });
    return { name, type: type as FieldType };
  });

  return (payload, subject, tenant, receivedAt, overridden) => {
    const source = decodePayload(payload);
    // A payload decoded here is a fresh object nobody else holds: it becomes the data itself
    // (one object less per reading). Renames read the source after writing, and a caller's
    // object is the caller's, so those get a copy.
    const fresh = renames.length === 0 && source !== payload;
    let out: Record<string, unknown>;
    if (fresh && !hasOwn.call(source, '__proto__')) out = source;
    else {
      out = {};
      for (const name in source) {
        if (hasOwn.call(source, name) && name !== '__proto__') out[name] = source[name];
      }
    }
    for (const r of renames) {
      const v = readPath(source, r.from);
      delete out[r.top];
      if (v !== undefined) out[r.to] = v;
    }
    if (pick) for (const name in out) if (!pick.has(name)) delete out[name];
    for (const [name, value] of statics) out[name] = value;
    for (const t of tokens) {
      const v = subjectToken(subject, t.index);
      if (v === undefined) throw new ContractInvalidError(`subject ${subject} has no token ${t.index} for ${t.name}`, { details: { field: t.name } });
      // The subject is what the broker vouches for (ACLs grant topics); a differing body value loses, and is reported.
      if (overridden !== undefined && out[t.name] !== undefined && out[t.name] !== v) overridden(t.name);
      out[t.name] = v;
    }
    if (receivedField !== undefined) out[receivedField] = receivedAt;
    if (tenantField !== undefined && (tenant ?? defaultTenant) !== undefined) out[tenantField] = tenant ?? defaultTenant;
    for (const r of required) checkType(out[r.name], r.name, r.type);
    return out;
  };
}

/**
 * Token `index` of a subject (0-based; negative counts from the end), or undefined when it has
 * none. Scans for the dots instead of splitting, so only the token itself is allocated.
 * @example subjectToken('devices.d7.telemetry', 1) // 'd7'
 */
export function subjectToken(subject: string, index: number): string | undefined {
  if (index >= 0) {
    let start = 0;
    for (let i = 0; i < index; i++) {
      const dot = subject.indexOf('.', start);
      if (dot < 0) return undefined;
      start = dot + 1;
    }
    const end = subject.indexOf('.', start);
    return subject.slice(start, end < 0 ? subject.length : end);
  }
  let end = subject.length;
  for (let i = -1; i > index; i--) {
    const dot = end === 0 ? -1 : subject.lastIndexOf('.', end - 1);
    if (dot < 0) return undefined;
    end = dot;
  }
  return subject.slice(end === 0 ? 0 : subject.lastIndexOf('.', end - 1) + 1, end);
}

function checkType(value: unknown, name: string, type: FieldType): void {
  if (value === undefined) throw new ContractInvalidError(`field "${name}" is required`, { details: { field: name, expected: type } });
  let ok: boolean;
  switch (type) {
    case 'number': ok = typeof value === 'number' && Number.isFinite(value); break;
    case 'integer': ok = typeof value === 'number' && Number.isInteger(value); break;
    case 'object': ok = value !== null && typeof value === 'object' && !Array.isArray(value); break;
    case 'array': ok = Array.isArray(value); break;
    default: ok = typeof value === type;
  }
  if (!ok) throw new ContractInvalidError(`field "${name}" must be ${type === 'integer' ? 'an' : 'a'} ${type}, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`, { details: { field: name, expected: type } });
}
