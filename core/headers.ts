import { HeaderInvalidError } from './errors.js';

/** CloudEvents context attributes every envelope may carry, in wire order. */
export const CLOUDEVENTS_ATTRIBUTES = [
  'specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'dataschema',
] as const;

/** The standard extensions signalbus sets and propagates (DESIGN.md section 2). */
export const STANDARD_EXTENSIONS = [
  'traceparent', 'tracestate', 'correlationid', 'causationid', 'partitionkey', 'tenant',
] as const;

/** Headers found on dead-lettered copies only. */
export const DLQ_HEADERS = ['dlqreason', 'dlqmessage', 'dlqattempts', 'dlqsubject', 'dlqservice', 'dlqtruncated'] as const;

/** Headers that carry a failed request's error back to the caller. */
export const ERROR_HEADERS = { code: 'sberrorcode', message: 'sberrormessage' } as const;

/**
 * `make(attribute)` remembered per attribute name: a binding builds each wire header name (and
 * whatever goes with it) once instead of once per message. Attribute names are open-ended (any
 * extension), so at most `max` are kept; the rest are made on every call.
 *
 * @example const ceHeader = perAttributeName((a) => `ce-${a}`); ceHeader('id') // 'ce-id', built once
 */
export function perAttributeName(make: (attribute: string) => string, max = 1024): (attribute: string) => string {
  return perAttributeEntry(make, max);
}

/**
 * `perAttributeName` for any value made per attribute name (an object a binding keeps state in,
 * e.g. the last header line it wrote for the attribute). Past `max` names a fresh one is made on
 * every call, so state kept in it is simply not reused.
 */
export function perAttributeEntry<T>(make: (attribute: string) => T, max = 1024): (attribute: string) => T {
  const made = new Map<string, T>();
  return (attribute) => {
    let value = made.get(attribute);
    if (value === undefined) {
      value = make(attribute);
      if (made.size < max) made.set(attribute, value);
    }
    return value;
  };
}

export interface HeaderLimits {
  /** Longest header value in UTF-16 code units. */
  maxValueLength: number;
  /** Sum of all header name and value lengths. */
  maxTotalLength: number;
  /** Most attributes an envelope carries (data aside). Default 64. */
  maxAttributes?: number;
}

export const DEFAULT_HEADER_LIMITS: HeaderLimits = { maxValueLength: 4096, maxTotalLength: 16384, maxAttributes: 64 };

/** `maxAttributes` when a caller's limits leave it out. */
export const DEFAULT_MAX_ATTRIBUTES = 64;

/**
 * For the one-pass readers that build a sealed envelope (the NATS header block, a structured
 * event): true while the `count`-th attribute, of `valueLength`, bringing names and values to
 * `total`, is within DEFAULT_HEADER_LIMITS. Past them such a reader gives up and the general
 * reader says what is wrong.
 */
export function withinDefaultLimits(valueLength: number, count: number, total: number): boolean {
  return valueLength <= DEFAULT_HEADER_LIMITS.maxValueLength && count <= (DEFAULT_HEADER_LIMITS.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES) && total <= DEFAULT_HEADER_LIMITS.maxTotalLength;
}

/**
 * The name of an event's payload in the envelope. It passes the attribute-name rule but is no
 * attribute (CloudEvents reserves it): a header of that name would become the data of an event
 * that has none, or be silently replaced by the body, so it is refused as a header both ways.
 */
export const DATA_MEMBER = 'data';

/** The refusal of a header named `data`. */
export function dataIsNoAttribute(): HeaderInvalidError {
  return new HeaderInvalidError('"data" is the event\'s payload, not an attribute: it travels as the message body (publish it as the data argument)',
    { details: { header: DATA_MEMBER } });
}

/** CloudEvents attribute names: lowercase ASCII letters and digits, at most 20 characters. */
export function isValidHeaderName(name: string): boolean {
  const n = name.length;
  if (n === 0 || n > 20) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) return false;
  }
  return true;
}

/** Index of the first control character (C0, DEL, CR/LF included), or -1. */
export function controlCharIndex(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 32 || c === 127) return i;
  }
  return -1;
}

/**
 * Checks one header: a valid name and a string value of bounded size free of control characters.
 * Throws HeaderInvalidError naming the header and what is wrong.
 */
export function validateHeader(name: string, value: unknown, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): void {
  if (!isValidHeaderName(name)) {
    throw new HeaderInvalidError(`header name "${name}" must be 1-20 lowercase letters or digits`, { details: { header: name } });
  }
  if (name === DATA_MEMBER) throw dataIsNoAttribute();
  if (typeof value !== 'string') {
    throw new HeaderInvalidError(`header "${name}" must be a string, got ${typeof value}`, { details: { header: name } });
  }
  if (value.length > limits.maxValueLength) {
    throw new HeaderInvalidError(`header "${name}" is ${value.length} characters, over the limit of ${limits.maxValueLength}`,
      { details: { header: name, limit: limits.maxValueLength } });
  }
  const bad = controlCharIndex(value);
  if (bad >= 0) {
    throw new HeaderInvalidError(`header "${name}" contains control character 0x${value.charCodeAt(bad).toString(16)} at ${bad}`,
      { details: { header: name, position: bad } });
  }
}
