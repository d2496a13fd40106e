/**
 * The fast readers of a NATS header block in the form signalbus writes: the hot path of every
 * delivery. The general reader (binding.ts' EnvelopeCollector, through core's AttributeReader)
 * takes any block and says exactly what is wrong with it; these take only blocks that pass every
 * per-header rule as it applies them, and give the same envelope, key order included, or
 * undefined (the general reader then reads the block).
 *
 * Two steps. The blocks one publisher sends share their lines (names, order, separators) and most
 * values (specversion, source, type, content type); only the id, time and traceparent change. So
 * a block is first tried against the patterns of the shapes most likely to be its own
 * (HeaderShapes: the last block's, or the one before it when publishers take turns), which hold
 * the constant parts literally and capture the rest: one native regex match, no per-line work.
 * Any other block is checked whole by the COMMON_BLOCK regex and read line by line, and its shape
 * learnt for the next.
 */
import {
  checkedEnvelope, DATA_MEMBER, EnvelopeInvalidError, HeaderInvalidError, isRfc3339Time, refuseInbound, isValidTraceparent, RFC3339_TIME_PATTERN, sealedEnvelope, withinDefaultLimits, CLOUDEVENTS_ATTRIBUTES,
  STANDARD_EXTENSIONS, VERSION_00_TRACEPARENT_PATTERN, type Envelope,
} from '../../core/index.js';
import type { DecodedNatsMessage } from './binding.js';

/** One instance for every payload without `ce-specversion` (a device stream makes many; the dead letter's `dlqsubject` names the subject). */
export const NO_SPECVERSION = new EnvelopeInvalidError('nats message is not a CloudEvent (no ce-specversion header, and no structured-mode event in the body)');

/** Why the attributes read from a message do not make a CloudEvent, or undefined when they do. */
export function cloudEventProblem(subject: string, env: Record<string, unknown>): EnvelopeInvalidError | undefined {
  if (env.specversion === undefined) return NO_SPECVERSION;
  if (env.specversion !== '1.0') {
    return new EnvelopeInvalidError(`message on ${subject} has specversion ${JSON.stringify(env.specversion)}; expected "1.0"`, { details: { subject, attribute: 'specversion' } });
  }
  if (typeof env.id !== 'string' || env.id === '' || typeof env.source !== 'string' || env.source === '' || typeof env.type !== 'string' || env.type === '') {
    const attr = !env.id ? 'id' : !env.source ? 'source' : 'type';
    return new EnvelopeInvalidError(`message on ${subject} lacks the ce-${attr} header`, { details: { subject, attribute: attr } });
  }
  return undefined;
}

/**
 * The decoded message of a CloudEvent read off the wire, every reader's last step: `env` holds its
 * attributes, `content-type` (kept aside while reading) is the datacontenttype unless
 * `ce-datacontenttype` gave one, the body is the data.
 */
export function cloudEventMessage(env: Record<string, unknown>, contentType: string | undefined, body: Uint8Array, replyTo: string | undefined): DecodedNatsMessage {
  if (contentType !== undefined) {
    if (env.datacontenttype === undefined) env.datacontenttype = contentType;
    // datacontenttype given twice, two ways, and not the same: which one counts would be a guess.
    else if (env.datacontenttype !== contentType) {
      refuseInbound(env as Envelope, new HeaderInvalidError('headers content-type and ce-datacontenttype disagree; send the data content type once', { details: { header: 'content-type' } }));
    }
  }
  if (body.byteLength > 0 || env.datacontenttype !== undefined) env.data = body;
  return replyTo === undefined ? { envelope: env as Envelope } : { envelope: env as Envelope, replyTo };
}

/**
 * A header block in the form signalbus writes: after `NATS/1.0`, only lines `ce-<name>: <value>`
 * (name 1-20 lowercase letters or digits), `content-type`, `sb-reply-to` or `Nats-Msg-Id`, with
 * values of printable ASCII without `%` and no space around them but the one after the colon.
 * One regex pass (~0.2 µs for a typical block) instead of a character loop per value (~0.5 µs).
 * Linear: no character class in a line overlaps CR or LF, so each line matches one way.
 */
const COMMON_BLOCK = /^NATS\/1\.0\r\n(?:(?:ce-[a-z0-9]{1,20}|content-type|sb-reply-to|Nats-Msg-Id): ?(?:[!-$&-~](?:[ -$&-~]*[!-$&-~])?)?\r\n)*\r\n$/;
const HEAD = 'NATS/1.0\r\n';
const HEAD_LENGTH = HEAD.length;
const C = 0x63, E = 0x65, S = 0x73, SPACE = 0x20;

