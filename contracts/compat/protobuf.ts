/**
 * Protobuf compatibility on the wire, after buf's WIRE rules. Fields are matched by number;
 * names may change (the wire does not carry them). Reader/writer rules: a field's type must stay
 * in its wire-compatible group, its cardinality must not change, it must not move into or out of
 * a oneof, and proto2 `required` must not be added. Evolution rules (new against old, whatever
 * the mode): a removed field's number must be reserved, and a reserved number or name must not
 * come back.
 */
import protobuf from 'protobufjs';
import type { BreakingChange, Direction } from './types.js';

/** Scalar types that share a wire encoding (buf FIELD_WIRE_COMPATIBLE_TYPE). */
const WIRE_GROUP: Record<string, string> = {
  int32: 'varint', uint32: 'varint', int64: 'varint', uint64: 'varint', bool: 'varint', enum: 'varint',
  sint32: 'zigzag', sint64: 'zigzag',
  fixed32: 'fixed32', sfixed32: 'fixed32',
  fixed64: 'fixed64', sfixed64: 'fixed64',
  string: 'bytes', bytes: 'bytes',
  float: 'float', double: 'double',
};

function kindOf(f: protobuf.Field): string {
  if (f.resolvedType instanceof protobuf.Type) return 'message';
  if (f.resolvedType instanceof protobuf.Enum) return 'enum';
  return f.type;
}

function describeType(f: protobuf.Field): string {
  const base = f.resolvedType ? f.resolvedType.fullName.replace(/^\./, '') : f.type;
  if (f instanceof protobuf.MapField) return `map<${f.keyType}, ${base}>`;
  return `${f.repeated ? 'repeated ' : ''}${base}`;
}

/** The oneof a field really belongs to (proto3 `optional` makes a synthetic one, which does not count). */
function oneofOf(f: protobuf.Field): string | undefined {
  const o = f.partOf;
  if (!o) return undefined;
  if ((f.options as Record<string, unknown> | undefined)?.proto3_optional === true) return undefined;
  return o.name;
}

/**
 * Breaking changes that stop `reader` from reading bytes written with `writer`.
 * @example protobufReads(oldType, newType, 'backward')
 */
export function protobufReads(writer: protobuf.Type, reader: protobuf.Type, direction: Direction): BreakingChange[] {
  const changes: BreakingChange[] = [];
  const seen = new Map<protobuf.Type, Set<protobuf.Type>>();
  const name = (backward: string, forward: string) => (direction === 'backward' ? backward : forward);

  const visit = (w: protobuf.Type, r: protobuf.Type, path: string) => {
    let pairs = seen.get(w);
    if (!pairs) { pairs = new Set(); seen.set(w, pairs); }
    if (pairs.has(r)) return;
    pairs.add(r);
    const rById = new Map(r.fieldsArray.map((f) => [f.id, f]));
    const wById = new Map(w.fieldsArray.map((f) => [f.id, f]));
    for (const wf of w.fieldsArray) {
      const rf = rById.get(wf.id);
      const at = `${path}${path ? '.' : ''}${rf?.name ?? wf.name}`;
      if (!rf) continue; // the reader skips fields it does not know
      const push = (rule: string, message: string) => changes.push({ rule, path: `${at} (#${wf.id})`, message, category: 'read' });
      const wk = kindOf(wf), rk = kindOf(rf);
      const wMap = wf instanceof protobuf.MapField, rMap = rf instanceof protobuf.MapField;
      const renamed = wf.name !== rf.name;
      if (wMap !== rMap || (wMap && (wf as unknown as protobuf.MapField).keyType !== (rf as unknown as protobuf.MapField).keyType)) {
        push(renamed ? 'field-number-reused' : 'field-type-changed', `${describeType(wf)} ${wf.name} → ${describeType(rf)} ${rf.name}`);
        continue;
      }
      if (wk === 'message' || rk === 'message') {
        if (wk !== rk) push(renamed ? 'field-number-reused' : 'field-type-changed', `${describeType(wf)} ${wf.name} → ${describeType(rf)} ${rf.name}`);
        else visit(wf.resolvedType as protobuf.Type, rf.resolvedType as protobuf.Type, at);
      } else if (WIRE_GROUP[wk] !== WIRE_GROUP[rk] || WIRE_GROUP[wk] === undefined) {
        push(renamed ? 'field-number-reused' : 'field-type-changed', `${describeType(wf)} ${wf.name} → ${describeType(rf)} ${rf.name} (not wire-compatible)`);
      }
      if (!wMap && wf.repeated !== rf.repeated) push('field-cardinality-changed', `${describeType(wf)} → ${describeType(rf)}`);
      if (rf.required && !wf.required) push(name('field-made-required', 'field-made-optional'), `the reader requires ${rf.name}; the writer may leave it out`);
      const wo = oneofOf(wf), ro = oneofOf(rf);
      if (wo !== ro) push('field-oneof-changed', `oneof ${wo ?? '(none)'} → ${ro ?? '(none)'}`);
    }
    for (const rf of r.fieldsArray) {
      if (!wById.has(rf.id) && rf.required) {
        changes.push({ rule: name('required-field-added', 'required-field-removed'), path: `${path}${path ? '.' : ''}${rf.name} (#${rf.id})`, message: `the reader requires ${rf.name}, which the writer does not have`, category: 'read' });
      }
    }
  };
  visit(writer, reader, '');
  return changes;
}

function reservedNumber(t: protobuf.Type, id: number): boolean {
  return (t.reserved ?? []).some((r) => Array.isArray(r) && id >= r[0]! && id <= r[1]!);
}

function reservedName(t: protobuf.Type, name: string): boolean {
  return (t.reserved ?? []).some((r) => r === name);
}

/**
 * Evolution rules of `next` against `previous`: removed fields must have their numbers reserved
 * (buf FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED) and reserved numbers and names must stay unused.
 * @example protobufEvolution(oldType, newType)
 */
export function protobufEvolution(previous: protobuf.Type, next: protobuf.Type): BreakingChange[] {
  const changes: BreakingChange[] = [];
  const seen = new Set<protobuf.Type>();
  const visit = (p: protobuf.Type, n: protobuf.Type, path: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    const nById = new Map(n.fieldsArray.map((f) => [f.id, f]));
    const at = (f: protobuf.Field) => `${path}${path ? '.' : ''}${f.name} (#${f.id})`;
    for (const pf of p.fieldsArray) {
      const nf = nById.get(pf.id);
      if (!nf) {
        if (!reservedNumber(n, pf.id)) changes.push({ rule: 'field-removed-not-reserved', path: at(pf), message: `field ${pf.name} = ${pf.id} was removed without "reserved ${pf.id};"`, category: 'evolution' });
        continue;
      }
      if (pf.resolvedType instanceof protobuf.Type && nf.resolvedType instanceof protobuf.Type) visit(pf.resolvedType, nf.resolvedType, at(nf).replace(/ \(#\d+\)$/, ''));
    }
    for (const nf of n.fieldsArray) {
      if (reservedNumber(p, nf.id)) changes.push({ rule: 'reserved-number-reused', path: at(nf), message: `number ${nf.id} was reserved in the previous version`, category: 'evolution' });
      else if (reservedName(p, nf.name)) changes.push({ rule: 'reserved-name-reused', path: at(nf), message: `name ${nf.name} was reserved in the previous version`, category: 'evolution' });
    }
  };
  visit(previous, next, '');
  return changes;
}
