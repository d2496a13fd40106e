/**
 * Protobuf compatibility on the wire, after buf's WIRE rules (checked against the real buf by
 * test/contracts/buf-differential.test.ts). Fields are matched by number; field names may change
 * (the wire does not carry them), type names may not (buf FIELD_WIRE_COMPATIBLE_TYPE).
 *
 * Reader/writer rules: a field's type must stay in its wire-compatible group (string may become
 * bytes, not the reverse), a message or enum field must keep its type's name, its cardinality
 * must not change, it must not move into or out of a oneof, the set of proto2 `required` fields
 * must stay the same and a proto2 default must not change. Evolution rules (new against old,
 * whatever the mode): a removed field's or enum value's number must be reserved, and what was
 * reserved must stay reserved.
 */
import protobuf from 'protobufjs';
import type { BreakingChange, Direction } from './types.js';

/** Scalar types that share a wire encoding (buf FIELD_WIRE_COMPATIBLE_TYPE). Enums are not in the varint group. */
const WIRE_GROUP: Record<string, string> = {
  int32: 'varint', uint32: 'varint', int64: 'varint', uint64: 'varint', bool: 'varint',
  sint32: 'zigzag', sint64: 'zigzag',
  fixed32: 'fixed32', sfixed32: 'fixed32',
  fixed64: 'fixed64', sfixed64: 'fixed64',
  string: 'string', bytes: 'bytes',
  float: 'float', double: 'double',
};

/** A reader of `reader` decodes what a writer of `writer` wrote: same group, or string read as bytes (bytes need not be UTF-8). */
function scalarReads(writer: string, reader: string): boolean {
  if (WIRE_GROUP[writer] === undefined || WIRE_GROUP[reader] === undefined) return false;
  return WIRE_GROUP[writer] === WIRE_GROUP[reader] || (writer === 'string' && reader === 'bytes');
}

function kindOf(f: protobuf.Field): string {
  if (f.resolvedType instanceof protobuf.Type) return 'message';
  if (f.resolvedType instanceof protobuf.Enum) return 'enum';
  return f.type;
}

/** The package a message lives in (its nearest ancestor that is not a message). */
function packageOf(t: protobuf.ReflectionObject): string {
  let p = t.parent;
  while (p && p instanceof protobuf.Type) p = p.parent;
  return p ? p.fullName : '';
}

/**
 * A type's name as compared across versions: the message being checked is `` (so it may be
 * renamed), types nested in it are named from it (`N` for `pkg.Reading.N`), others relative to
 * its package, so that a contract whose package names its major (`x.v1` → `x.v2`) compares `N`
 * with `N`; other packages' types keep their full name.
 */
function relativeName(t: protobuf.ReflectionObject, root: protobuf.Type): string {
  const full = t.fullName;
  if (t === root) return '';
  if (full.startsWith(`${root.fullName}.`)) return full.slice(root.fullName.length + 1);
  const pkg = packageOf(root);
  return pkg && full.startsWith(`${pkg}.`) ? `^${full.slice(pkg.length + 1)}` : full.replace(/^\./, '');
}

function describeType(f: protobuf.Field): string {
  const base = f.resolvedType ? f.resolvedType.fullName.replace(/^\./, '') : f.type;
  if (f instanceof protobuf.MapField) return `map<${f.keyType}, ${base}>`;
  return `${f.required ? 'required ' : ''}${f.repeated ? 'repeated ' : ''}${base}`;
}

/** The name protoc gives a map field's entry message: the field name in CamelCase, then `Entry`. */
function mapEntryName(f: protobuf.Field): string {
  const camel = f.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}

/** The oneof a field really belongs to (proto3 `optional` makes a synthetic one, which does not count). */
function oneofOf(f: protobuf.Field): string | undefined {
  const o = f.partOf;
  if (!o) return undefined;
  if ((f.options as Record<string, unknown> | undefined)?.proto3_optional === true) return undefined;
  return o.name;
}

function hasDeclaredDefault(f: protobuf.Field): boolean {
  return (f.options as Record<string, unknown> | undefined)?.default !== undefined;
}

