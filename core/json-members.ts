/**
 * Repeated member names, found on the JSON text. JSON.parse keeps the last of two members with one
 * name where another reader (a proxy, a log line, a consumer in another language) may keep the
 * first, so `{"tenant":"acme",…,"tenant":"evil"}` is a different event to each of them. RFC 8259
 * says names SHOULD be unique; structured-mode readers refuse an event that repeats one
 * (EnvelopeInvalidError, SB_ERR_ENVELOPE_INVALID, `details.member` naming it).
 *
 * Only the objects that hold attributes are checked: the top-level object, or each element of a
 * top-level array (a batch), and optionally the object under one top-level member (a WebSocket
 * frame's `event`). Objects nested deeper are `data`, the user's payload, and are left alone.
 * One pass over the text (names compared in place while an object has few, in a Set past that):
 * linear on any input, and it never throws.
 *
 * @example
 * findRepeatedMember('{"id":"a","id":"b"}');                         // { name: 'id' }
 * findRepeatedMember('[{"id":"a"},{"id":"b","\\u0069d":"c"}]', { elements: true }); // { name: 'id', index: 1 }
 * checkUniqueMembers('{"id":"a","data":{"x":1,"x":2}}');            // fine: data is not checked
 */
import { EnvelopeInvalidError } from './errors.js';

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, OPEN_ARRAY = 0x5b, OPEN_OBJECT = 0x7b, CLOSE_ARRAY = 0x5d, CLOSE_OBJECT = 0x7d;

/** Which objects of a JSON text hold attributes (and must not repeat a member name). */
export interface MemberScope {
  /** The text is an array (a batch): check each of its elements that is an object, instead of the top-level value. */
  elements?: boolean;
  /** Also check the object that is the value of this member of the top-level object (a frame's `event`). */
  within?: string;
}

/** The first member name an object repeats, and which object repeats it. */
export interface RepeatedMember {
  /** The name as JSON.parse decodes it (`"a"` and `"\u0061"` are one name). */
  name: string;
  /** With `elements`: the index of the element that repeats it. */
  index?: number;
  /** With `within`: the member whose object repeats it; absent when the top-level object does. */
  within?: string;
}

/**
 * The first repeated member name (in text order) of the objects `scope` names, or undefined.
 * Says nothing about whether the text is valid JSON and never throws on text that is not: call
 * it on text JSON.parse accepted, where the answer is exact.
 */
export function findRepeatedMember(text: string, scope?: MemberScope): RepeatedMember | undefined {
  const elements = scope?.elements === true;
  const within = scope?.within;
  let depth = 0;
  /** The next string is a member name (just after `{` or `,` in an object). */
  let expectName = false;
  /** The top-level value is an object; the depth-2 container open now is an object. */
  let object1 = false, object2 = false;
  /** The names of the top-level object and of the depth-2 object, when they are checked. */
  let names1: MemberNames | undefined, names2: MemberNames | undefined;
  /** The latest top-level member is `within`: a depth-2 object opened now is its value. */
  let atWithin = false;
  /** The index of the current top-level element (commas at depth 1). */
  let index = 0;
  /** The first backslash at or after the latest name's start (text.length: none); only moves forward, so linear. */
  let backslash = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const names = !expectName ? undefined : depth === 1 ? names1 : depth === 2 ? names2 : undefined;
      expectName = false;
      if (names === undefined) { i = stringEnd(text, i); continue; }
      // A member name: escaped when the next backslash lies inside it (a name without one is used as it stands).
      const start = i + 1;
      const end = i = stringEnd(text, i);
      if (backslash < start) { backslash = text.indexOf('\\', start); if (backslash < 0) backslash = text.length; }
      const escaped = backslash < end;
      const repeated = names.add(text, start, end, escaped);
      if (repeated !== undefined) return depth === 1 ? { name: repeated } : elements ? { name: repeated, index } : { name: repeated, within };
      if (depth === 1 && within !== undefined) atWithin = escaped ? memberName(text, start, end, true) === within : end - start === within.length && text.startsWith(within, start);
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const isObject = c === OPEN_OBJECT;
      expectName = isObject;
      depth++;
      if (depth === 1) {
        object1 = isObject;
        if (isObject && !elements) names1 = new MemberNames();
      } else if (depth === 2) {
        object2 = isObject;
        const checked = isObject && (elements ? !object1 : atWithin && object1);
        names2 = checked ? new MemberNames() : undefined;
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      expectName = false;
      if (--depth <= 0) return undefined; // the top-level value ends: anything after it is no JSON
    } else if (c === COMMA) {
      if (depth === 1) { expectName = object1; index++; } else if (depth === 2) expectName = object2;
    }
  }
  return undefined;
}

