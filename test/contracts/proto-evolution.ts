/**
 * Generated protobuf schema evolutions for the differential test against buf: a model of one
 * file (message M with the enums and messages it uses nested inside it, so that everything buf
 * compares in the file is something signalbus reaches from M), random edits of it, and its
 * `.proto` text. Every model printed is valid for both protoc (buf) and protobufjs.
 */
import fc from 'fast-check';

export type Syntax = 'proto2' | 'proto3';
export type Label = 'implicit' | 'optional' | 'repeated' | 'required';

export interface FieldModel { name: string; number: number; type: string; label: Label; oneof?: string; defaultValue?: number }
export interface MessageModel { fields: FieldModel[]; reservedNumbers: number[]; reservedNames: string[] }
export interface EnumModel { prefix: string; values: Array<{ name: string; number: number }>; reservedNumbers: number[] }
export interface FileModel { syntax: Syntax; messages: Record<'M' | 'N' | 'N2', MessageModel>; enums: Record<'E' | 'E2', EnumModel> }

export const SCALARS = ['int32', 'int64', 'uint32', 'uint64', 'bool', 'sint32', 'sint64', 'fixed32', 'sfixed32', 'fixed64', 'sfixed64', 'float', 'double', 'string', 'bytes'] as const;
const NAMED = ['E', 'E2', 'N', 'N2'] as const;
const MAPS = ['map<string, int32>', 'map<string, int64>', 'map<int32, string>', 'map<int64, string>', 'map<string, N>', 'map<string, E>', 'map<bool, sint32>'] as const;
const isMap = (type: string) => type.startsWith('map<');
const INT_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'sfixed32', 'fixed64', 'sfixed64']);
const FIELD_NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const MAX_NUMBER = 12;

const clone = <T>(v: T): T => structuredClone(v);

/** Types a field of this message may have: M uses the nested enums and messages; N and N2 scalars and the enums. */
function typesFor(message: keyof FileModel['messages']): string[] {
  return message === 'M' ? [...SCALARS, ...NAMED, ...MAPS] : [...SCALARS, 'E', 'E2'];
}

// ------------------------------------------------------------------ generating a first version

const fieldArb = (message: keyof FileModel['messages']) => fc.record({
  name: fc.constantFrom(...FIELD_NAMES),
  number: fc.integer({ min: 1, max: MAX_NUMBER }),
  type: fc.constantFrom(...typesFor(message)),
  label: fc.constantFrom<Label>('implicit', 'optional', 'repeated', 'required'),
  oneof: fc.option(fc.constantFrom('o', 'p'), { nil: undefined, freq: 4 }),
  defaultValue: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined, freq: 5 }),
});

const messageArb = (message: keyof FileModel['messages']) => fc.record({
  fields: fc.array(fieldArb(message), { maxLength: message === 'M' ? 6 : 3 }),
  reservedNumbers: fc.uniqueArray(fc.integer({ min: 1, max: MAX_NUMBER }), { maxLength: 2 }),
  reservedNames: fc.uniqueArray(fc.constantFrom(...FIELD_NAMES), { maxLength: 1 }),
});

const enumArb = (prefix: string) => fc.record({
  prefix: fc.constant(prefix),
  values: fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { maxLength: 3 }).map((ns) => [0, ...ns].map((number) => ({ name: `${prefix}_${number}`, number }))),
  reservedNumbers: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { maxLength: 2 }),
});

export const fileArb: fc.Arbitrary<FileModel> = fc.record({
  syntax: fc.constantFrom<Syntax>('proto2', 'proto3'),
  messages: fc.record({ M: messageArb('M'), N: messageArb('N'), N2: messageArb('N2') }),
  enums: fc.record({ E: enumArb('E'), E2: enumArb('F') }),
}).map(normalize);

// ------------------------------------------------------------------ edits

type Edit = (m: FileModel) => void;
const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
const freeNumber = (msg: MessageModel, seed: number) => {
  const used = new Set(msg.fields.map((f) => f.number));
  const free = Array.from({ length: MAX_NUMBER }, (_, k) => k + 1).filter((n) => !used.has(n));
  return pick(free, seed);
};