/** The CloudEvents attributes and signalbus's extensions, by length: a name read off the wire is replaced by one of these constants. */
const KNOWN_ATTRIBUTES: string[][] = [];
for (const name of [...CLOUDEVENTS_ATTRIBUTES, ...STANDARD_EXTENSIONS]) (KNOWN_ATTRIBUTES[name.length] ??= []).push(name);

/**
 * The constant for the attribute name `text[start, end)`, or undefined. A store under a constant
 * (internalised) key is cheaper than under a string sliced from the block, which V8 has to look up
 * in its string table first, once per attribute of every message.
 */
function knownAttribute(text: string, start: number, end: number): string | undefined {
  const candidates = KNOWN_ATTRIBUTES[end - start];
  if (candidates !== undefined) for (const name of candidates) if (text.startsWith(name, start)) return name;
  return undefined;
}

/** What a header line carries. */
const enum LineKind { Attribute, ContentType, ReplyTo, MsgId }

/** A line as the regex step read it. */
interface ReadLine {
  /** `ce-id: `, `content-type:`…: the name and separator exactly as the block had them. */
  readonly start: string;
  readonly kind: LineKind;
  /** The attribute name (a constant where there is one); '' for the other kinds. */
  readonly attribute: string;
  /** Characters the line adds to core's attribute total besides its value (name; 12 for content-type). */
  readonly nameLength: number;
  readonly value: string;
}

/** A line of a shape: what every block of the shape had in it so far. */
interface ShapeLine extends Omit<ReadLine, 'value'> {
  /** The value every block had (a constant in the pattern, reused as is), or undefined once it varied. */
  literal: string | undefined;
  /** An earlier line whose value this one had in every block (correlationid = id on a new trace), or -1. */
  sameAs: number;
  /** The pattern's capture group of the value: its own, `sameAs`'s, or 0 for a literal. */
  group: number;
}

/**
 * The lines one publisher's blocks share (names, order, separators) and the pattern that reads
 * them: the constant parts literally, each varying value as a capture group checked by the rule
 * COMMON_BLOCK applies. Built from the second block of the shape on, widened (a literal becomes a
 * capture) when a block differs from it, so it is compiled at most once per line and once more.
 */
interface Shape {
  readonly lines: ShapeLine[];
  pattern: RegExp | undefined;
  /** The pattern checks `time` and `traceparent` as the Bus would (compile): an envelope it reads needs no more checks (`checkedEnvelope`). */
  checked: boolean;
}

/** Longest value a pattern holds as a literal: long values seldom repeat. */
const MAX_LITERAL = 256;
/** Shapes kept per HeaderShapes: one per publisher's set of attributes, a handful on one subscription. Past this the oldest is dropped. */
const MAX_SHAPES = 16;
/** Patterns tried before the regex step reads a block (the last two shapes' and others'): a failed match costs ~0.3 µs, about the regex step's cost. */
const SHAPES_TRIED = 4;
/** Compiles banked, and the blocks read that earn another: a hostile stream of ever new shapes cannot make every block a compile. */
const MAX_COMPILE_CREDIT = 64;
const BLOCKS_PER_COMPILE = 1000;
/** A value COMMON_BLOCK admits, captured: printable ASCII without `%`, no space at either end. */
const VALUE_GROUP = '((?:[!-$&-~](?:[ -$&-~]*[!-$&-~])?)?)';

/**
 * The attributes the Bus checks beyond the header rules, each as a pattern that admits a subset of
 * what it accepts (and of VALUE_GROUP): `time` in RFC 3339, a version-00 `traceparent` with
 * non-zero ids. A shape whose pattern checks both this way (or holds literals that pass) reads
 * envelopes the Bus need not check again (`checkedEnvelope`): ~0.15 µs a delivery.
 */
const CHECKED_ATTRIBUTES = new Map<string, { readonly pattern: string; test(value: string): boolean }>([
  ['time', { pattern: RFC3339_TIME_PATTERN, test: isRfc3339Time }],
  ['traceparent', { pattern: VERSION_00_TRACEPARENT_PATTERN, test: isValidTraceparent }],
]);

/**
 * What a reader learnt of the header blocks one subscription receives: the shapes of their
 * publishers and the last one read. One per subscription, so subscriptions fed by different
 * publishers do not take turns replacing each other's last shape, and a hostile stream on one
 * costs no other. Compiles are bounded: a shape is compiled from its second block on and then
 * only widened (once per line at most), at most MAX_SHAPES are kept, and compiles past the first
 * MAX_COMPILE_CREDIT are earned by blocks read, one per BLOCKS_PER_COMPILE.
 */
