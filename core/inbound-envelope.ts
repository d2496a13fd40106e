/**
 * The rules every inbound envelope passes before a handler sees it, the same on every transport
 * (README "Bad input"). Two layers, because some faults vanish once a binding has built the
 * envelope (a repeated header keeps one value, bad percent-encoding and invalid UTF-8 become
 * some string) and some are cheapest to stop before anything is built (a 900 KB header block):
 *
 * - while decoding, a binding feeds each attribute it reads through an `AttributeReader`, which
 *   refuses repeats, malformed percent-encoding, oversized values, too many attributes and too
 *   large a total as they come, and stops the binding reading more. What the binding finds wrong
 *   with the wire itself (invalid UTF-8, an oversized header block) it reports with
 *   `refuseInbound(envelope, err)`;
 * - the Bus then takes every delivered envelope, on every transport, through `inboundProblem`
 *   (the refusal a binding recorded, else CloudEvents and header rules) and dead-letters a refused
 *   one at once with the error's code as `dlqreason`; the HTTP gateway answers 4xx with the same
 *   code (`checkInboundEnvelope`).
 *
 * A malformed, all-zero or version-ff `traceparent` is no error: W3C Trace Context says to ignore
 * it and start a new trace, so it is replaced (`withValidTrace`) and `tracestate` dropped with it.
 */
import { validateCloudEventAttributes, validateEnvelopeAttributes, type Envelope } from './envelope.js';
import { HeaderInvalidError, type SignalbusError } from './errors.js';
import { DATA_MEMBER, DEFAULT_HEADER_LIMITS, DEFAULT_MAX_ATTRIBUTES, controlCharIndex, dataIsNoAttribute, isValidHeaderName, type HeaderLimits } from './headers.js';
import { newEventId } from './random.js';
import { checkTraceparent, newTraceparent } from './traceparent.js';

/** On envelopes a binding sealed: the header limits its AttributeReader held every attribute to. */
const READ_UNDER = Symbol('signalbus.readUnder');

/**
 * Collects the attributes a binding reads off the wire, refusing as it goes what the built
 * envelope could no longer show. `add` returns false once something is wrong: stop reading then
 * (the rest of a hostile header block is never decoded or stored).
 *
 * @example
 * const r = new AttributeReader();
 * for (const [name, value] of pairs) if (!r.add(name, value, true)) break;
 * if (r.problem) refuseInbound(envelope, r.problem);
 */
export class AttributeReader {
  readonly attributes: Record<string, unknown> = {};
  /** The first thing found wrong; nothing is added after it. */
  problem: HeaderInvalidError | undefined;
  private count = 0;
  private total = 0;
  private readonly maxAttributes: number;

  constructor(private readonly limits: HeaderLimits = DEFAULT_HEADER_LIMITS) {
    this.maxAttributes = limits.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
  }

  /**
   * Adds attribute `name` with its value as it came; `percentEncoded` (HTTP, NATS) decodes it as
   * UTF-8 percent-encoding, strictly. Each attribute passes the whole per-header rule here (name,
   * length, control characters), so a `seal`ed envelope needs no second pass in the Bus.
   * `bindingName`: a wire header the binding maps to an attribute itself (NATS `content-type`).
   */
  add(name: string, raw: string, percentEncoded: boolean, bindingName = false): boolean {
    if (this.problem !== undefined) return false;
    if (!bindingName && !isValidHeaderName(name)) {
      return this.refuse(new HeaderInvalidError(`header name "${name}" must be 1-20 lowercase letters or digits`, { details: { header: name } }));
    }
    if (!bindingName && name === DATA_MEMBER) return this.refuse(dataIsNoAttribute());
    let value = raw;
    if (percentEncoded && raw.indexOf('%') >= 0) {
      try { value = decodeURIComponent(raw); } catch (cause) {
        return this.refuse(new HeaderInvalidError(`header ${name} has malformed percent-encoding`, { cause, details: { header: name } }));
      }
    }
    if (value.length > this.limits.maxValueLength) {
      return this.refuse(new HeaderInvalidError(`header "${name}" is ${value.length} characters, over the limit of ${this.limits.maxValueLength}`,
        { details: { header: name, limit: this.limits.maxValueLength } }));
    }
    const bad = controlCharIndex(value);
    if (bad >= 0) {
      return this.refuse(new HeaderInvalidError(`header "${name}" contains control character 0x${value.charCodeAt(bad).toString(16)} at ${bad}`,
        { details: { header: name, position: bad } }));
    }
    if (Object.hasOwn(this.attributes, name)) {
      return this.refuse(new HeaderInvalidError(`header ${name} must appear once`, { details: { header: name } }));
    }
    if (++this.count > this.maxAttributes) {
      return this.refuse(new HeaderInvalidError(`more than ${this.maxAttributes} attributes`, { details: { limit: this.maxAttributes } }));
    }
    this.total += name.length + value.length;
    if (this.total > this.limits.maxTotalLength) {
      return this.refuse(new HeaderInvalidError(`headers total over the limit of ${this.limits.maxTotalLength} characters`, { details: { limit: this.limits.maxTotalLength } }));
    }
    this.attributes[name] = value;
    return true;
  }