/** One random edit of a file: the changes buf's WIRE rules are about. */
const editArb: fc.Arbitrary<Edit> = fc.tuple(
  fc.constantFrom<keyof FileModel['messages']>('M', 'M', 'M', 'N', 'N2'),
  fc.constantFrom<keyof FileModel['enums']>('E', 'E2'),
  fc.nat(1000), fc.nat(1000),
  fc.constantFrom('add', 'remove', 'remove-reserve', 'remove-reserve-name', 'renumber', 'retype', 'retype-scalar', 'rename', 'relabel', 'oneof', 'default',
    'enum-add', 'enum-remove', 'enum-remove-reserve', 'enum-rename', 'enum-unreserve', 'enum-reserve', 'reserve', 'unreserve', 'syntax'),
).map(([message, en, i, j, kind]): Edit => (m) => {
  const msg = m.messages[message];
  const field = pick(msg.fields, i);
  const e = m.enums[en];
  switch (kind) {
    case 'add': {
      const number = freeNumber(msg, j);
      const name = pick(FIELD_NAMES.filter((n) => !msg.fields.some((f) => f.name === n)), i);
      if (number !== undefined && name) msg.fields.push({ name, number, type: pick(typesFor(message), j)!, label: pick(['implicit', 'optional', 'repeated', 'required'] as Label[], i)! });
      break;
    }
    case 'remove':
    case 'remove-reserve':
    case 'remove-reserve-name':
      if (!field) break;
      msg.fields = msg.fields.filter((f) => f !== field);
      if (kind === 'remove-reserve') msg.reservedNumbers.push(field.number);
      if (kind === 'remove-reserve-name') msg.reservedNames.push(field.name);
      break;
    case 'renumber': {
      const number = freeNumber(msg, j);
      if (field && number !== undefined) field.number = number;
      break;
    }
    case 'retype': if (field) field.type = pick(typesFor(message), j)!; break;
    case 'retype-scalar': if (field && (SCALARS as readonly string[]).includes(field.type)) field.type = pick(SCALARS, j)!; break;
    case 'rename': {
      const name = pick(FIELD_NAMES.filter((n) => !msg.fields.some((f) => f.name === n)), j);
      if (field && name) field.name = name;
      break;
    }
    case 'relabel': if (field) field.label = pick(['implicit', 'optional', 'repeated', 'required'] as Label[], j)!; break;
    case 'oneof': if (field) field.oneof = pick([undefined, 'o', 'p'], j); break;
    case 'default': if (field) field.defaultValue = pick([undefined, 0, 1, 2], j); break;
    case 'enum-add': {
      const used = new Set(e.values.map((v) => v.number));
      const number = pick([1, 2, 3, 4, 5, 6, 7].filter((n) => !used.has(n)), j);
      if (number !== undefined) e.values.push({ name: `${e.prefix}_${number}`, number });
      break;
    }
    case 'enum-remove':
    case 'enum-remove-reserve': {
      const value = pick(e.values.filter((v) => v.number !== 0), j);
      if (!value) break;
      e.values = e.values.filter((v) => v !== value);
      if (kind === 'enum-remove-reserve') e.reservedNumbers.push(value.number);
      break;
    }
    case 'enum-rename': { const value = pick(e.values, j); if (value) value.name = `${e.prefix}_R${value.number}`; break; }
    case 'enum-unreserve': e.reservedNumbers = e.reservedNumbers.filter((_, k) => k !== j % Math.max(1, e.reservedNumbers.length)); break;
    case 'enum-reserve': e.reservedNumbers.push(1 + (j % 7)); break;
    case 'reserve': if (j % 2) msg.reservedNumbers.push(1 + (j % MAX_NUMBER)); else msg.reservedNames.push(pick(FIELD_NAMES, i)!); break;
    case 'unreserve':
      if (j % 2) msg.reservedNumbers = msg.reservedNumbers.filter((_, k) => k !== i % Math.max(1, msg.reservedNumbers.length));
      else msg.reservedNames = msg.reservedNames.filter((_, k) => k !== i % Math.max(1, msg.reservedNames.length));
      break;
    case 'syntax': m.syntax = m.syntax === 'proto2' ? 'proto3' : 'proto2'; break;
  }
});

/** A first version and a second made from it by one to three edits. */
export const evolutionArb: fc.Arbitrary<{ before: FileModel; after: FileModel }> = fc.tuple(fileArb, fc.array(editArb, { minLength: 1, maxLength: 3 })).map(([before, edits]) => {
  const after = clone(before);
  for (const edit of edits) edit(after);
  return { before, after: normalize(after) };
});

