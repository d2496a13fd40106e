import { expect } from 'chai';
import fc from 'fast-check';
import { fromHttpBatch, fromHttpBinary, fromHttpStructured, fromJsonEvent, toHttpBatch, toHttpBinary, toHttpStructured, type HeaderMap } from '../../transports/http/binding.js';
import {
  arbitraryBytes, attributeName, deepJson, expectEnvelopeOrTypedError, expectValidatable, FUZZ_TIMEOUT_MS, fuzzParams, hostileString,
  jsonEventObject, mutated, oddValue,
} from '../helpers/fuzz.js';

const validEnvelope = fc.record({
  specversion: fc.constant('1.0'), id: fc.uuid(), source: fc.constant('urn:fuzz'), type: fc.constantFrom('sensor.reading', 'a.b'),
  datacontenttype: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'),
  subject: fc.string({ maxLength: 10 }),
  data: fc.constantFrom('{"t":1}', 'hello', '[1,2,3]').map((s) => new TextEncoder().encode(s)),
});

/** Structured bodies: the JSON of valid events, of events with odd attributes, and arbitrary JSON. */
const structuredBody = fc.oneof(
  validEnvelope.map((e) => Buffer.from(toHttpStructured(e).body!)),
  jsonEventObject.map((e) => Buffer.from(JSON.stringify(e) ?? 'null')),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
);

const batchBody = fc.oneof(
  fc.array(validEnvelope, { maxLength: 4 }).map((es) => Buffer.from(toHttpBatch(es).body!)),
  fc.array(jsonEventObject, { maxLength: 4 }).map((es) => Buffer.from(JSON.stringify(es))),
);

/** Binary-mode headers: a valid event's, then names and values replaced (repeats as arrays, numbers, undefined). */
const binaryHeaders: fc.Arbitrary<HeaderMap> = fc.tuple(
  validEnvelope.map((e) => toHttpBinary(e).headers as HeaderMap),
  fc.array(fc.tuple(
    fc.oneof(attributeName.map((a) => `ce-${a}`), fc.constantFrom('content-type', 'Content-Type', 'CE-ID', 'ce-'), fc.string({ maxLength: 8 })),
    fc.oneof(hostileString, fc.array(hostileString, { maxLength: 3 }), fc.integer(), fc.constant(undefined)),
  ), { maxLength: 4 }),
).map(([headers, extra]) => {
  const out: HeaderMap = { ...headers };
  for (const [k, v] of extra) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
});

describe('fuzz - HTTP binding', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  it('http fuzz - binary mode: any headers and body give an envelope or a typed error', () => {
    fc.assert(fc.property(binaryHeaders, fc.option(arbitraryBytes, { nil: undefined }), (headers, body) => {
      const { value } = expectEnvelopeOrTypedError(() => fromHttpBinary(headers, body));
      if (value) expect(expectValidatable(value)).to.equal(undefined);
    }), fuzzParams(300));
  });

  it('http fuzz - structured mode: any body (valid events mutated, odd attributes, deep JSON, bad UTF-8) gives an envelope or a typed error', () => {
    const body = fc.oneof(mutated(structuredBody), arbitraryBytes, deepJson.map((t) => Buffer.from(`{"specversion":"1.0","data":${t}}`)));
    fc.assert(fc.property(body, (b) => {
      const { value } = expectEnvelopeOrTypedError(() => fromHttpStructured(b));
      if (value) expect(expectValidatable(value)).to.equal(undefined);
    }), fuzzParams(400));
  });

  it('http fuzz - batch mode: any body gives envelopes or a typed error', () => {
    const body = fc.oneof(mutated(batchBody), arbitraryBytes, deepJson.map((t) => Buffer.from(`[${t}]`)));
    fc.assert(fc.property(body, (b) => {
      const { value } = expectEnvelopeOrTypedError(() => fromHttpBatch(b));
      if (value) for (const e of value) expect(expectValidatable(e)).to.equal(undefined);
    }), fuzzParams(300));
  });

  it('http fuzz - one JSON-format event: odd attribute types give an envelope or a typed error', () => {
    fc.assert(fc.property(fc.oneof(jsonEventObject, oddValue), (event) => {
      expectEnvelopeOrTypedError(() => fromJsonEvent(event));
    }), fuzzParams(400));
  });
});

describe('fuzz - HTTP binding regressions (minimized counterexamples)', () => {
  it('http - a structured event whose datacontenttype is not a string is refused with SB_ERR_ENVELOPE_INVALID, not a TypeError', () => {
    const body = Buffer.from('{"specversion":"1.0","id":"1","source":"s","type":"t","data":1,"datacontenttype":5}');
    expect(() => fromHttpStructured(body)).to.throw().with.property('code', 'SB_ERR_ENVELOPE_INVALID');
    expect(() => fromHttpBatch(Buffer.from(`[${body}]`))).to.throw().with.property('code', 'SB_ERR_HTTP_BODY_INVALID');
  });
});