/** A singular field's default as the reader sees it: the declared proto2 default, else its type's zero value. */
function defaultOf(f: protobuf.Field): unknown {
  const declared = (f.options as Record<string, unknown> | undefined)?.default;
  if (f.resolvedType instanceof protobuf.Enum) {
    // By number: renaming an enum value does not change the default on the wire.
    const values = f.resolvedType.values;
    return typeof declared === 'string' && declared in values ? values[declared] : Object.values(values)[0];
  }
  if (f.repeated || f.resolvedType instanceof protobuf.Type) return undefined;
  if (f.type === 'bool') return declared === true ? 1 : 0; // bool shares the varint group: false is 0 on the wire
  if (declared !== undefined) return declared;
  if (f.type === 'string' || f.type === 'bytes') return '';
  return 0;
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
    const fieldPath = (f: protobuf.Field) => `${path}${path ? '.' : ''}${f.name} (#${f.id})`;
    for (const wf of w.fieldsArray) {
      const rf = rById.get(wf.id);
      if (!rf) {
        // The reader skips fields it does not know, but buf wants the same required set (MESSAGE_SAME_REQUIRED_FIELDS).
        if (wf.required) changes.push({ rule: name('required-field-removed', 'required-field-added'), path: fieldPath(wf), message: `the writer requires ${wf.name}, which the reader does not have`, category: 'read' });
        continue;
      }
      const at = fieldPath(rf);
      const push = (rule: string, message: string) => changes.push({ rule, path: at, message, category: 'read' });
      let typeOk = true;
      const typeChanged = (note = '') => { typeOk = false; push(wf.name !== rf.name ? 'field-number-reused' : 'field-type-changed', `${describeType(wf)} ${wf.name} → ${describeType(rf)} ${rf.name}${note}`); };
      const wk = kindOf(wf), rk = kindOf(rf);
      const wMap = wf instanceof protobuf.MapField, rMap = rf instanceof protobuf.MapField;
      if (wMap !== rMap || (wMap && !scalarReads((wf as unknown as protobuf.MapField).keyType, (rf as unknown as protobuf.MapField).keyType))) {
        typeChanged();
        continue;
      }
      // A map is a repeated message named after its field (`map<…> tags` is `repeated TagsEntry`): buf sees a rename as a new type.
      if (wMap && mapEntryName(wf) !== mapEntryName(rf)) push('map-field-renamed', `map ${wf.name} → ${rf.name}: its entry message ${mapEntryName(wf)} becomes ${mapEntryName(rf)}`);
      if (wk === 'message' || rk === 'message' || wk === 'enum' || rk === 'enum') {
        const sameName = wk === rk && relativeName(wf.resolvedType!, writer) === relativeName(rf.resolvedType!, reader);
        if (!sameName) typeChanged();
        else if (wk === 'message') visit(wf.resolvedType as protobuf.Type, rf.resolvedType as protobuf.Type, at.replace(/ \(#\d+\)$/, ''));
      } else if (!scalarReads(wk, rk)) {
        typeChanged(' (not wire-compatible)');
      }
      if (!wMap && wf.repeated !== rf.repeated) push('field-cardinality-changed', `${describeType(wf)} → ${describeType(rf)}`);
      if (rf.required && !wf.required) push(name('field-made-required', 'field-made-optional'), `the reader requires ${rf.name}; the writer may leave it out`);
      if (wf.required && !rf.required) push(name('field-made-optional', 'field-made-required'), `the writer requires ${wf.name}; the reader does not (buf: the required set changed)`);
      const wo = oneofOf(wf), ro = oneofOf(rf);
      if (wo !== ro) push('field-oneof-changed', `oneof ${wo ?? '(none)'} → ${ro ?? '(none)'}`);
      const declared = hasDeclaredDefault(wf) || hasDeclaredDefault(rf);
      if (declared && typeOk && !wf.repeated && !rf.repeated && JSON.stringify(defaultOf(wf)) !== JSON.stringify(defaultOf(rf))) push('field-default-changed', `default ${JSON.stringify(defaultOf(wf)) ?? '(none)'} → ${JSON.stringify(defaultOf(rf)) ?? '(none)'}`);
    }
    for (const rf of r.fieldsArray) {
      if (!wById.has(rf.id) && rf.required) {
        changes.push({ rule: name('required-field-added', 'required-field-removed'), path: fieldPath(rf), message: `the reader requires ${rf.name}, which the writer does not have`, category: 'read' });
      }
    }
    // Messages declared inside this one belong to the contract even when no field uses them yet (buf compares them by name).
    for (const wn of w.nestedArray) {
      const rn = r.nested?.[wn.name];
      if (wn instanceof protobuf.Type && rn instanceof protobuf.Type) visit(wn, rn, `${path}${path ? '.' : ''}${wn.name}`);
    }
  };
  visit(writer, reader, '');
  return changes;
}

type Reserved = protobuf.Type['reserved'];

function reservedNumber(reserved: Reserved, id: number): boolean {
  return (reserved ?? []).some((r) => Array.isArray(r) && id >= r[0]! && id <= r[1]!);
}

function reservedName(reserved: Reserved, name: string): boolean {
  return (reserved ?? []).some((r) => r === name);
}

/** The first number of [start, end] that `reserved` does not cover, if any. */
function firstUncovered(start: number, end: number, reserved: Reserved): number | undefined {
  const ranges = (reserved ?? []).filter((r): r is number[] => Array.isArray(r)).sort((a, b) => a[0]! - b[0]!);
  let next = start;
  for (const [lo, hi] of ranges) {
    if (lo! > next) break;
    if (hi! >= next) next = hi! + 1;
    if (next > end) return undefined;
  }
  return next <= end ? next : undefined;
}

/**
 * Every message and enum the root message reaches (through fields and nested declarations),
 * keyed by its name relative to the root's package.
 */
function reachableTypes(root: protobuf.Type): Map<string, protobuf.Type | protobuf.Enum> {
  const out = new Map<string, protobuf.Type | protobuf.Enum>();
  const add = (t: protobuf.ReflectionObject | null) => {
    if (!(t instanceof protobuf.Type || t instanceof protobuf.Enum)) return;
    const key = relativeName(t, root);
    if (out.has(key)) return;
    out.set(key, t);
    if (t instanceof protobuf.Type) {
      for (const f of t.fieldsArray) add(f.resolvedType);
      for (const nested of t.nestedArray) add(nested);
    }
  };
  add(root);
  return out;
}

/**
 * Evolution rules of `next` against `previous`, for every message and enum the root reaches
 * under the same name in both: removed fields and enum values must have their numbers reserved
 * (buf FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED, ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED), and
 * reserved numbers and names must stay reserved (RESERVED_MESSAGE_NO_DELETE, RESERVED_ENUM_NO_DELETE).
 * @example protobufEvolution(oldType, newType)
 */
export function protobufEvolution(previous: protobuf.Type, next: protobuf.Type): BreakingChange[] {
  const changes: BreakingChange[] = [];
  const before = reachableTypes(previous);
  const after = reachableTypes(next);
  const push = (rule: string, path: string, message: string) => changes.push({ rule, path, message, category: 'evolution' });
  for (const [key, p] of before) {
    const n = after.get(key);
    if (!n || (p instanceof protobuf.Type) !== (n instanceof protobuf.Type)) continue;
    // Paths are relative to the root message, as the read rules' field paths are.
    const label = key.replace(/^\^/, '');
    const prefix = key === '' ? '' : `${label}.`;
    if (p instanceof protobuf.Type && n instanceof protobuf.Type) {
      const nById = new Map(n.fieldsArray.map((f) => [f.id, f]));
      for (const pf of p.fieldsArray) {
        if (!nById.has(pf.id) && !reservedNumber(n.reserved, pf.id)) push('field-removed-not-reserved', `${prefix}${pf.name} (#${pf.id})`, `field ${pf.name} = ${pf.id} was removed without "reserved ${pf.id};"`);
      }
      for (const nf of n.fieldsArray) {
        if (reservedNumber(p.reserved, nf.id)) push('reserved-number-reused', `${prefix}${nf.name} (#${nf.id})`, `number ${nf.id} was reserved in the previous version`);
        else if (reservedName(p.reserved, nf.name)) push('reserved-name-reused', `${prefix}${nf.name} (#${nf.id})`, `name ${nf.name} was reserved in the previous version`);
      }
      reservationsKept(p.reserved, n.reserved, (id) => nById.has(id), (nm) => n.fieldsArray.some((f) => f.name === nm), prefix.slice(0, -1), push);
    } else if (p instanceof protobuf.Enum && n instanceof protobuf.Enum) {
      const numbers = new Set(Object.values(n.values));
      for (const [valueName, id] of Object.entries(p.values)) {
        if (!numbers.has(id) && !reservedNumber(n.reserved, id)) push('enum-value-removed-not-reserved', `${label}.${valueName} (=${id})`, `enum value ${valueName} = ${id} was removed without "reserved ${id};"`);
      }
      for (const [valueName, id] of Object.entries(n.values)) {
        if (reservedNumber(p.reserved, id)) push('reserved-number-reused', `${label}.${valueName} (=${id})`, `number ${id} was reserved in the previous version`);
        else if (reservedName(p.reserved, valueName)) push('reserved-name-reused', `${label}.${valueName} (=${id})`, `name ${valueName} was reserved in the previous version`);
      }
      reservationsKept(p.reserved, n.reserved, (id) => numbers.has(id), (nm) => nm in n.values, label, push);
    }
  }
  return changes;
}

/** What the previous version reserved must stay reserved (a number or name now in use is left to the reuse rules). */
function reservationsKept(before: Reserved, after: Reserved, numberUsed: (id: number) => boolean, nameUsed: (name: string) => boolean, path: string,
  push: (rule: string, path: string, message: string) => void): void {
  for (const r of before ?? []) {
    if (typeof r === 'string') {
      if (!reservedName(after, r) && !nameUsed(r)) push('reserved-removed', path, `name "${r}" is no longer reserved`);
      continue;
    }
    const gap = firstUncovered(r[0]!, r[1]!, after);
    if (gap !== undefined && !numberUsed(gap)) push('reserved-removed', path, `number ${gap} (of reserved ${r[0]}${r[1] !== r[0] ? ` to ${r[1]}` : ''}) is no longer reserved`);
  }
}
