import { expect } from 'chai';
import {
  checkCompatibility, checkHistory, COMPATIBILITY_MODES, parseMode,
  type CompatibilityMode, type JsonSchema, type SchemaDocument,
} from '../../contracts/index.js';
import { parseProto } from '../../contracts/protobuf-schema.js';

// Each case: an old and a new schema, whether the new one is BACKWARD compatible (its readers
// read the old's data) and FORWARD compatible (old readers read its data), and the rule names
// expected for a failing direction. Every mode's verdict follows: FULL = both, NONE = always,
// a *_TRANSITIVE mode on one pair = its plain form.
interface Case {
  name: string;
  old: SchemaDocument;
  new: SchemaDocument;
  backward: true | string[];
  forward: true | string[];
}

const json = (schema: JsonSchema): SchemaDocument => ({ format: 'json-schema', schema });
const proto = (body: string, syntax = 'proto3'): SchemaDocument =>
  ({ format: 'protobuf', type: parseProto(`syntax = "${syntax}"; package t; ${body}`).lookupType('t.M') });
const obj = (properties: Record<string, JsonSchema>, required: string[] = [], closed = true, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ type: 'object', properties, required, ...(closed ? { additionalProperties: false } : {}), ...extra });
const str = { type: 'string' };
const int = { type: 'integer' };
const num = { type: 'number' };
/** Two spellings of one schema: FULL-compatible from either to the other. */
const equivalent = (name: string, a: JsonSchema, b: JsonSchema): Case[] => [
  { name: `${name} (first → second)`, old: json(a), new: json(b), backward: true, forward: true },
  { name: `${name} (second → first)`, old: json(b), new: json(a), backward: true, forward: true },
];
const tree = (value: JsonSchema): JsonSchema => ({
  $defs: { node: { type: 'object', properties: { value, children: { type: 'array', items: { $ref: '#/$defs/node' } } }, required: ['value'], additionalProperties: false } },
  $ref: '#/$defs/node',
});