// ------------------------------------------------------------------ validity

/**
 * Makes a model valid: unique numbers and names, reservations that no field or value uses, labels
 * the syntax allows (proto3 has no `required`, proto2 no implicit presence), oneof members
 * singular, maps unlabelled and outside oneofs, defaults on proto2 integer fields only, enums starting at 0.
 */
export function normalize(input: FileModel): FileModel {
  const m = clone(input);
  for (const msg of Object.values(m.messages)) {
    const numbers = new Set<number>(), names = new Set<string>();
    msg.fields = msg.fields.filter((f) => {
      if (numbers.has(f.number) || names.has(f.name)) return false;
      numbers.add(f.number); names.add(f.name);
      return true;
    });
    for (const f of msg.fields) {
      if (isMap(f.type)) { f.label = 'implicit'; f.oneof = undefined; }
      if (m.syntax === 'proto3' && f.label === 'required') f.label = 'implicit';
      if (m.syntax === 'proto2' && f.label === 'implicit' && !isMap(f.type)) f.label = 'optional';
      if (f.oneof && (f.label === 'repeated' || f.label === 'required')) f.oneof = undefined;
      if (f.oneof) f.label = m.syntax === 'proto2' ? 'optional' : 'implicit';
      if (m.syntax === 'proto3' || !INT_TYPES.has(f.type) || f.label === 'repeated') f.defaultValue = undefined;
    }
    msg.reservedNumbers = [...new Set(msg.reservedNumbers)].filter((n) => !numbers.has(n)).sort((a, b) => a - b);
    msg.reservedNames = [...new Set(msg.reservedNames)].filter((n) => !names.has(n)).sort();
  }
  for (const e of Object.values(m.enums)) {
    const seen = new Set<number>();
    e.values = e.values.filter((v) => !seen.has(v.number) && seen.add(v.number)).sort((a, b) => a.number - b.number);
    if (!seen.has(0)) e.values.unshift({ name: `${e.prefix}_0`, number: 0 });
    e.reservedNumbers = [...new Set(e.reservedNumbers)].filter((n) => !seen.has(n)).sort((a, b) => a - b);
  }
  return m;
}

// ------------------------------------------------------------------ printing

function printField(f: FieldModel, syntax: Syntax): string {
  const label = f.oneof || f.label === 'implicit' ? '' : `${f.label} `;
  const dflt = f.defaultValue !== undefined && syntax === 'proto2' ? ` [default = ${f.defaultValue}]` : '';
  return `${label}${f.type} ${f.name} = ${f.number}${dflt};`;
}

function printMessage(name: string, msg: MessageModel, syntax: Syntax, nested = ''): string {
  const plain = msg.fields.filter((f) => !f.oneof).map((f) => printField(f, syntax));
  const oneofs = ['o', 'p'].map((o) => msg.fields.filter((f) => f.oneof === o)).filter((fs) => fs.length)
    .map((fs) => `oneof ${fs[0]!.oneof} { ${fs.map((f) => printField(f, syntax)).join(' ')} }`);
  const reserved = [
    msg.reservedNumbers.length ? `reserved ${msg.reservedNumbers.join(', ')};` : '',
    msg.reservedNames.length ? `reserved ${msg.reservedNames.map((n) => `"${n}"`).join(', ')};` : '',
  ];
  return `message ${name} { ${[nested, ...plain, ...oneofs, ...reserved].filter(Boolean).join(' ')} }`;
}

function printEnum(name: string, e: EnumModel): string {
  const values = e.values.map((v) => `${v.name} = ${v.number};`);
  const reserved = e.reservedNumbers.length ? `reserved ${e.reservedNumbers.join(', ')};` : '';
  return `enum ${name} { ${[...values, reserved].filter(Boolean).join(' ')} }`;
}

/** The `.proto` text of a model, in package `pkg`; the message to compare is `<pkg>.M`. */
export function printProto(m: FileModel, pkg: string): string {
  const nested = [printEnum('E', m.enums.E), printEnum('E2', m.enums.E2), printMessage('N', m.messages.N, m.syntax), printMessage('N2', m.messages.N2, m.syntax)].join('\n  ');
  return `syntax = "${m.syntax}";\npackage ${pkg};\n${printMessage('M', m.messages.M, m.syntax, `\n  ${nested}\n `)}\n`;
}
