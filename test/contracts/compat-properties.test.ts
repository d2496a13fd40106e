import { expect } from 'chai';
import fc from 'fast-check';
import { checkCompatibility, type JsonSchema, type SchemaDocument } from '../../contracts/index.js';
import { createAjv } from '../../contracts/json-schema-validator.js';
import { parseProto } from '../../contracts/protobuf-schema.js';

const KEYS = ['a', 'b', 'c', 'd'] as const;

const leaf: fc.Arbitrary<JsonSchema> = fc.oneof(
  fc.constant({}),
  fc.constantFrom<JsonSchema>({ type: 'string' }, { type: 'integer' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }, { type: ['string', 'null'] }),
  fc.record({ type: fc.constant('number'), minimum: fc.integer({ min: -3, max: 3 }), maximum: fc.integer({ min: 4, max: 9 }), multipleOf: fc.constantFrom(0.5, 1, 2) }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('string'), minLength: fc.integer({ min: 0, max: 2 }), maxLength: fc.integer({ min: 3, max: 6 }), pattern: fc.constantFrom('^a', '^b'), format: fc.constantFrom('date-time', 'email') }, { requiredKeys: ['type'] }),
  fc.record({ enum: fc.uniqueArray(fc.constantFrom<unknown>('a', 'b', 'c', 1, 2, null), { minLength: 1, maxLength: 4 }) }),
);

const { node: schemaArb } = fc.letrec<{ node: JsonSchema; object: JsonSchema; array: JsonSchema; union: JsonSchema }>((tie) => ({
  node: fc.oneof({ maxDepth: 3, depthSize: 'small' }, leaf, tie('object'), tie('array'), tie('union')),
  object: fc.record({
    type: fc.constant('object'),
    properties: fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 3 }),
    required: fc.subarray([...KEYS], { maxLength: 2 }),
    additionalProperties: fc.oneof(fc.boolean(), tie('node')),
    maxProperties: fc.integer({ min: 1, max: 5 }),
  }, { requiredKeys: ['type', 'properties'] }) as fc.Arbitrary<JsonSchema>,
  array: fc.record({ type: fc.constant('array'), items: tie('node'), maxItems: fc.integer({ min: 1, max: 4 }), uniqueItems: fc.boolean() }, { requiredKeys: ['type'] }) as fc.Arbitrary<JsonSchema>,
  union: fc.record({ anyOf: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }) as fc.Arbitrary<JsonSchema>,
}));

const json = (schema: JsonSchema): SchemaDocument => ({ format: 'json-schema', schema });
const paths = (d: SchemaDocument, e: SchemaDocument, mode: 'BACKWARD' | 'FORWARD') =>
  checkCompatibility(d, e, mode).changes.filter((c) => c.category === 'read').map((c) => c.path).sort();

// A protobuf message from generated fields: unique numbers, some in a oneof, some numbers reserved.
const scalar = fc.constantFrom('int32', 'int64', 'uint32', 'sint32', 'sint64', 'bool', 'string', 'bytes', 'double', 'float', 'fixed32', 'sfixed32', 'fixed64');
const protoArb = fc.record({
  fields: fc.uniqueArray(fc.record({ id: fc.integer({ min: 1, max: 8 }), type: scalar, repeated: fc.boolean(), inOneof: fc.boolean(), name: fc.constantFrom('x', 'y', 'z') }), { selector: (f) => f.id, maxLength: 6 }),
  reserved: fc.subarray([9, 10, 11]),
}).map(({ fields, reserved }) => {
  const plain = fields.filter((f) => !f.inOneof).map((f) => `${f.repeated ? 'repeated ' : ''}${f.type} ${f.name}${f.id} = ${f.id};`);
  const grouped = fields.filter((f) => f.inOneof).map((f) => `${f.type} ${f.name}${f.id} = ${f.id};`);
  const body = [...plain, grouped.length ? `oneof g { ${grouped.join(' ')} }` : '', reserved.length ? `reserved ${reserved.join(', ')};` : ''].join(' ');
  return { format: 'protobuf', type: parseProto(`syntax = "proto3"; package p; message M { ${body} }`).lookupType('p.M') } as SchemaDocument;
});

describe('contracts compatibility properties', () => {
  it('contracts compatibility - every JSON Schema is FULL-compatible with itself', () => {
    fc.assert(fc.property(schemaArb, (s) => {
      const r = checkCompatibility(json(s), json(s), 'FULL_TRANSITIVE');
      expect(r.changes, JSON.stringify(s)).to.deep.equal([]);
    }), { numRuns: 400 });
  });

  it('contracts compatibility - BACKWARD(a→b) holds exactly when FORWARD(b→a) does, with the same paths (JSON Schema)', () => {
    fc.assert(fc.property(schemaArb, schemaArb, (a, b) => {
      const backward = checkCompatibility(json(a), json(b), 'BACKWARD');
      const forward = checkCompatibility(json(b), json(a), 'FORWARD');
      expect(backward.compatible).to.equal(forward.compatible);
      expect(paths(json(a), json(b), 'BACKWARD')).to.deep.equal(paths(json(b), json(a), 'FORWARD'));
    }), { numRuns: 400 });
  });

  it('contracts compatibility - a BACKWARD verdict is sound: data valid under the old schema is valid under the new', () => {
    const ajv = createAjv();
    const value = fc.oneof(
      fc.constantFrom<unknown>(null, true, 0, 1, 2, 2.5, -4, 7, 'a', 'ab', 'b', 'c', '2025-11-13T08:00:00Z', 'x@y.io', [], ['a'], [1, 1]),
      fc.dictionary(fc.constantFrom(...KEYS, 'e'), fc.constantFrom<unknown>(null, 1, 2, 'a', 'b', 0.5, [], {}, ['a']), { maxKeys: 4 }),
    );
    let checked = 0;
    fc.assert(fc.property(schemaArb, schemaArb, fc.array(value, { minLength: 5, maxLength: 10 }), (a, b, samples) => {
      if (!checkCompatibility(json(a), json(b), 'BACKWARD').compatible) return;
      const va = ajv.compile(a as object | boolean);
      const vb = ajv.compile(b as object | boolean);
      for (const v of samples) {
        if (!va(v)) continue;
        checked++;
        expect(vb(v), `${JSON.stringify(v)} valid under ${JSON.stringify(a)} but not ${JSON.stringify(b)}`).to.equal(true);
      }
    }), { numRuns: 400 });
    expect(checked).to.be.greaterThan(20);
  });

  it('contracts compatibility - every protobuf message is FULL-compatible with itself', () => {
    fc.assert(fc.property(protoArb, (t) => {
      expect(checkCompatibility(t, t, 'FULL').changes).to.deep.equal([]);
    }), { numRuns: 200 });
  });

  it('contracts compatibility - BACKWARD(a→b) read rules hold exactly when FORWARD(b→a) ones do (protobuf)', () => {
    // Evolution rules (a field removed without reserving its number) look at which schema is
    // newer, so they are the one intended asymmetry; the reader/writer rules are symmetric.
    fc.assert(fc.property(protoArb, protoArb, (a, b) => {
      expect(paths(a, b, 'BACKWARD')).to.deep.equal(paths(b, a, 'FORWARD'));
    }), { numRuns: 200 });
  });
});
