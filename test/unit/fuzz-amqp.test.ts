import { expect } from 'chai';
import fc from 'fast-check';
import { fromAmqpMessage, toAmqpMessage, type AmqpProperties } from '../../transports/amqp/binding.js';
import { arbitraryBytes, attributeName, expectEnvelopeOrTypedError, expectValidatable, FUZZ_TIMEOUT_MS, fuzzParams, hostileString, oddValue } from '../helpers/fuzz.js';

/** Values amqplib hands over in a header table (strings, numbers, bigints, Buffers, timestamps, tables, arrays) and some it never would. */
const headerValue: fc.Arbitrary<unknown> = fc.oneof(
  oddValue, fc.bigInt(), fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
  fc.oneof(fc.integer(), fc.double(), fc.constant(1e20), fc.constant(-1e20), fc.constant(Number.NaN), hostileString)
    .map((value) => ({ '!': 'timestamp', value })),
  fc.constantFrom(Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER, -1, 0),
);

/** Basic properties: plausible ones and the numbers a publisher may put in the 64-bit timestamp. */
const properties: fc.Arbitrary<AmqpProperties> = fc.record({
  messageId: fc.oneof(hostileString, fc.integer()), type: hostileString, appId: hostileString, contentType: hostileString, correlationId: hostileString,
  timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.constant(2 ** 53), fc.constant(1e20), fc.double(), fc.constant(-1)),
  deliveryMode: fc.constantFrom(1, 2),
}, { requiredKeys: [] }) as fc.Arbitrary<AmqpProperties>;

const headers = fc.tuple(
  fc.record({ specversion: fc.constant('1.0'), id: fc.uuid(), source: fc.constant('urn:fuzz'), type: fc.constant('t'), datacontenttype: fc.constant('application/json') }, { requiredKeys: [] })
    .map((e) => toAmqpMessage({ specversion: '1.0', id: 'x', source: 's', type: 't', ...e }, { persistent: false } as never).properties.headers ?? {}),
  fc.array(fc.tuple(
    fc.oneof(attributeName.map((a) => `cloudEvents:${a}`), attributeName.map((a) => `cloudEvents_${a}`),
      fc.constantFrom('x-sb-attempt', 'x-sb-subject', 'x-delivery-count', 'x-death', '__proto__')),
    headerValue,
  ), { maxLength: 6 }),
).map(([base, extra]) => {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of extra) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
});

describe('fuzz - AMQP binding', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  it('amqp fuzz - any headers, properties and body give an envelope or a typed error', () => {
    fc.assert(fc.property(headers, properties, arbitraryBytes, fc.boolean(), fc.boolean(), fc.string({ maxLength: 20 }),
      (h, p, content, redelivered, quorum, routingKey) => {
        const { value } = expectEnvelopeOrTypedError(() => fromAmqpMessage({ routingKey, redelivered, quorum, content, properties: { ...p, headers: h } }));
        if (value) {
          expect(value.attempt).to.be.a('number');
          expectValidatable(value.envelope);
        }
      }), fuzzParams(400));
  });
});

describe('fuzz - AMQP binding regressions (minimized counterexamples)', () => {
  const decode = (properties: AmqpProperties) => () => fromAmqpMessage({ routingKey: 'a.b', redelivered: false, content: Buffer.from('{}'), properties });

  it('amqp - a timestamp property past the largest Date is left out of the envelope instead of a RangeError', () => {
    const { envelope } = decode({ timestamp: 1e20 } as AmqpProperties)();
    expect(envelope.time).to.equal(undefined);
  });

  it('amqp - a timestamp header past the largest Date is left out of the envelope instead of a RangeError', () => {
    const { envelope } = decode({ headers: { 'cloudEvents:time': { '!': 'timestamp', value: 1e20 } } } as AmqpProperties)();
    expect(envelope.time).to.equal(undefined);
  });
});
