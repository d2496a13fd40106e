import { EnvelopeInvalidError, HeaderInvalidError } from './errors.js';
import { DEFAULT_HEADER_LIMITS, DEFAULT_MAX_ATTRIBUTES, validateHeader, type HeaderLimits } from './headers.js';
import { checkTraceparent } from './traceparent.js';

/**
 * A CloudEvents 1.0 event: the unit every transport carries. Context attributes and
 * extensions are flat string fields (as in CloudEvents' JSON format); `data` is the payload,
 * decoded, or a Uint8Array while still encoded on its way in.
 *
 * @example
 * const e = createEnvelope({ type: 'sensor.reading', source: 'ingest@edge-1', data: { t: 21 } });
 */
export interface Envelope<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time?: string;
  subject?: string;
  datacontenttype?: string;
  dataschema?: string;
  traceparent?: string;
  tracestate?: string;
  correlationid?: string;
  causationid?: string;
  partitionkey?: string;
  tenant?: string;
  data?: T;
  /** Further extensions: lowercase alphanumeric names, string values. */
  [extension: string]: unknown;
}

export interface EnvelopeInit<T = unknown> extends Partial<Omit<Envelope<T>, 'specversion'>> {
  type: string;
  source: string;
}

/** Builds an envelope with defaults: a UUID id, the current time, JSON content type when there is data. */
export function createEnvelope<T>(init: EnvelopeInit<T>): Envelope<T> {
  const env = { specversion: '1.0', ...init } as Envelope<T>;
  if (env.id === undefined) env.id = crypto.randomUUID();
  if (env.time === undefined) env.time = new Date().toISOString();
  if (env.data !== undefined && env.datacontenttype === undefined) env.datacontenttype = 'application/json';
  return env;
}

const REQUIRED = ['id', 'source', 'type'] as const;

/**
 * Checks an envelope against CloudEvents 1.0 and signalbus' header rules.
 * Throws EnvelopeInvalidError, HeaderInvalidError or TraceparentInvalidError naming the offending
 * attribute. Inbound envelopes go through `checkInboundEnvelope` (core/inbound-envelope.ts)
 * instead, where a malformed traceparent starts a new trace rather than failing the message.
 */
export function validateEnvelope(env: unknown, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): asserts env is Envelope {
  validateEnvelopeAttributes(env, limits);
  if (typeof env.traceparent === 'string') checkTraceparent(env.traceparent);
}

/**
 * An RFC 3339 timestamp with fields in range (no leap second, which Date.parse refuses): what every CloudEvents producer writes, accepted
 * without `Date.parse` (a regex test is several times cheaper, and it runs on every delivery).
 * Anything else is still accepted if `Date.parse` reads it. The pattern's source, without
 * anchors or capture groups, for a binding that checks `time` inside a pattern of its own.
 */
export const RFC3339_TIME_PATTERN = String.raw`\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)`;
const RFC3339 = new RegExp(`^${RFC3339_TIME_PATTERN}$`);

/** True when `value` is an RFC 3339 timestamp as RFC3339_TIME_PATTERN reads it (the common case `time` is checked for). */
export function isRfc3339Time(value: string): boolean {
  return RFC3339.test(value);
}

/**
 * Every check of `validateEnvelope` but the traceparent's: the object, `specversion`, the required
 * attributes, each header (name, string value, length, control characters), their count and total
 * length (HeaderInvalidError), and `time`.
 */
export function validateEnvelopeAttributes(env: unknown, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): asserts env is Envelope {
  checkRequiredAttributes(env);
  const e = env as Record<string, unknown>;
  let total = 0;
  let count = 0;
  for (const name in e) {
    if (name === 'data' || name === 'data_base64') continue;
    const value = e[name];
    if (value === undefined) continue;
    validateHeader(name, value, limits);
    total += name.length + (value as string).length;
    count++;
  }
  const maxAttributes = limits.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
  if (count > maxAttributes) {
    throw new HeaderInvalidError(`envelope has ${count} attributes, over the limit of ${maxAttributes}`, { details: { limit: maxAttributes } });
  }
  if (total > limits.maxTotalLength) {
    throw new HeaderInvalidError(`headers total ${total} characters, over the limit of ${limits.maxTotalLength}`, { details: { limit: limits.maxTotalLength } });
  }
  checkTime(e);
}

/**
 * The CloudEvents part of `validateEnvelopeAttributes`: an object, `specversion` 1.0, the
 * required attributes, and `time` as RFC 3339. Alone, for envelopes whose every attribute a
 * binding already read through an AttributeReader (core/inbound-envelope.ts).
 */
export function validateCloudEventAttributes(env: unknown): asserts env is Envelope {
  checkRequiredAttributes(env);
  checkTime(env as Record<string, unknown>);
}

function checkRequiredAttributes(env: unknown): void {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    throw new EnvelopeInvalidError('an envelope must be an object');
  }
  const e = env as Record<string, unknown>;
  if (e.specversion !== '1.0') {
    throw new EnvelopeInvalidError(`specversion must be "1.0", got ${JSON.stringify(e.specversion)}`, { details: { attribute: 'specversion' } });
  }
  for (const name of REQUIRED) {
    if (typeof e[name] !== 'string' || (e[name] as string).length === 0) {
      throw new EnvelopeInvalidError(`attribute "${name}" is required and must be a non-empty string`, { details: { attribute: name } });
    }
  }
}

function checkTime(e: Record<string, unknown>): void {
  if (typeof e.time === 'string' && !isRfc3339Time(e.time) && Number.isNaN(Date.parse(e.time))) {
    throw new EnvelopeInvalidError(`attribute "time" is not an RFC 3339 timestamp: ${e.time}`, { details: { attribute: 'time' } });
  }
}

/** The header attributes of an envelope (everything but data), as a plain string map. */
export function envelopeAttributes(env: Envelope): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in env) {
    if (name === 'data' || name === 'data_base64') continue;
    const v = env[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}
