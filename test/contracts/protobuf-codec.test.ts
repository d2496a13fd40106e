import { expect } from 'chai';
import fc from 'fast-check';
import { CodecDecodeError, CodecEncodeError, CodecRegistry } from '../../core/index.js';
import { ProtobufCodec, type SensorReadingV2 } from '../../contracts/index.js';
import { registry } from './helpers.js';

const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
const text = (max: number) => fc.string({ minLength: 1, maxLength: max });
const readingV2 = fc.record({
  deviceId: text(128), ts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), temperature: finite(-273.15, 1000), humidity: finite(0, 100),
  site: text(128), seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), firmware: fc.string({ maxLength: 64 }), battery: finite(0, 1),
  status: fc.constantFrom('ok', 'degraded', 'fault'), tags: fc.array(fc.string({ maxLength: 64 }), { minLength: 1, maxLength: 16 }),
}, { requiredKeys: ['deviceId', 'ts', 'temperature', 'humidity'] }) as fc.Arbitrary<SensorReadingV2>;
const readingV1 = fc.record({
  sensor: text(128), timestamp: fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
  temp: finite(-273.15, 1000), rh: finite(0, 100), location: text(128),
}, { requiredKeys: ['sensor', 'timestamp', 'temp', 'rh'] });

describe('contracts protobuf codec', () => {
  const codec = new ProtobufCodec(registry);

  it('protobuf - sensor.reading 2.0.0 data round-trips through application/protobuf', () => {
    fc.assert(fc.property(readingV2, (r) => {
      expect(registry.get('sensor.reading', '2.0.0').check(r)).to.equal(undefined);
      const back = codec.decode(codec.encode(r, 'sensor.reading'), 'sensor.reading');
      expect(back).to.deep.equal(r);
    }), { numRuns: 300 });
  });

  it('protobuf - sensor.reading 1.0.0 data round-trips through its own message type', () => {
    const v1 = registry.get('sensor.reading', '1.0.0') as unknown as { protobuf: { encode(d: unknown): Uint8Array; decode(b: Uint8Array): unknown } };
    fc.assert(fc.property(readingV1, (r) => {
      expect(registry.get('sensor.reading', '1.0.0').check(r)).to.equal(undefined);
      expect(v1.protobuf.decode(v1.protobuf.encode(r))).to.deep.equal(r);
    }), { numRuns: 200 });
  });

  it('protobuf - the codec registers under application/protobuf and refuses what it cannot do', () => {
    const codecs = new CodecRegistry();
    for (const c of registry.hooks().codecs!()) codecs.register(c);
    expect(codecs.get('application/protobuf; proto=signalbus.sensor.v2.Reading')).to.be.instanceOf(ProtobufCodec);
    expect(() => codec.encode({ alertId: 'a' }, 'alert.raised')).to.throw(CodecEncodeError);
    expect(() => codec.encode({ deviceId: 7 }, 'sensor.reading')).to.throw(CodecEncodeError).with.nested.property('details.issues[0].path', '/deviceId');
    expect(() => codec.decode(new Uint8Array([0x0a, 0xff, 0xff]), 'sensor.reading')).to.throw(CodecDecodeError);
  });
});