export class HeaderShapes {
  private readonly shapes = new Map<string, Shape>();
  /** The last block's shape, the shape before it (the last of another shape), and whether the last block switched from it. */
  private last: Shape | undefined;
  private beforeLast: Shape | undefined;
  private switched = false;
  private compileCredit = MAX_COMPILE_CREDIT;
  /** @internal Patterns compiled so far: the tests hold it to the bounds above. */
  compiled = 0;

  /**
   * The envelope of a header block in the form signalbus writes (COMMON_BLOCK, no repeats, within
   * core's default limits, a CloudEvent), or undefined when the block is anything else. Such a
   * block passes every per-header rule as the AttributeReader applies it, so the envelope is
   * sealed the same way (or marked checked in full, when the shape's pattern checked its time and
   * traceparent too), and it is the same envelope, key order included (the tests compare the
   * readers on generated blocks and on sequences of them). Profiles of NATS delivery had the
   * general reader at ~2 µs a message, the largest framework cost on the path; the regex step
   * takes half of that, the shape's pattern under half again.
   */
  read(subject: string, text: string, body: Uint8Array): DecodedNatsMessage | undefined {
    if (this.compileCredit < MAX_COMPILE_CREDIT) this.compileCredit += 1 / BLOCKS_PER_COMPILE;
    // A failed match costs about as much as a match (~0.3 µs): the likelier shape goes first. That
    // is the last one, unless the last block switched shapes, as publishers taking turns do.
    const first = this.switched ? this.beforeLast : this.last;
    const second = this.switched ? this.last : this.beforeLast;
    let match = first?.pattern?.exec(text) ?? null;
    if (match !== null) return this.readAs(first!, match, subject, body);
    match = second?.pattern?.exec(text) ?? null;
    if (match !== null) return this.readAs(second!, match, subject, body);
    let tries = SHAPES_TRIED - 2;
    for (const shape of this.shapes.values()) {
      if (tries <= 0) break;
      if (shape === first || shape === second || shape.pattern === undefined) continue;
      match = shape.pattern.exec(text);
      if (match !== null) return this.readAs(shape, match, subject, body);
      tries--;
    }
    const read = readNewShape(subject, text, body);
    if (read === undefined) return undefined;
    this.use(this.learn(read.lines));
    return read.decoded;
  }

  /** The envelope of a block `shape`'s pattern matched. */
  private readAs(shape: Shape, match: RegExpExecArray, subject: string, body: Uint8Array): DecodedNatsMessage | undefined {
    this.use(shape);
    return readMatched(shape, match, subject, body);
  }

  /** Records `shape` as the last block's. */
  private use(shape: Shape): void {
    this.switched = shape !== this.last;
    if (this.switched) { this.beforeLast = this.last; this.last = shape; }
  }

  /**
   * The shape of `lines`: a new shape is only remembered (a pattern for a block seen once may
   * never be used); one seen before is widened where `lines` differ from it, and compiled again
   * while there is credit.
   */
  private learn(lines: ReadLine[]): Shape {
    const key = lines.map((l) => l.start).join('\n'); // a start holds no LF
    const known = this.shapes.get(key);
    if (known === undefined) {
      if (this.shapes.size >= MAX_SHAPES) this.shapes.delete(this.shapes.keys().next().value!);
      const shape: Shape = { lines: lines.map((l, i) => firstLine(lines, l, i)), pattern: undefined, checked: false };
      this.shapes.set(key, shape);
      return shape;
    }
    let widened = known.pattern === undefined;
    known.lines.forEach((line, i) => {
      const value = lines[i]!.value;
      if (line.literal !== undefined && line.literal !== value) { line.literal = undefined; widened = true; }
      if (line.sameAs >= 0 && lines[line.sameAs]!.value !== value) { line.sameAs = -1; widened = true; }
    });
    if (!widened) return known;
    if (this.compileCredit < 1) { known.pattern = undefined; return known; } // the regex step reads it until credit is earned
    this.compileCredit--;
    this.compiled++;
    compile(known);
    return known;
  }
}

