import { PatternInvalidError, SubjectInvalidError } from './errors.js';

/**
 * Canonical subjects are dot-separated tokens (`sensor.reading.berlin`). A token is one or
 * more of `A-Z a-z 0-9 _ - ~ : @ =`: characters every broker's topic syntax carries unchanged.
 * Patterns add `*` (exactly one token) and `>` (one or more trailing tokens, last only).
 */
export const MAX_SUBJECT_LENGTH = 255;

function isTokenChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)
    || c === 95 /* _ */ || c === 45 /* - */ || c === 126 /* ~ */ || c === 58 /* : */ || c === 64 /* @ */ || c === 61 /* = */;
}

function check(value: unknown, allowWildcards: boolean): string | undefined {
  if (typeof value !== 'string') return `must be a string, got ${typeof value}`;
  if (value.length === 0) return 'is empty';
  if (value.length > MAX_SUBJECT_LENGTH) return `is ${value.length} characters, over ${MAX_SUBJECT_LENGTH}`;
  let tokenStart = 0;
  for (let i = 0; i <= value.length; i++) {
    const c = i === value.length ? 46 : value.charCodeAt(i);
    if (c === 46 /* . */) {
      const len = i - tokenStart;
      if (len === 0) return `has an empty token at position ${i}`;
      const first = value.charCodeAt(tokenStart);
      if (first === 42 /* * */ || first === 62 /* > */) {
        if (!allowWildcards) return `has a wildcard "${value[tokenStart]}" at position ${tokenStart}; wildcards belong in patterns`;
        if (len !== 1) return `has a wildcard inside the token at position ${tokenStart}; "*" and ">" stand alone`;
        if (first === 62 && i !== value.length) return '">" may only be the last token';
      }
      tokenStart = i + 1;
      continue;
    }
    if (!isTokenChar(c) && !(allowWildcards && (c === 42 || c === 62) && i === tokenStart)) {
      if (c === 42 || c === 62) {
        return allowWildcards ? `has a wildcard inside the token at position ${i}; "*" and ">" stand alone`
          : `has a wildcard "${value[i]}" at position ${i}; wildcards belong in patterns`;
      }
      return `has character ${JSON.stringify(value[i])} at position ${i}; tokens use A-Z a-z 0-9 _ - ~ : @ =`;
    }
  }
  return undefined;
}

// Publishing re-validates the same few subjects over and over; remember the good ones.
const knownSubjects = new Set<string>();
const KNOWN_LIMIT = 10_000;

/** Throws SubjectInvalidError unless `subject` is a concrete canonical subject. */
export function validateSubject(subject: string): void {
  if (knownSubjects.has(subject)) return;
  const problem = check(subject, false);
  if (problem) throw new SubjectInvalidError(`subject "${subject}" ${problem}`, { details: { subject } });
  if (knownSubjects.size >= KNOWN_LIMIT) knownSubjects.clear();
  knownSubjects.add(subject);
}

/** Throws PatternInvalidError unless `pattern` is a subject or a pattern with `*` / trailing `>`. */
export function validatePattern(pattern: string): void {
  const problem = check(pattern, true);
  if (problem) throw new PatternInvalidError(`pattern "${pattern}" ${problem}`, { details: { pattern } });
}

export function isSubject(value: string): boolean { return check(value, false) === undefined; }
export function isPattern(value: string): boolean { return check(value, true) === undefined; }
export function hasWildcards(pattern: string): boolean { return pattern.includes('*') || pattern.includes('>'); }

/** A compiled pattern: call it with a subject to learn whether it matches. */
export type SubjectMatcher = (subject: string) => boolean;

/**
 * Compiles a pattern once into a matcher (validating it).
 * @example compilePattern('sensor.*.berlin')('sensor.reading.berlin') // true
 */
export function compilePattern(pattern: string): SubjectMatcher {
  validatePattern(pattern);
  if (!hasWildcards(pattern)) return (subject) => subject === pattern;
  const tokens = pattern.split('.');
  const tail = tokens[tokens.length - 1] === '>';
  const fixed = tail ? tokens.length - 1 : tokens.length;
  return (subject) => {
    const parts = subject.split('.');
    if (tail ? parts.length <= fixed : parts.length !== fixed) return false;
    for (let i = 0; i < fixed; i++) {
      const t = tokens[i]!;
      if (t !== '*' && t !== parts[i]) return false;
    }
    return true;
  };
}

export function matchSubject(pattern: string, subject: string): boolean {
  return compilePattern(pattern)(subject);
}

/** `sensor.*.x` → `sensor/+/x`; `a.>` → `a/+/#` (MQTT's `#` also matches the parent level, `>` does not). */
export function toMqttTopic(subjectOrPattern: string): string {
  const tokens = subjectOrPattern.split('.');
  const out: string[] = [];
  for (const t of tokens) {
    if (t === '*') out.push('+');
    else if (t === '>') out.push('+', '#');
    else out.push(t);
  }
  return out.join('/');
}

/** The canonical subject of a concrete MQTT topic; throws SubjectInvalidError when a level cannot be a token. */
export function fromMqttTopic(topic: string): string {
  // A '.' inside a level would silently become a token boundary.
  const dot = topic.indexOf('.');
  if (dot >= 0) throw new SubjectInvalidError(`MQTT topic "${topic}" has "." at position ${dot}; levels must be subject tokens`, { details: { topic } });
  const subject = topic.split('/').join('.');
  validateSubject(subject);
  return subject;
}

/** `a.*.b` → `a.*.b`; `a.>` → `a.*.#` (AMQP's `#` matches zero words, `>` one or more). */
export function toAmqpRoutingKey(subjectOrPattern: string): string {
  return subjectOrPattern.endsWith('>') ? `${subjectOrPattern.slice(0, -1)}*.#` : subjectOrPattern;
}

export const HTTP_EVENTS_PREFIX = '/v1/events/';

/** `sensor.reading` → `/v1/events/sensor.reading` (patterns percent-encode `>`). */
export function toHttpPath(subjectOrPattern: string, prefix = HTTP_EVENTS_PREFIX): string {
  return prefix + encodeURIComponent(subjectOrPattern).replace(/%2A/g, '*');
}

/** The subject named by an HTTP path under `prefix`; throws SubjectInvalidError otherwise. */
export function fromHttpPath(path: string, prefix = HTTP_EVENTS_PREFIX): string {
  if (!path.startsWith(prefix)) throw new SubjectInvalidError(`path "${path}" is not under ${prefix}`, { details: { path } });
  let subject: string;
  try { subject = decodeURIComponent(path.slice(prefix.length)); } catch (cause) {
    throw new SubjectInvalidError(`path "${path}" is not valid percent-encoding`, { cause, details: { path } });
  }
  validateSubject(subject);
  return subject;
}

/**
 * The dead-letter subject for `subject` (`dlq.<subject>`). A subject so long that this would be
 * over MAX_SUBJECT_LENGTH (only a foreign publisher's can be: the Bus' own are checked) is cut
 * to fit: a broker refuses, or worse, a subject over its limits (NATS closes the connection). The
 * cut keeps every token before the one it falls in, so `dlq.<prefix>.>` subscribers still get it;
 * the copy's `dlqsubject` keeps the subject whole.
 */
export function deadLetterSubject(subject: string, prefix = 'dlq'): string {
  const room = MAX_SUBJECT_LENGTH - prefix.length - 1;
  if (subject.length <= room) return `${prefix}.${subject}`;
  const cut = subject.slice(0, room);
  return `${prefix}.${cut.endsWith('.') ? cut.slice(0, -1) : cut}`;
}