  /**
   * Marks `envelope`, built from exactly the attributes read here (plus data), as having passed
   * the per-header rules under this reader's limits: the Bus then checks only its CloudEvents
   * attributes (`inboundProblem`). Nothing is marked once a problem was found. A non-enumerable
   * symbol, so a copy (a dead letter, anything rebuilt) is checked in full.
   */
  seal(envelope: object): void {
    if (this.problem === undefined) sealReadEnvelope(envelope, this.limits);
  }

  /** Records `err` as the problem (a binding's own finding, e.g. a value that is not a string); returns false. */
  refuse(err: HeaderInvalidError): false {
    this.problem ??= err;
    return false;
  }
}

/**
 * Seals `envelope` (`AttributeReader.seal`): every attribute it holds passed the per-header rules
 * under `limits`, so the Bus checks only the CloudEvents attributes. A binding whose own
 * single-pass reader makes the object can make it sealed instead (`sealedEnvelope`).
 */
export function sealReadEnvelope(envelope: object, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): void {
  Object.defineProperty(envelope, READ_UNDER, { value: limits });
}

export function sealedEnvelope(limits: HeaderLimits = DEFAULT_HEADER_LIMITS): Record<string, unknown> {
  return sealedPrototypes.object(limits);
}

/**
 * On envelopes a Bus itself handed to a transport: the header limits its publish checks held them
 * to. On an in-process transport the subscriber gets that very object, and checking it again
 * would cost a third of the memory transport's throughput. A non-enumerable symbol property, so a
 * spread copy (a dead letter, anything rebuilt) does not carry it and is checked like anything
 * from outside; and cheaper than a WeakMap entry per message, which showed in profiles.
 */
const PUBLISHED_UNDER = Symbol('signalbus.publishedUnder');

/** Records that a Bus sends `envelope` after its publish checks under `limits` (valid attributes, a valid traceparent). */
export function markPublished(envelope: Envelope, limits: HeaderLimits): void {
  // A frozen envelope (a caller's, via publishEnvelope) stays unmarked: its subscribers check it.
  if (!Object.hasOwn(envelope, PUBLISHED_UNDER) && Object.isExtensible(envelope)) Object.defineProperty(envelope, PUBLISHED_UNDER, { value: limits });
}

/**
 * Prototypes carrying one mark (`READ_UNDER`, `PUBLISHED_UNDER`) set to a limits object, one per
 * limits object: an object made with one carries the mark at no cost (a defineProperty per message
 * cost ~0.2 µs hot and made the object slower to use), reads, prints, serialises and compares as
 * a plain object, and a spread copy of it is plain again.
 */
class MarkedPrototypes {
  private readonly byLimits = new WeakMap<HeaderLimits, object>();
  private readonly defaults: object;

  constructor(private readonly mark: symbol) { this.defaults = this.make(DEFAULT_HEADER_LIMITS); }

  /** A new, empty object carrying the mark for `limits`. */
  object(limits: HeaderLimits): Record<string, unknown> {
    let prototype = limits === DEFAULT_HEADER_LIMITS ? this.defaults : this.byLimits.get(limits);
    if (prototype === undefined) this.byLimits.set(limits, prototype = this.make(limits));
    return Object.create(prototype) as Record<string, unknown>;
  }

  private make(limits: HeaderLimits): object {
    return Object.create(Object.prototype, { [this.mark]: { value: limits } }) as object;
  }
}

const sealedPrototypes = new MarkedPrototypes(READ_UNDER);
const publishedPrototypes = new MarkedPrototypes(PUBLISHED_UNDER);

/**
 * A new, empty envelope object marked from the start as a Bus's own under `limits`
 * (`markPublished`, at no cost), for an envelope the Bus fills only with attributes that passed
 * its checks under those limits (a handler's reply, built from the request it answers).
 */
export function publishedEnvelope(limits: HeaderLimits): Record<string, unknown> {
  return publishedPrototypes.object(limits);
}

/**
 * A new, empty envelope object the Bus takes as one every inbound rule under `limits` holds for,
 * as for an envelope a Bus published (`publishedUnder`): it checks neither its attributes nor its
 * traceparent again. Only for a binding whose reader has itself checked, before filling it, every
 * header rule (names, values, count, total), the CloudEvents attributes (`specversion` 1.0,
 * `id`, `source`, `type`, `time` as RFC 3339) and the traceparent (one W3C lets a receiver
 * continue). Anything less and a handler gets what the Bus would have refused: use
 * `sealedEnvelope` then.
 */