/** The envelope of a block `lines`' pattern matched: literals as they are, the rest from the groups. */
function readMatched(shape: Shape, match: RegExpExecArray, subject: string, body: Uint8Array): DecodedNatsMessage | undefined {
  const { lines } = shape;
  // Marked from the start: it is returned only once every attribute passed the rules.
  const env = shape.checked ? checkedEnvelope() : sealedEnvelope();
  let contentType: string | undefined;
  let replyTo: string | undefined;
  let count = 0;
  let total = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const value = line.literal ?? match[line.group]!;
    switch (line.kind) {
      case LineKind.Attribute: env[line.attribute] = value; break;
      case LineKind.ContentType: contentType = value; break;
      case LineKind.ReplyTo: replyTo ??= value; continue;
      default: continue; // Nats-Msg-Id: only a made-up envelope uses it, and those take the general reader
    }
    total += line.nameLength + value.length;
    if (!withinDefaultLimits(value.length, ++count, total)) return undefined;
  }
  if (cloudEventProblem(subject, env) !== undefined) return undefined;
  return cloudEventMessage(env, contentType, body, replyTo);
}

/** The regex step, for a block the last shape's pattern did not take: checked whole by COMMON_BLOCK; its lines are learnt from. */
function readNewShape(subject: string, text: string, body: Uint8Array): { decoded: DecodedNatsMessage; lines: ReadLine[] } | undefined {
  if (!COMMON_BLOCK.test(text)) return undefined;
  const env = sealedEnvelope();
  const lines: ReadLine[] = [];
  let contentType: string | undefined;
  let replyTo: string | undefined;
  let count = 0;
  let total = 0;
  const last = text.length - 2;
  for (let pos = HEAD_LENGTH; pos < last;) { // the block ends with an empty line
    const end = text.indexOf('\r\n', pos);
    const colon = text.indexOf(':', pos);
    const from = text.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1;
    const value = text.slice(from, end);
    const first = text.charCodeAt(pos);
    let kind: LineKind;
    let attribute = '';
    let nameLength = 0;
    if (first === C && text.charCodeAt(pos + 1) === E) { // ce-<name> (content-type has "o" second)
      kind = LineKind.Attribute;
      attribute = knownAttribute(text, pos + 3, colon) ?? text.slice(pos + 3, colon);
      if (attribute === DATA_MEMBER || Object.hasOwn(env, attribute)) return undefined; // the general reader says what is wrong
      env[attribute] = value;
      nameLength = colon - pos - 3;
    } else if (first === C) {
      if (contentType !== undefined) return undefined;
      kind = LineKind.ContentType;
      contentType = value;
      nameLength = 12;
    } else {
      kind = first === S ? LineKind.ReplyTo : LineKind.MsgId;
      if (kind === LineKind.ReplyTo) replyTo ??= value;
    }
    lines.push({ start: text.slice(pos, from), kind, attribute, nameLength, value });
    pos = end + 2;
    if (kind === LineKind.ReplyTo || kind === LineKind.MsgId) continue;
    total += nameLength + value.length;
    if (!withinDefaultLimits(value.length, ++count, total)) return undefined;
  }
  if (cloudEventProblem(subject, env) !== undefined) return undefined;
  return { decoded: cloudEventMessage(env, contentType, body, replyTo), lines };
}

/** A shape's line from its first block: the value as the literal, and the earlier line with the same value. */
function firstLine(lines: ReadLine[], line: ReadLine, index: number): ShapeLine {
  const { value, ...named } = line;
  const sameAs = value === '' ? -1 : lines.findIndex((l, i) => i < index && l.value === value);
  return { ...named, literal: value.length <= MAX_LITERAL ? value : undefined, sameAs, group: 0 };
}

/** The pattern of a shape's lines, numbering their capture groups. */
function compile(shape: Shape): void {
  const { lines } = shape;
  let source = '^' + escaped(HEAD);
  let groups = 0;
  let checked = true;
  for (const line of lines) {
    source += escaped(line.start);
    const checks = line.kind === LineKind.Attribute ? CHECKED_ATTRIBUTES.get(line.attribute) : undefined;
    if (line.literal !== undefined) {
      line.group = 0;
      source += escaped(line.literal);
      if (checks !== undefined && !checks.test(line.literal)) checked = false;
    } else if (checks !== undefined) {
      // Never a backreference: the value is checked by the attribute's own pattern.
      line.group = ++groups;
      source += `(${checks.pattern})`;
    } else if (line.sameAs >= 0 && lines[line.sameAs]!.group > 0) {
      line.group = lines[line.sameAs]!.group;
      source += '\\' + line.group;
    } else {
      line.group = ++groups;
      source += VALUE_GROUP;
    }
    source += '\\r\\n';
  }
  shape.pattern = new RegExp(source + '\\r\\n$');
  shape.checked = checked;
}

/** `text` (printable ASCII) as a regex matching exactly it. */
function escaped(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/\r\n]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : '\\' + c));
}