const cases: Case[] = [
  // ---- JSON Schema: content models and properties
  { name: 'identical closed object', old: json(obj({ a: str }, ['a'])), new: json(obj({ a: str }, ['a'])), backward: true, forward: true },
  { name: 'optional property added to a closed model', old: json(obj({ a: str })), new: json(obj({ a: str, b: int })), backward: true, forward: ['property-added-to-closed-model'] },
  { name: 'optional property added to an open model', old: json(obj({ a: str }, [], false)), new: json(obj({ a: str, b: int }, [], false)), backward: ['property-added-to-open-model'], forward: true },
  { name: 'unconstrained property added to an open model', old: json(obj({ a: str }, [], false)), new: json(obj({ a: str, b: {} }, [], false)), backward: true, forward: true },
  { name: 'optional property removed from a closed model', old: json(obj({ a: str, b: int })), new: json(obj({ a: str })), backward: ['property-removed-from-closed-model'], forward: true },
  { name: 'optional property removed from an open model', old: json(obj({ a: str, b: int }, [], false)), new: json(obj({ a: str }, [], false)), backward: true, forward: ['property-removed-from-open-model'] },
  { name: 'required property added to a closed model', old: json(obj({ a: str }, ['a'])), new: json(obj({ a: str, b: int }, ['a', 'b'])), backward: ['required-added'], forward: ['property-added-to-closed-model'] },
  { name: 'required property added to an open model', old: json(obj({ a: str }, ['a'], false)), new: json(obj({ a: str, b: int }, ['a', 'b'], false)), backward: ['required-added', 'property-added-to-open-model'], forward: true },
  { name: 'optional property made required', old: json(obj({ a: str, b: int }, ['a'])), new: json(obj({ a: str, b: int }, ['a', 'b'])), backward: ['required-added'], forward: true },
  { name: 'required property made optional', old: json(obj({ a: str, b: int }, ['a', 'b'])), new: json(obj({ a: str, b: int }, ['a'])), backward: true, forward: ['required-removed'] },
  { name: 'open model closed', old: json(obj({ a: str }, [], false)), new: json(obj({ a: str })), backward: ['content-model-closed'], forward: true },
  { name: 'closed model opened', old: json(obj({ a: str })), new: json(obj({ a: str }, [], false)), backward: true, forward: ['content-model-opened'] },
  { name: 'additionalProperties schema narrowed', old: json(obj({}, [], false, { additionalProperties: { type: ['string', 'number'] } })), new: json(obj({}, [], false, { additionalProperties: str })), backward: ['type-narrowed'], forward: true },
  { name: 'nested property type changed', old: json(obj({ w: obj({ start: str }, ['start']) }, ['w'])), new: json(obj({ w: obj({ start: int }, ['start']) }, ['w'])), backward: ['type-narrowed'], forward: ['type-widened'] },
  // ---- JSON Schema: types
  { name: 'integer widened to number', old: json(obj({ t: int }, ['t'])), new: json(obj({ t: num }, ['t'])), backward: true, forward: ['type-widened'] },
  { name: 'number narrowed to integer', old: json(obj({ t: num }, ['t'])), new: json(obj({ t: int }, ['t'])), backward: ['type-narrowed'], forward: true },
  { name: 'string changed to integer', old: json(str), new: json(int), backward: ['type-narrowed'], forward: ['type-widened'] },
  { name: 'null added to a type', old: json(str), new: json({ type: ['string', 'null'] }), backward: true, forward: ['type-widened'] },
  { name: 'untyped schema given a type', old: json({}), new: json(str), backward: ['type-narrowed'], forward: true },
  // ---- JSON Schema: enums and const
  { name: 'enum value added', old: json({ enum: ['ok', 'fault'] }), new: json({ enum: ['ok', 'fault', 'degraded'] }), backward: true, forward: ['enum-value-added'] },
  { name: 'enum value removed', old: json({ enum: ['ok', 'fault', 'degraded'] }), new: json({ enum: ['ok', 'fault'] }), backward: ['enum-value-removed'], forward: true },
  { name: 'enum added to a free string', old: json(str), new: json({ type: 'string', enum: ['ok'] }), backward: ['enum-added'], forward: true },
  { name: 'const changed', old: json({ const: 'v1' }), new: json({ const: 'v2' }), backward: ['enum-value-removed'], forward: ['enum-value-added'] },
  // ---- JSON Schema: bounds
  { name: 'minimum raised', old: json({ type: 'number', minimum: 0 }), new: json({ type: 'number', minimum: 10 }), backward: ['minimum-tightened'], forward: true },
  { name: 'minimum lowered', old: json({ type: 'number', minimum: 10 }), new: json({ type: 'number', minimum: 0 }), backward: true, forward: ['minimum-loosened'] },
  { name: 'maximum lowered', old: json({ type: 'number', maximum: 100 }), new: json({ type: 'number', maximum: 50 }), backward: ['maximum-tightened'], forward: true },
  { name: 'minimum made exclusive at the same value', old: json({ type: 'number', minimum: 0 }), new: json({ type: 'number', exclusiveMinimum: 0 }), backward: ['minimum-tightened'], forward: true },
  { name: 'multipleOf loosened', old: json({ type: 'number', multipleOf: 0.5 }), new: json({ type: 'number', multipleOf: 0.25 }), backward: true, forward: ['multiple-of-changed'] },
  { name: 'maxLength shortened', old: json({ type: 'string', maxLength: 64 }), new: json({ type: 'string', maxLength: 16 }), backward: ['max-length-tightened'], forward: true },
  { name: 'minLength removed', old: json({ type: 'string', minLength: 1 }), new: json(str), backward: true, forward: ['min-length-loosened'] },
  { name: 'pattern added', old: json(str), new: json({ type: 'string', pattern: '^[a-z]+$' }), backward: ['pattern-added'], forward: true },
  { name: 'format removed', old: json({ type: 'string', format: 'date-time' }), new: json(str), backward: true, forward: ['format-removed'] },
  // ---- JSON Schema: arrays
  { name: 'array items narrowed', old: json({ type: 'array', items: num }), new: json({ type: 'array', items: int }), backward: ['type-narrowed'], forward: true },
  { name: 'maxItems added', old: json({ type: 'array', items: str }), new: json({ type: 'array', items: str, maxItems: 16 }), backward: ['max-items-tightened'], forward: true },
  { name: 'uniqueItems added', old: json({ type: 'array', items: str }), new: json({ type: 'array', items: str, uniqueItems: true }), backward: ['unique-items-added'], forward: true },
  // ---- JSON Schema: combinators and $ref
  { name: 'anyOf alternative added', old: json({ anyOf: [str, int] }), new: json({ anyOf: [str, int, { type: 'boolean' }] }), backward: true, forward: ['union-widened'] },
  { name: 'anyOf alternative removed', old: json({ anyOf: [str, int] }), new: json({ anyOf: [str] }), backward: ['type-narrowed'], forward: true },
  { name: 'allOf split of the same schema (unevaluatedProperties closes it)', old: json(obj({ a: str, b: int }, ['a', 'b'])), new: json({ allOf: [{ type: 'object', properties: { a: str }, required: ['a'] }, { properties: { b: int }, required: ['b'] }], unevaluatedProperties: false }), backward: true, forward: true },
  { name: 'allOf member closed against a sibling member property', old: json(obj({ a: str, b: int }, ['a', 'b'])), new: json({ allOf: [{ type: 'object', properties: { a: str }, required: ['a'] }, { properties: { b: int }, required: ['b'], additionalProperties: false }] }), backward: ['property-removed-from-closed-model'], forward: true },
  { name: '$ref target widened (refs followed)', old: json({ $defs: { t: int }, ...obj({ t: { $ref: '#/$defs/t' } }, ['t']) }), new: json({ $defs: { t: num }, ...obj({ t: { $ref: '#/$defs/t' } }, ['t']) }), backward: true, forward: ['type-widened'] },
  { name: '$ref replaced by the same schema inline', old: json({ $defs: { t: int }, ...obj({ t: { $ref: '#/$defs/t' } }, ['t']) }), new: json(obj({ t: int }, ['t'])), backward: true, forward: true },
  { name: 'recursive schema unchanged', old: json(tree(num)), new: json(tree(num)), backward: true, forward: true },
  { name: 'recursive schema value narrowed', old: json(tree(num)), new: json(tree(int)), backward: ['type-narrowed'], forward: true },
  // ---- JSON Schema: found by the semantic oracle (test/contracts/json-schema-oracle.test.ts)
  { name: 'reader type next to anyOf applies with each alternative (not replaced by it)', old: json({ anyOf: [num] }), new: json({ anyOf: [num], type: 'string' }), backward: ['type-narrowed'], forward: true },
  { name: 'reader $ref siblings apply with the target (not replace it)', old: json(int), new: json({ $defs: { n: int }, $ref: '#/$defs/n', type: 'string' }), backward: ['type-narrowed'], forward: true },
  { name: 'additionalProperties: true leaves unevaluatedProperties nothing to close', old: json({ allOf: [{}], unevaluatedProperties: false }), new: json({ allOf: [{}], unevaluatedProperties: false, additionalProperties: true }), backward: true, forward: ['content-model-opened'] },
  { name: 'an allOf member additionalProperties schema is checked under unevaluatedProperties', old: json({ allOf: [{ type: 'object', additionalProperties: {} }], unevaluatedProperties: false }), new: json({ allOf: [{ type: 'object', additionalProperties: { type: 'null' } }], unevaluatedProperties: false }), backward: ['type-narrowed'], forward: true },
  { name: 'each reader allOf member checked on its own (items of the second member)', old: json({ allOf: [{ type: 'array', items: {} }, { type: 'array', items: str }], unevaluatedProperties: false }), new: json({ allOf: [{ type: 'array', items: {} }, { type: 'array', items: { type: 'null' } }], unevaluatedProperties: false }), backward: ['type-narrowed'], forward: ['type-widened'] },
  { name: 'reader oneOf with overlapping alternatives (data matching two is rejected)', old: json({ anyOf: [int, num] }), new: json({ oneOf: [int, num] }), backward: ['one-of-not-exclusive'], forward: true },
  { name: 'reader oneOf with disjoint types reads as anyOf', old: json({ anyOf: [str, int] }), new: json({ oneOf: [str, int] }), backward: true, forward: true },
  { name: 'reader adds a keyword the checker does not model (contains)', old: json({ type: 'array' }), new: json({ type: 'array', contains: int }), backward: ['unchecked-keyword-changed'], forward: true },
  { name: 'the same unmodelled keyword on both sides (propertyNames)', old: json({ type: 'object', propertyNames: { maxLength: 3 } }), new: json({ type: 'object', propertyNames: { maxLength: 3 }, maxProperties: 9 }), backward: ['max-properties-tightened'], forward: true },
  // ---- JSON Schema: one meaning, two spellings (each pair in both directions: FULL either way)
  ...equivalent('nullable as a type list / as anyOf', { type: ['string', 'null'] }, { anyOf: [str, { type: 'null' }] }),
  ...equivalent('a type list / oneOf of the types', { type: ['string', 'integer', 'boolean'] }, { oneOf: [str, int, { type: 'boolean' }] }),
  ...equivalent('a type list with bounds / anyOf with the bounds on the number branch', { type: ['number', 'null'], minimum: 0 }, { anyOf: [{ type: 'number', minimum: 0 }, { type: 'null' }] }),
  ...equivalent('nullable object property as a type list / as anyOf', obj({ a: { type: ['string', 'null'] } }, ['a']), obj({ a: { anyOf: [str, { type: 'null' }] } }, ['a'])),
  ...equivalent('const / a one-value enum', { const: 'v1' }, { enum: ['v1'] }),
  ...equivalent('an enum / anyOf of consts', { enum: ['a', 1, null] }, { anyOf: [{ const: 'a' }, { const: 1 }, { const: null }] }),
  ...equivalent('type boolean / enum [true, false]', { type: 'boolean' }, { enum: [true, false] }),
  ...equivalent('type null / const null', { type: 'null' }, { const: null }),
  ...equivalent('items as a schema / prefixItems with the same items after', { type: 'array', items: str }, { type: 'array', prefixItems: [str, str], items: str }),
  ...equivalent('a closed tuple as items: false / as maxItems', { type: 'array', prefixItems: [str, int], items: false }, { type: 'array', prefixItems: [str, int], maxItems: 2 }),
  ...equivalent('$ref to $defs / the same schema inlined', { $defs: { t: { type: 'integer', minimum: 0 } }, ...obj({ t: { $ref: '#/$defs/t' } }, ['t']) }, obj({ t: { type: 'integer', minimum: 0 } }, ['t'])),
  ...equivalent('$ref with sibling keywords / allOf of the target and the siblings', { $defs: { s: str }, $ref: '#/$defs/s', maxLength: 5 }, { allOf: [str, { maxLength: 5 }] }),
  ...equivalent('additionalProperties: false / unevaluatedProperties: false', obj({ a: str }, ['a']), { type: 'object', properties: { a: str }, required: ['a'], unevaluatedProperties: false }),
  ...equivalent('integer exclusiveMinimum 0 / minimum 1', { type: 'integer', exclusiveMinimum: 0 }, { type: 'integer', minimum: 1 }),
  { name: 'type list narrowed inside anyOf (one alternative dropped)', old: json({ type: ['string', 'null', 'integer'] }), new: json({ anyOf: [str, { type: 'null' }] }), backward: ['union-narrowed'], forward: true },
  // ---- Protobuf (buf WIRE rules)
  { name: 'proto identical', old: proto('message M { string a = 1; int32 b = 2; }'), new: proto('message M { string a = 1; int32 b = 2; }'), backward: true, forward: true },
  { name: 'proto field added', old: proto('message M { string a = 1; }'), new: proto('message M { string a = 1; int32 b = 2; }'), backward: true, forward: true },
  { name: 'proto field removed and reserved', old: proto('message M { string a = 1; int32 b = 2; }'), new: proto('message M { string a = 1; reserved 2; reserved "b"; }'), backward: true, forward: true },
  { name: 'proto field removed without reserving', old: proto('message M { string a = 1; int32 b = 2; }'), new: proto('message M { string a = 1; }'), backward: ['field-removed-not-reserved'], forward: ['field-removed-not-reserved'] },
  { name: 'proto int32 to int64 (varint group)', old: proto('message M { int32 a = 1; }'), new: proto('message M { int64 a = 1; }'), backward: true, forward: true },
  { name: 'proto enum to int32 (buf keeps enums out of the varint group)', old: proto('enum E { E0 = 0; E1 = 1; } message M { E a = 1; }'), new: proto('message M { int32 a = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto int32 to enum', old: proto('message M { int32 a = 1; }'), new: proto('enum E { E0 = 0; E1 = 1; } message M { E a = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto int32 to sint32', old: proto('message M { int32 a = 1; }'), new: proto('message M { sint32 a = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto string to bytes (readers of bytes read any string)', old: proto('message M { string a = 1; }'), new: proto('message M { bytes a = 1; }'), backward: true, forward: ['field-type-changed'] },
  { name: 'proto bytes to string (bytes need not be UTF-8)', old: proto('message M { bytes a = 1; }'), new: proto('message M { string a = 1; }'), backward: ['field-type-changed'], forward: true },
  { name: 'proto map key int32 to int64 (varint group)', old: proto('message M { map<int32, string> m = 1; }'), new: proto('message M { map<int64, string> m = 1; }'), backward: true, forward: true },
  { name: 'proto map value int32 to int64', old: proto('message M { map<string, int32> m = 1; }'), new: proto('message M { map<string, int64> m = 1; }'), backward: true, forward: true },
  { name: 'proto map field renamed (buf: its entry message is renamed)', old: proto('message M { map<string, int32> tags = 1; }'), new: proto('message M { map<string, int32> labels = 1; }'), backward: ['map-field-renamed'], forward: ['map-field-renamed'] },
  // Known departure from buf, which passes this (the explicit FEntry has the synthetic entry's name): signalbus is stricter. See contracts/README.md.
  { name: 'proto map replaced by the equivalent repeated entry message (stricter than buf)', old: proto('message M { map<string, int32> f = 1; }'), new: proto('message M { message FEntry { string key = 1; int32 value = 2; } repeated FEntry f = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto message compared renamed, with its nested types (compared from the message)', old: { format: 'protobuf', type: parseProto('syntax = "proto3"; package t; message Old { enum S { S0 = 0; S1 = 1; } message N { S s = 1; } N n = 1; Old next = 2; }').lookupType('t.Old') }, new: { format: 'protobuf', type: parseProto('syntax = "proto3"; package u; message New { enum S { S0 = 0; } message N { S s = 1; } N n = 1; New next = 2; }').lookupType('u.New') }, backward: ['enum-value-removed-not-reserved'], forward: ['enum-value-removed-not-reserved'] },
  { name: 'proto map key string to int32', old: proto('message M { map<string, string> m = 1; }'), new: proto('message M { map<int32, string> m = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto message field switched to an identical message of another name', old: proto('message N { int32 x = 1; } message O { int32 x = 1; } message M { N n = 1; }'), new: proto('message N { int32 x = 1; } message O { int32 x = 1; } message M { O n = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto message field type moved into the message (another full name)', old: proto('message N { int32 x = 1; } message M { N n = 1; }'), new: proto('message M { message N { int32 x = 1; } N n = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto enum field switched to an identical enum of another name', old: proto('enum E { E0 = 0; E1 = 1; } enum F { F0 = 0; F1 = 1; } message M { E a = 1; }'), new: proto('enum E { E0 = 0; E1 = 1; } enum F { F0 = 0; F1 = 1; } message M { F a = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto enum value added', old: proto('enum E { E0 = 0; E1 = 1; } message M { E a = 1; }'), new: proto('enum E { E0 = 0; E1 = 1; E2 = 2; } message M { E a = 1; }'), backward: true, forward: true },
  { name: 'proto enum value removed without reserving its number', old: proto('enum E { E0 = 0; E1 = 1; } message M { E a = 1; }'), new: proto('enum E { E0 = 0; } message M { E a = 1; }'), backward: ['enum-value-removed-not-reserved'], forward: ['enum-value-removed-not-reserved'] },
  { name: 'proto enum value removed, its number reserved', old: proto('enum E { E0 = 0; E1 = 1; } message M { E a = 1; }'), new: proto('enum E { E0 = 0; reserved 1; } message M { E a = 1; }'), backward: true, forward: true },
  { name: 'proto enum value removed, only its name reserved', old: proto('enum E { E0 = 0; E1 = 1; } message M { E a = 1; }'), new: proto('enum E { E0 = 0; reserved "E1"; } message M { E a = 1; }'), backward: ['enum-value-removed-not-reserved'], forward: ['enum-value-removed-not-reserved'] },
  { name: 'proto enum value renamed (same number)', old: proto('enum E { E0 = 0; E1 = 1; } message M { E a = 1; }'), new: proto('enum E { E0 = 0; ONE = 1; } message M { E a = 1; }'), backward: true, forward: true },
  { name: 'proto nested enum value removed', old: proto('message M { enum S { S0 = 0; S1 = 1; } message N { S s = 1; } N n = 1; }'), new: proto('message M { enum S { S0 = 0; } message N { S s = 1; } N n = 1; }'), backward: ['enum-value-removed-not-reserved'], forward: ['enum-value-removed-not-reserved'] },
  { name: 'proto enum reserved number no longer reserved', old: proto('enum E { E0 = 0; reserved 5; } message M { E a = 1; }'), new: proto('enum E { E0 = 0; } message M { E a = 1; }'), backward: ['reserved-removed'], forward: ['reserved-removed'] },
  { name: 'proto reserved number no longer reserved', old: proto('message M { string a = 1; reserved 5 to 7; }'), new: proto('message M { string a = 1; reserved 5, 7; }'), backward: ['reserved-removed'], forward: ['reserved-removed'] },
  { name: 'proto reserved name no longer reserved', old: proto('message M { string a = 1; reserved "b"; }'), new: proto('message M { string a = 1; }'), backward: ['reserved-removed'], forward: ['reserved-removed'] },
  { name: 'proto reserved range widened', old: proto('message M { string a = 1; reserved 5; }'), new: proto('message M { string a = 1; reserved 5 to max; }'), backward: true, forward: true },
  { name: 'proto fixed32 to sfixed32', old: proto('message M { fixed32 a = 1; }'), new: proto('message M { sfixed32 a = 1; }'), backward: true, forward: true },
  { name: 'proto double to float', old: proto('message M { double a = 1; }'), new: proto('message M { float a = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto field renamed (same number and type)', old: proto('message M { string device = 1; }'), new: proto('message M { string device_id = 1; }'), backward: true, forward: true },
  { name: 'proto field number reused for another field', old: proto('message M { string name = 2; }'), new: proto('message M { int64 count = 2; }'), backward: ['field-number-reused'], forward: ['field-number-reused'] },
  { name: 'proto singular made repeated', old: proto('message M { int32 a = 1; }'), new: proto('message M { repeated int32 a = 1; }'), backward: ['field-cardinality-changed'], forward: ['field-cardinality-changed'] },
  { name: 'proto field moved into a oneof', old: proto('message M { string a = 1; int32 b = 2; }'), new: proto('message M { oneof v { string a = 1; int32 b = 2; } }'), backward: ['field-oneof-changed'], forward: ['field-oneof-changed'] },
  { name: 'proto3 optional added (synthetic oneof ignored)', old: proto('message M { string a = 1; }'), new: proto('message M { optional string a = 1; }'), backward: true, forward: true },
  { name: 'proto reserved number reused', old: proto('message M { string a = 1; reserved 2; }'), new: proto('message M { string a = 1; int32 c = 2; }'), backward: ['reserved-number-reused'], forward: ['reserved-number-reused'] },
  { name: 'proto nested message field changed', old: proto('message N { int32 x = 1; } message M { N n = 1; }'), new: proto('message N { double x = 1; } message M { N n = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto2 required field added', old: proto('message M { optional int32 a = 1; }', 'proto2'), new: proto('message M { optional int32 a = 1; required int32 b = 2; }', 'proto2'), backward: ['required-field-added'], forward: ['required-field-added'] },
  { name: 'proto2 required field removed and reserved (buf: the required set changed)', old: proto('message M { optional int32 a = 1; required int32 b = 2; }', 'proto2'), new: proto('message M { optional int32 a = 1; reserved 2; }', 'proto2'), backward: ['required-field-removed'], forward: ['required-field-removed'] },
  { name: 'proto2 required made optional', old: proto('message M { required int32 a = 1; }', 'proto2'), new: proto('message M { optional int32 a = 1; }', 'proto2'), backward: ['field-made-optional'], forward: ['field-made-optional'] },
  { name: 'proto2 optional made required', old: proto('message M { optional int32 a = 1; }', 'proto2'), new: proto('message M { required int32 a = 1; }', 'proto2'), backward: ['field-made-required'], forward: ['field-made-required'] },
  { name: 'proto2 default changed', old: proto('message M { optional int32 a = 1 [default = 1]; }', 'proto2'), new: proto('message M { optional int32 a = 1 [default = 2]; }', 'proto2'), backward: ['field-default-changed'], forward: ['field-default-changed'] },
  { name: 'proto2 default 0 written out (the zero default)', old: proto('message M { optional int32 a = 1; }', 'proto2'), new: proto('message M { optional int64 a = 1 [default = 0]; }', 'proto2'), backward: true, forward: true },
  { name: 'proto2 int32 default 1 to bool default true (one varint)', old: proto('message M { optional int32 a = 1 [default = 1]; }', 'proto2'), new: proto('message M { optional bool a = 1 [default = true]; }', 'proto2'), backward: true, forward: true },
  { name: 'proto2 int64 default 3 to bool (default false)', old: proto('message M { optional int64 a = 1 [default = 3]; }', 'proto2'), new: proto('message M { optional bool a = 1; }', 'proto2'), backward: ['field-default-changed'], forward: ['field-default-changed'] },
  { name: 'proto enum value 0 renamed (default unchanged on the wire)', old: proto('enum E { E0 = 0; } message M { E a = 1; }'), new: proto('enum E { ZERO = 0; } message M { E a = 1; }'), backward: true, forward: true },
  { name: 'proto nested message not used by any field changed', old: proto('message M { message N { int32 x = 1; } string a = 1; }'), new: proto('message M { message N { string x = 1; } string a = 1; }'), backward: ['field-type-changed'], forward: ['field-type-changed'] },
  { name: 'proto2 optional to proto3 implicit presence', old: proto('message M { optional int32 a = 1; repeated string b = 2; }', 'proto2'), new: proto('message M { int32 a = 1; repeated string b = 2; }'), backward: true, forward: true },
];

function expectedVerdict(c: Case, mode: CompatibilityMode): boolean {
  if (mode === 'NONE') return true;
  if (mode.startsWith('BACKWARD')) return c.backward === true;
  if (mode.startsWith('FORWARD')) return c.forward === true;
  return c.backward === true && c.forward === true;
}

describe('contracts compatibility cases', () => {
  it('contracts compatibility - the table holds at least 40 cases of each kind together', () => {
    expect(cases.length).to.be.at.least(40);
    expect(cases.filter((c) => c.old.format === 'protobuf').length).to.be.at.least(15);
  });

  for (const c of cases) {
    it(`contracts compatibility - ${c.name}: verdict under every mode`, () => {
      for (const mode of COMPATIBILITY_MODES) {
        const r = checkCompatibility(c.old, c.new, mode);
        expect(r.compatible, `${mode}: ${r.changes.map((x) => `${x.rule} ${x.path}`).join(', ')}`).to.equal(expectedVerdict(c, mode));
      }
      for (const [mode, expected] of [['BACKWARD', c.backward], ['FORWARD', c.forward]] as const) {
        if (expected === true) continue;
        const rules = [...new Set(checkCompatibility(c.old, c.new, mode).changes.map((x) => x.rule))].sort();
        expect(rules, mode).to.deep.equal([...expected].sort());
      }
    });
  }

  it('contracts compatibility - every breaking change names a rule and a path', () => {
    const r = checkCompatibility(json(obj({ w: obj({ start: str }, ['start']) }, ['w'])), json(obj({ w: obj({ start: int, end: int }, ['start', 'end']) }, ['w'])), 'FULL');
    expect(r.changes.map((x) => `${x.rule} ${x.path}`)).to.have.members([
      'type-narrowed /w/start', 'required-added /w/end', 'type-widened /w/start', 'property-added-to-closed-model /w/end',
    ]);
    const p = checkCompatibility(proto('message N { int32 x = 1; } message M { N n = 1; }'), proto('message N { string x = 1; } message M { N n = 1; }'), 'BACKWARD');
    expect(p.changes[0]!.path).to.equal('n.x (#1)');
  });

  const series = (...docs: SchemaDocument[]) => docs.map((doc, i) => ({ label: `1.${i}.0`, doc }));
  const summary = (findings: ReturnType<typeof checkHistory>) => findings.map((f) => `${f.previous}->${f.next} ${[...new Set(f.changes.map((c) => c.rule))].sort().join(',')}`);

  it('contracts compatibility - a transitive mode checks against every earlier version: a reserved number un-reserved', () => {
    const history = series(proto('message M { string a = 1; int32 b = 2; }'), proto('message M { string a = 1; reserved 2; }'), proto('message M { string a = 1; }'));
    expect(summary(checkHistory(history, 'BACKWARD'))).to.deep.equal(['1.1.0->1.2.0 reserved-removed']);
    expect(summary(checkHistory(history, 'BACKWARD_TRANSITIVE'))).to.deep.equal(['1.0.0->1.2.0 field-removed-not-reserved', '1.1.0->1.2.0 reserved-removed']);
    expect(checkHistory(history, 'FULL_TRANSITIVE')).to.have.length(2);
    expect(checkHistory(history, 'NONE')).to.deep.equal([]);
  });

  it('contracts compatibility - a transitive mode checks against every earlier version: an enum narrowed, then restored (first = last)', () => {
    const history = series(json({ enum: ['a', 'b', 'c'] }), json({ enum: ['a', 'b'] }), json({ enum: ['a', 'b', 'c'] }));
    expect(summary(checkHistory(history, 'BACKWARD'))).to.deep.equal(['1.0.0->1.1.0 enum-value-removed']);
    expect(summary(checkHistory(history, 'BACKWARD_TRANSITIVE'))).to.deep.equal(['1.0.0->1.1.0 enum-value-removed']);
    expect(summary(checkHistory(history, 'FORWARD'))).to.deep.equal(['1.1.0->1.2.0 enum-value-added']);
    // Against the first version only, 1.2.0 would pass (it equals 1.0.0); the one before it catches it.
    expect(summary(checkHistory(history, 'FORWARD_TRANSITIVE'))).to.deep.equal(['1.1.0->1.2.0 enum-value-added']);
    expect(summary(checkHistory(history, 'FULL_TRANSITIVE'))).to.deep.equal(['1.0.0->1.1.0 enum-value-removed', '1.1.0->1.2.0 enum-value-added']);
  });

  it('contracts compatibility - a transitive mode checks against every earlier version: a field deleted, then its number reused with another type', () => {
    const history = series(proto('message M { string a = 1; int32 b = 2; }'), proto('message M { string a = 1; }'), proto('message M { string a = 1; string c = 2; }'));
    expect(summary(checkHistory(history, 'BACKWARD'))).to.deep.equal(['1.0.0->1.1.0 field-removed-not-reserved']);
    // Only the comparison with 1.0.0 sees that number 2 now means something else.
    expect(summary(checkHistory(history, 'BACKWARD_TRANSITIVE'))).to.deep.equal(['1.0.0->1.1.0 field-removed-not-reserved', '1.0.0->1.2.0 field-number-reused']);
    expect(summary(checkHistory(history, 'FORWARD_TRANSITIVE'))).to.deep.equal(['1.0.0->1.1.0 field-removed-not-reserved', '1.0.0->1.2.0 field-number-reused']);
    expect(summary(checkHistory(series(...history.map((h) => h.doc), proto('message M { string a = 1; string c = 2; int64 d = 3; }')), 'FULL_TRANSITIVE'))).to.deep.equal([
      '1.0.0->1.1.0 field-removed-not-reserved', '1.0.0->1.2.0 field-number-reused', '1.0.0->1.3.0 field-number-reused',
    ]);
  });

  it('contracts compatibility - modes parse case-insensitively and refuse unknown names', () => {
    expect(parseMode('backward')).to.equal('BACKWARD');
    expect(parseMode('full-transitive')).to.equal('FULL_TRANSITIVE');
    expect(() => parseMode('sideways')).to.throw().with.property('code', 'SB_ERR_OPTIONS_INVALID');
  });

  it('contracts compatibility - schemas of different formats cannot be compared', () => {
    expect(() => checkCompatibility(json(str), proto('message M { string a = 1; }'), 'BACKWARD')).to.throw().with.property('code', 'SB_ERR_CONTRACT_LOAD');
  });
});
