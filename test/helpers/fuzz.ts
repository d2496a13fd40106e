/**
 * Shared pieces of the decoder fuzz tests (test/unit/fuzz-*.test.ts): how many cases to run, the
 * one property every decoder an outsider can reach must keep (any input gives a value or a typed
 * `SB_ERR_*` error, never another kind of throw, never a hang), and generators of hostile input
 * (valid messages mutated byte by byte, deep JSON, invalid UTF-8, odd JSON types).
 *
 * `npm test` runs a small number of cases per property (from one fixed seed under CI=true:
 * test/helpers/property-seed.ts); `npm run fuzz` sets SIGNALBUS_FUZZ_CASES to thousands from a
 * random seed. SIGNALBUS_FUZZ_SEED replays a run (fast-check prints the seed of a failure).
 */
import fc from 'fast-check';
import { SignalbusError, validateEnvelope } from '../../core/index.js';

const CASES = Number(process.env.SIGNALBUS_FUZZ_CASES ?? 0);
const SEED = process.env.SIGNALBUS_FUZZ_SEED;

/** True under `npm run fuzz`: suites lift their mocha timeout. */
export const LONG_FUZZ = CASES > 0;

/** Mocha timeout for a fuzz suite: the usual one in `npm test`, none under `npm run fuzz`. */
export const FUZZ_TIMEOUT_MS = LONG_FUZZ ? 0 : 20_000;

/**
 * fast-check parameters: `runs` cases in `npm test`; under `npm run fuzz` SIGNALBUS_FUZZ_CASES
 * times `scale` (a property that costs a millisecond or more a case runs a fraction of the count).
 */
export function fuzzParams(runs: number, scale = 1): { numRuns: number; seed?: number } {
  const numRuns = LONG_FUZZ ? Math.max(runs, Math.floor(CASES * scale)) : runs;
  return SEED === undefined ? { numRuns } : { numRuns, seed: Number(SEED) };
}

/** A SignalbusError with a stable `SB_ERR_*` code: the only kind of throw a decoder may give. */
export function isTypedError(err: unknown): err is SignalbusError {
  return err instanceof SignalbusError && typeof err.code === 'string' && /^SB_ERR_[A-Z0-9_]+$/.test(err.code);
}

/** What a decoder gave: a value, or the typed error it refused the input with. */
export type Outcome<T> = { value: T; error?: undefined } | { value?: undefined; error: SignalbusError };

function untyped(err: unknown): Error {
  const what = err instanceof Error ? `${err.constructor.name}: ${err.message}` : `a non-Error ${String(err)}`;
  return new Error(`decoder threw ${what}; only a SignalbusError with an SB_ERR_* code may be thrown`, { cause: err });
}

/** Longest a synchronous decode of one fuzz input may take: generous for a shared 2-core machine, far below a hang. */
const SYNC_BOUND_MS = 2_000;

/**
 * Runs a synchronous decoder: returns its value or its typed error; fails on any other throw and
 * on a decode that takes longer than `boundMs` (a catastrophic regex or a quadratic loop).
 *
 * @example const { value, error } = expectEnvelopeOrTypedError(() => fromHttpStructured(bytes));
 */
export function expectEnvelopeOrTypedError<T>(decode: () => T, boundMs = SYNC_BOUND_MS): Outcome<T> {
  const started = performance.now();
  let outcome: Outcome<T>;
  try { outcome = { value: decode() }; } catch (err) {
    if (!isTypedError(err)) throw untyped(err);
    outcome = { error: err };
  }
  const took = performance.now() - started;
  if (took > boundMs) throw new Error(`decoder took ${Math.round(took)} ms on one input (bound ${boundMs} ms)`);
  return outcome;
}

/** Same for an asynchronous decoder, which must also settle within `boundMs`. */
export async function expectEnvelopeOrTypedErrorAsync<T>(decode: () => Promise<T>, boundMs = SYNC_BOUND_MS): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`decoder did not settle within ${boundMs} ms`)), boundMs);
  });
  try {
    return { value: await Promise.race([decode(), hang]) };
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('decoder did not settle')) throw err;
    if (!isTypedError(err)) throw untyped(err);
    return { error: err };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A decoded envelope must at least survive `validateEnvelope`: pass, or be refused with a typed
 * error (the Bus runs it on what a binding hands over). Returns the refusal, if any.
 */
export function expectValidatable(envelope: unknown): SignalbusError | undefined {
  if (envelope === null || typeof envelope !== 'object') throw new Error(`decoder returned ${String(envelope)} instead of an envelope object`);
  return expectEnvelopeOrTypedError(() => validateEnvelope(envelope)).error;
}

// ------------------------------------------------------------------ generators