export function checkedEnvelope(limits: HeaderLimits = DEFAULT_HEADER_LIMITS): Record<string, unknown> {
  return publishedPrototypes.object(limits);
}

/** True when a Bus published this very object under the same `limits`, or a binding checked it in full (`checkedEnvelope`): the inbound rules hold for it already. */
export function publishedUnder(envelope: Envelope, limits: HeaderLimits): boolean {
  return (envelope as { [PUBLISHED_UNDER]?: HeaderLimits })[PUBLISHED_UNDER] === limits;
}

/** Envelopes a binding refused while decoding, and why. Not a property: copies of the envelope (a dead letter) must not inherit it. */
const refused = new WeakMap<object, SignalbusError>();

/**
 * Marks a decoded envelope as refused with `err` (the Bus dead-letters it with `err`'s code, on
 * raw subscriptions too). For bindings, whose InboundMessage shape belongs to their transport.
 */
export function refuseInbound(envelope: Envelope, err: SignalbusError): void {
  refused.set(envelope, err);
}

/** Why the binding refused `envelope`, if it did. */
export function inboundRefusal(envelope: Envelope): SignalbusError | undefined {
  return refused.get(envelope);
}

/**
 * What is wrong with a delivered envelope (the binding's refusal, else CloudEvents and header
 * rules), or undefined. A bad traceparent is not wrong here: see `withValidTrace`.
 */
export function inboundProblem(envelope: Envelope, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): SignalbusError | undefined {
  const marked = refused.get(envelope);
  if (marked !== undefined) return marked;
  try {
    // A sealed envelope's headers passed the same rules, under the same limits, as they were read.
    if ((envelope as { [READ_UNDER]?: HeaderLimits })[READ_UNDER] === limits) validateCloudEventAttributes(envelope);
    else validateEnvelopeAttributes(envelope, limits);
  } catch (err) {
    return err as SignalbusError;
  }
  return undefined;
}

/** True for a traceparent W3C lets a receiver continue. */
export function isValidTraceparent(value: string): boolean {
  try { checkTraceparent(value); return true; } catch { return false; }
}

/**
 * `envelope` itself when its traceparent is absent or valid; else a copy starting a new trace
 * (W3C: an unparseable traceparent is ignored and so is the tracestate that goes with it).
 */
export function withValidTrace(envelope: Envelope): Envelope {
  const tp = envelope.traceparent;
  if (typeof tp !== 'string' || isValidTraceparent(tp)) return envelope;
  const fixed: Envelope = { ...envelope, traceparent: newTraceparent() };
  delete fixed.tracestate;
  return fixed;
}

/**
 * For a server decoding a request (the HTTP gateway): throws what `inboundProblem` finds and
 * restarts a malformed trace in place (the envelope was just built from the request).
 */
export function checkInboundEnvelope(env: unknown, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): asserts env is Envelope {
  const marked = env !== null && typeof env === 'object' ? refused.get(env) : undefined;
  if (marked !== undefined) throw marked;
  validateEnvelopeAttributes(env, limits);
  const tp = env.traceparent;
  if (typeof tp === 'string' && !isValidTraceparent(tp)) {
    env.traceparent = newTraceparent();
    delete env.tracestate;
  }
}

/** Room kept for the `dlq*` headers a dead letter adds. */
const DEAD_LETTER_ROOM = 2048;

/**
 * The envelope a refused inbound one is dead-lettered as: its data and every attribute that
 * passes the rules, so the dead letter itself can be read by a signalbus consumer (`dlq.>`).
 * Missing required attributes are made up (`id` new, `source`/`type` naming the refusal).
 */
export function deadLetterable(envelope: Envelope, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): Envelope {
  const out: Record<string, unknown> = {};
  const maxTotal = limits.maxTotalLength - DEAD_LETTER_ROOM;
  const maxCount = (limits.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES) - 8;
  let total = 0;
  let count = 0;
  for (const name in envelope) {
    const value = envelope[name];
    if (name === 'data') { out.data = value; continue; }
    if (typeof value !== 'string' || value.length === 0 || !isValidHeaderName(name) || value.length > limits.maxValueLength || controlCharIndex(value) >= 0) continue;
    if (name === 'time' && Number.isNaN(Date.parse(value))) continue;
    if (name === 'traceparent' && !isValidTraceparent(value)) continue;
    if (total + name.length + value.length > maxTotal || count >= maxCount) continue;
    out[name] = value;
    total += name.length + value.length;
    count++;
  }
  out.specversion = '1.0';
  out.id ??= newEventId();
  out.source ??= 'urn:signalbus:inbound-refused';
  out.type ??= 'signalbus.inbound.refused';
  return out as Envelope;
}