/** Up to this many plain names an object's names are compared in place; past it (or at an escaped name) they go in a Set. */
const FEW_NAMES = 16;

/**
 * The member names of one object. An event has about ten, all plain: they are compared where
 * they stand in the text (no string made for each), at most FEW_NAMES comparisons a name. Past
 * that, or once a name has escapes, they are decoded into a Set: linear on any input.
 */
class MemberNames {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private set: Set<string> | undefined;

  /** Adds the name `text[start, end)` (JSON-escaped when `escaped`); returns it decoded when it was there already. */
  add(text: string, start: number, end: number, escaped: boolean): string | undefined {
    let set = this.set;
    if (set === undefined) {
      const starts = this.starts, ends = this.ends;
      if (!escaped && starts.length < FEW_NAMES) {
        const length = end - start;
        for (let j = 0; j < starts.length; j++) {
          const s = starts[j]!;
          if (ends[j]! - s === length && sameText(text, s, start, length)) return text.slice(start, end);
        }
        starts.push(start);
        ends.push(end);
        return undefined;
      }
      set = this.set = new Set();
      for (let j = 0; j < starts.length; j++) set.add(text.slice(starts[j], ends[j]));
    }
    const name = memberName(text, start, end, escaped);
    if (set.has(name)) return name;
    set.add(name);
    return undefined;
  }
}

/** True when `text` holds the same `length` characters at `a` and at `b`. */
function sameText(text: string, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (text.charCodeAt(a + k) !== text.charCodeAt(b + k)) return false;
  return true;
}

/** Longest member name an error repeats back (valid attribute names have at most 20 characters). */
const MAX_NAME_SHOWN = 100;

/**
 * The EnvelopeInvalidError for a repeated member: `details.member` names it (cut to 100
 * characters), with `index`/`within` where the scope gave them and the caller's `details`.
 * `top` says what the top-level object is, for the message.
 */
export function repeatedMemberError(found: RepeatedMember, details?: Record<string, unknown>, top = 'the event'): EnvelopeInvalidError {
  const member = found.name.length > MAX_NAME_SHOWN ? `${found.name.slice(0, MAX_NAME_SHOWN)}…` : found.name;
  const where = found.index !== undefined ? `event ${found.index} of the batch`
    : found.within !== undefined ? `the "${found.within}" object` : top;
  const all: Record<string, unknown> = { ...details, member };
  if (found.index !== undefined) all.index = found.index;
  if (found.within !== undefined) all.within = found.within;
  return new EnvelopeInvalidError(`member ${JSON.stringify(member)} appears more than once in ${where}; JSON readers would disagree on its value: send each member once`, { details: all });
}

/**
 * Throws EnvelopeInvalidError (SB_ERR_ENVELOPE_INVALID, `details.member`) when an object `scope`
 * names repeats a member name; see findRepeatedMember.
 */
export function checkUniqueMembers(text: string, scope?: MemberScope): void {
  const found = findRepeatedMember(text, scope);
  if (found !== undefined) throw repeatedMemberError(found);
}

/** The index of the quote closing the string opened at `open` (text.length when it is not closed). */
function stringEnd(text: string, open: number): number {
  let i = open;
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i < 0) return text.length;
    // Escaped when an odd run of backslashes precedes it; each run is counted once, so this stays linear.
    let k = i - 1;
    while (text.charCodeAt(k) === BACKSLASH) k--;
    if (((i - 1 - k) & 1) === 0) return i;
  }
}

/** The name `text[start, end)` decoded; escapes are rare and decoded by JSON.parse (a malformed one stays as it is). */
function memberName(text: string, start: number, end: number, escaped: boolean): string {
  if (!escaped) return text.slice(start, end);
  try { return JSON.parse(text.slice(start - 1, end + 1)) as string; } catch { return text.slice(start, end); }
}