/** Bytes decoders trip on: NUL, CR, LF, '%', ':', quotes, braces, UTF-8 lead/continuation bytes, a lone surrogate's lead. */
export const interestingByte = fc.constantFrom(0x00, 0x0a, 0x0d, 0x20, 0x22, 0x25, 0x3a, 0x5b, 0x5c, 0x5d, 0x7b, 0x7d, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xed, 0xf0, 0xf4, 0xf8, 0xff);

const anyByte = fc.oneof(fc.integer({ min: 0, max: 255 }), interestingByte);

type Edit =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'repeat'; at: number; n: number; times: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: anyByte }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(anyByte, { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }), times: fc.integer({ min: 2, max: 64 }) }),
);

function applyEdit(b: Buffer, e: Edit): Buffer {
  if (b.length === 0) return e.kind === 'insert' ? Buffer.from(e.bytes) : b;
  const at = e.at % b.length;
  switch (e.kind) {
    case 'set': { const c = Buffer.from(b); c[at] = e.byte; return c; }
    case 'flip': { const c = Buffer.from(b); c[at]! ^= 1 << e.bit; return c; }
    case 'insert': return Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
    case 'delete': return Buffer.concat([b.subarray(0, at), b.subarray(at + e.n)]);
    case 'truncate': return b.subarray(0, at);
    case 'repeat': {
      const piece = b.subarray(at, at + e.n);
      return Buffer.concat([b.subarray(0, at), ...Array.from({ length: e.times }, () => piece), b.subarray(at)]);
    }
  }
}

/**
 * Valid inputs from `seed`, then a few random edits each (bytes set to interesting values, bits
 * flipped, runs inserted, deleted or repeated, the tail cut off). Some are left untouched.
 */
export function mutated(seed: fc.Arbitrary<Buffer>, maxEdits = 4): fc.Arbitrary<Buffer> {
  return fc.tuple(seed, fc.array(edit, { maxLength: maxEdits })).map(([bytes, edits]) => edits.reduce(applyEdit, bytes));
}

/** Text of `seed` mutated as UTF-8 bytes and read back (lossy where the bytes stop being UTF-8). */
export function mutatedText(seed: fc.Arbitrary<string>, maxEdits = 4): fc.Arbitrary<string> {
  return mutated(seed.map((s) => Buffer.from(s, 'utf8')), maxEdits).map((b) => b.toString('utf8'));
}

/** Arbitrary bytes, biased towards the interesting ones. */
export const arbitraryBytes = fc.array(anyByte, { maxLength: 300 }).map((a) => Buffer.from(a));

/** JSON nested `depth` levels deep, around the limit (MAX_JSON_DEPTH 128) and far past it. */
export const deepJson = fc.tuple(
  fc.constantFrom(1, 2, 127, 128, 129, 130, 131, 5_000, 100_000),
  fc.constantFrom('[', '{"a":'),
).map(([depth, open]) => open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth));

/** Strings that break naive code: CR/LF, control characters, lone surrogates, percent escapes good and bad, long runs. */
export const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\r\n', 'a\rb', 'a\nb', '\u0000', '\ud800', '\udfff', '%', '%2', '%zz', '%E0%A4%A', '%C0%80', '%0D%0A',
    '1.0', '__proto__', 'constructor', 'toString', 'x'.repeat(10_000), '9'.repeat(400), 'NaN', '-0'),
);

/** Any JSON-ish value, including the types no attribute may have. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined),
  fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

/** Attribute names: the standard ones, prototype keys and arbitrary ones. */
export const attributeName = fc.oneof(
  fc.constantFrom('specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'dataschema', 'data', 'data_base64',
    'traceparent', 'tracestate', 'correlationid', 'causationid', 'partitionkey', 'tenant', '__proto__', 'constructor', 'toString', 'hasOwnProperty'),
  fc.string({ maxLength: 12 }),
);

/** A CloudEvent as the JSON format writes it: valid, then with attributes overwritten by odd values. */
export const jsonEventObject: fc.Arbitrary<Record<string, unknown>> = fc.tuple(
  fc.record({
    specversion: fc.constant('1.0'), id: fc.uuid(), source: fc.constantFrom('urn:a', '/sensors/1', 'mqtt://x'), type: fc.constantFrom('sensor.reading', 't'),
    time: fc.constantFrom('2026-01-01T00:00:00Z', 'yesterday', '275760-09-13T00:00:00.001Z'),
    datacontenttype: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'application/cloudevents+json', 'Application/JSON; charset=x'),
    data: fc.jsonValue({ maxDepth: 3 }), data_base64: fc.constantFrom('AAEC', 'not base64!', '', '===='),
    traceparent: fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-zz-yy-01'),
  }, { requiredKeys: ['specversion', 'id', 'source', 'type'] }),
  fc.array(fc.tuple(attributeName, oddValue), { maxLength: 3 }),
).map(([event, extra]) => {
  const out: Record<string, unknown> = { ...event };
  // Own properties even for `__proto__`, as JSON.parse makes them.
  for (const [k, v] of extra) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
});
