import { expect } from 'chai';
import fc from 'fast-check';
import {
  EnvelopeInvalidError, checkUniqueMembers, findRepeatedMember, repeatedMemberError, type MemberScope, type RepeatedMember,
} from '../../core/index.js';

// ------------------------------------------------------------------ a reference to compare with

/** JSON built by hand, so that objects can repeat member names and names can be escaped any way. */
type Node =
  | { kind: 'object'; members: Member[] }
  | { kind: 'array'; items: Node[] }
  | { kind: 'leaf'; value: unknown };
interface Member { name: string; escape: 'none' | 'all' | 'first'; space: string; value: Node }

/** A name as JSON text: as JSON.stringify writes it, every UTF-16 unit as \uXXXX, or only the first. */
function quoteName(name: string, escape: Member['escape']): string {
  const u = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  if (escape === 'none' || name.length === 0) return JSON.stringify(name);
  if (escape === 'all') return `"${Array.from({ length: name.length }, (_, i) => u(name[i]!)).join('')}"`;
  return `"${u(name[0]!)}${JSON.stringify(name.slice(1)).slice(1)}`;
}

function render(node: Node): string {
  switch (node.kind) {
    case 'leaf': return JSON.stringify(node.value) ?? 'null';
    case 'array': return `[${node.items.map(render).join(',')}]`;
    case 'object': return `{${node.members.map((m) => `${m.space}${quoteName(m.name, m.escape)}${m.space}:${m.space}${render(m.value)}${m.space}`).join(',')}}`;
  }
}

/** The first name an object of members repeats, in text order. */
function firstRepeat(members: Member[]): string | undefined {
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(m.name)) return m.name;
    seen.add(m.name);
  }
  return undefined;
}

/** What findRepeatedMember must answer for `node` under `scope`, worked out on the tree. */
function oracle(node: Node, scope: MemberScope): RepeatedMember | undefined {
  if (scope.elements) {
    if (node.kind !== 'array') return undefined;
    for (let index = 0; index < node.items.length; index++) {
      const item = node.items[index]!;
      const name = item.kind === 'object' ? firstRepeat(item.members) : undefined;
      if (name !== undefined) return { name, index };
    }
    return undefined;
  }
  if (node.kind !== 'object') return undefined;
  const seen = new Set<string>();
  for (const m of node.members) {
    if (seen.has(m.name)) return { name: m.name };
    seen.add(m.name);
    if (scope.within !== undefined && m.name === scope.within && m.value.kind === 'object') {
      const name = firstRepeat(m.value.members);
      if (name !== undefined) return { name, within: scope.within };
    }
  }
  return undefined;
}

/** Few names, so that they repeat; some need escapes, some are the names a frame or event uses. */
const memberName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('id', 'tenant', 'type', 'event', 'data', 'a', 'A', '', '"', '\\', 'é', 'e\u0301', '\u2028', '\ud800', '__proto__', 'a\u0000b', '{"a":1}', ',"a":') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
);
/** Leaves, strings among them that look like JSON structure. */
const leaf = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  fc.constantFrom('","a":1,"', '{"a":1,"a":2}', '\\', '\\"', '}]', '"', '\\\\"a\\\\"'),
).map((value): Node => ({ kind: 'leaf', value }));
const space = fc.constantFrom('', '', ' ', '\n\t ');

const { node } = fc.letrec<{ node: Node; object: Node; array: Node }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('object'), tie('array')),
  object: fc.array(fc.record({ name: memberName, escape: fc.constantFrom('none', 'none', 'all', 'first'), space, value: tie('node') }), { maxLength: 6 })
    .map((members): Node => ({ kind: 'object', members: members as Member[] })),
  array: fc.array(tie('node'), { maxLength: 5 }).map((items): Node => ({ kind: 'array', items })),
}));
const scope = fc.constantFrom<MemberScope>({}, { elements: true }, { within: 'event' }, { within: 'data' });

describe('json members', () => {
  it('json members - finds a repeated attribute of an event, and the first repeat in text order', () => {
    expect(findRepeatedMember('{"specversion":"1.0","id":"a","tenant":"acme","type":"t","source":"s","tenant":"evil"}')).to.deep.equal({ name: 'tenant' });
    expect(findRepeatedMember('{"id":"a","id":"b"}')).to.deep.equal({ name: 'id' });
    expect(findRepeatedMember('{"b":1,"a":1,"a":2,"b":2}')).to.deep.equal({ name: 'a' });
    expect(findRepeatedMember('{ "a" : 1 ,\n\t"a"\r:2 }'), 'whitespace').to.deep.equal({ name: 'a' });
    expect(findRepeatedMember('{"":1,"":2}'), 'the empty name').to.deep.equal({ name: '' });
    expect(findRepeatedMember('{"__proto__":1,"__proto__":2}')).to.deep.equal({ name: '__proto__' });
  });

  it('json members - finds nothing where no name repeats', () => {
    for (const text of ['{}', '[]', '""', '1', 'null', '{"a":1}', '{"a":1,"A":2}', '{"a":{},"b":[],"c":""}',
      '{"specversion":"1.0","id":"a","source":"s","type":"t","tenant":"acme","data":{"t":21.5}}',
      '{"é":1,"e\u0301":2}' /* no Unicode normalisation: JSON compares code units */]) {
      expect(findRepeatedMember(text), text).to.equal(undefined);
    }
  });

  it('json members - an escaped name is the name it decodes to', () => {
    expect(findRepeatedMember('{"a":1,"\\u0061":2}')).to.deep.equal({ name: 'a' });
    expect(findRepeatedMember('{"\\u0061":1,"a":2}')).to.deep.equal({ name: 'a' });
    expect(findRepeatedMember('{"\\u0074enant":"acme","tenan\\u0074":"evil"}')).to.deep.equal({ name: 'tenant' });
    expect(findRepeatedMember('{"a\\"b":1,"a\\u0022b":2}')).to.deep.equal({ name: 'a"b' });
    expect(findRepeatedMember('{"\\\\":1,"\\u005c":2}')).to.deep.equal({ name: '\\' });
    expect(findRepeatedMember('{"\\/":1,"/":2}')).to.deep.equal({ name: '/' });
    expect(findRepeatedMember('{"\\ud83d\\ude00":1,"😀":2}')).to.deep.equal({ name: '😀' });
    expect(findRepeatedMember('{"\\u0061":1,"\\u0041":2}')).to.equal(undefined);
    // Past the names compared in place (16), and with escaped names among them, the Set decides the same.
    const many = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',');
    expect(findRepeatedMember(`{${many},"\\u006b7":0}`)).to.deep.equal({ name: 'k7' });
    expect(findRepeatedMember(`{"\\u006b7":0,${many}}`)).to.deep.equal({ name: 'k7' });
    expect(findRepeatedMember(`{${many},"k40":0}`)).to.equal(undefined);
  });

  it('json members - names inside nested objects (data) and inside string values do not count', () => {
    expect(findRepeatedMember('{"id":"a","data":{"x":1,"x":2}}')).to.equal(undefined);
    expect(findRepeatedMember('{"data":[{"x":1,"x":2}],"id":"a"}')).to.equal(undefined);
    expect(findRepeatedMember('{"data":{"id":1},"id":"a"}'), 'a data member named like an attribute').to.equal(undefined);
    expect(findRepeatedMember('{"a":"\\"a\\":1","b":"{\\"a\\":2}"}')).to.equal(undefined);
    expect(findRepeatedMember('{"a":",\\"a\\":1"}')).to.equal(undefined);
    expect(findRepeatedMember('{"a":"\\\\","a":1}'), 'a value ending in an escaped backslash').to.deep.equal({ name: 'a' });
    expect(findRepeatedMember('{"a":"\\\\\\"","b":"\\\\\\\\","a":1}'), 'backslash runs before quotes').to.deep.equal({ name: 'a' });
    expect(findRepeatedMember('{"a":"x","b":"\\"a\\":\\"y\\""}')).to.equal(undefined);
  });

  it('json members - a batch: each element that is an object, by index; the array itself is no object', () => {
    expect(findRepeatedMember('[{"a":1,"a":2}]')).to.equal(undefined);
    expect(findRepeatedMember('[{"a":1,"a":2}]', { elements: true })).to.deep.equal({ name: 'a', index: 0 });
    expect(findRepeatedMember('[1,"x",{"a":1},null,{"b":1,"c":{"d":1,"d":2},"b":2}]', { elements: true })).to.deep.equal({ name: 'b', index: 4 });
    expect(findRepeatedMember('[{"a":1},{"a":1}]', { elements: true }), 'repeats across events are fine').to.equal(undefined);
    expect(findRepeatedMember('[[{"a":1,"a":2}],{"data":{"x":1,"x":2}}]', { elements: true }), 'deeper objects are data').to.equal(undefined);
    expect(findRepeatedMember('{"a":1,"a":2}', { elements: true }), 'not a batch').to.equal(undefined);
    expect(findRepeatedMember('[ {"a":1} ,\n {"id":"x", "\\u0069d":"y"} ]', { elements: true })).to.deep.equal({ name: 'id', index: 1 });
  });

  it('json members - a frame: the frame itself and the object under `within`', () => {
    const frame = (event: string) => `{"op":"pub","id":7,"subject":"a.b","event":${event}}`;
    expect(findRepeatedMember(frame('{"id":"a","tenant":"x","tenant":"y"}'), { within: 'event' })).to.deep.equal({ name: 'tenant', within: 'event' });
    expect(findRepeatedMember(frame('{"id":"a","tenant":"x","tenant":"y"}')), 'without within').to.equal(undefined);
    expect(findRepeatedMember(frame('{"id":"a","data":{"x":1,"x":2}}'), { within: 'event' })).to.equal(undefined);
    expect(findRepeatedMember('{"op":"pub","subject":"a","subject":"b","event":{}}', { within: 'event' })).to.deep.equal({ name: 'subject' });
    expect(findRepeatedMember('{"other":{"a":1,"a":2},"event":{}}', { within: 'event' })).to.equal(undefined);
    expect(findRepeatedMember('{"event":[{"a":1,"a":2}]}', { within: 'event' })).to.equal(undefined);
    expect(findRepeatedMember('{"\\u0065vent":{"a":1,"a":2}}', { within: 'event' })).to.deep.equal({ name: 'a', within: 'event' });
    expect(findRepeatedMember('{"event":{"a":1},"event":{"a":1}}', { within: 'event' })).to.deep.equal({ name: 'event' });
  });

  it('json members - answers exactly what the members of a hand-built JSON text say (property, against a reference)', () => {
    fc.assert(fc.property(node, scope, (tree, s) => {
      const text = render(tree);
      JSON.parse(text); // the generator writes valid JSON
      expect(findRepeatedMember(text, s), text).to.deep.equal(oracle(tree, s));
    }), { numRuns: 2000 });
  });

  it('json members - an object JSON.stringify wrote never repeats a name, whatever the names (property)', () => {
    fc.assert(fc.property(fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 30 }), (object) => {
      expect(findRepeatedMember(JSON.stringify(object))).to.equal(undefined);
      expect(findRepeatedMember(JSON.stringify([object, object]), { elements: true })).to.equal(undefined);
    }), { numRuns: 500 });
  });

  it('json members - malformed text never throws (JSON.parse reports it)', () => {
    for (const text of ['', '{', '}', ']]]{"a":1,"a":2}', '{"a', '{"a\\', '{"a":"\\', '{"\\u12":1,"\\u12":2}', '{"\\x":1}', '{{{{', '[[[',
      '{"a":1,,,"a":2', '{"a" "a"}', '{:"a",:"a"}', '"unterminated', '{"a":1}{"a":1}', '\\"', '{"\\', '{"\\u']) {
      for (const s of [{}, { elements: true }, { within: 'a' }] as MemberScope[]) {
        expect(() => findRepeatedMember(text, s), text).not.to.throw();
      }
    }
    fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), node.map(render).chain((t) => fc.nat(t.length).map((n) => t.slice(0, n)))), scope, (text, s) => {
      findRepeatedMember(text, s);
    }), { numRuns: 1000 });
  });

  it('json members - linear on a megabyte of hostile text (many names, same-length names, escapes, backslash runs, depth)', () => {
    const mb = 1 << 20;
    const keys = (make: (i: number) => string) => {
      const parts: string[] = [];
      let length = 0;
      for (let i = 0; length < mb; i++) { const p = `${make(i)}:0`; parts.push(p); length += p.length + 1; }
      return parts;
    };
    const distinct = keys((i) => `"k${i}"`);
    const sameLength = keys((i) => `"${i.toString(36).padStart(8, '_')}"`);
    const escaped = keys((i) => `"\\u006b${i}"`);
    const cases: Array<[string, string, MemberScope, RepeatedMember | undefined]> = [
      ['distinct names', `{${distinct.join(',')}}`, {}, undefined],
      ['a repeat at the very end', `{${distinct.join(',')},"k5":1}`, {}, { name: 'k5' }],
      ['names of one length', `{${sameLength.join(',')}}`, {}, undefined],
      ['escaped names', `{${escaped.join(',')},"k3":1}`, {}, { name: 'k3' }],
      ['a batch of wide events', `[${Array.from({ length: 64 }, () => `{${distinct.slice(0, 1000).join(',')}}`).join(',')}]`, { elements: true }, undefined],
      ['one long string of backslashes', `{"a":"${'\\\\'.repeat(mb / 2)}","a":1}`, {}, { name: 'a' }],
      ['many quotes after backslash runs', `{"a":"${'\\\\\\\\\\"'.repeat(mb / 6)}","a":1}`, {}, { name: 'a' }],
      ['deep arrays', `${'['.repeat(mb / 2)}${']'.repeat(mb / 2)}`, { elements: true }, undefined],
      ['deep objects', `${'{"a":'.repeat(mb / 5)}1${'}'.repeat(mb / 5)}`, { within: 'a' }, undefined],
      ['many commas and brackets in data', `{"data":[${'[],{},'.repeat(mb / 6)}0],"data":1}`, {}, { name: 'data' }],
    ];
    for (const [what, text, s, expected] of cases) {
      const started = performance.now();
      const found = findRepeatedMember(text, s);
      const took = performance.now() - started;
      expect(found, what).to.deep.equal(expected);
      // Linear is a few milliseconds a megabyte; quadratic on 100,000 names would take minutes.
      expect(took, `${what}: ${Math.round(took)} ms`).to.be.below(1500);
    }
  });

  it('json members - checkUniqueMembers throws EnvelopeInvalidError (SB_ERR_ENVELOPE_INVALID) naming the member', () => {
    expect(() => checkUniqueMembers('{"id":"a","tenant":"acme"}')).not.to.throw();
    try {
      checkUniqueMembers('{"id":"a","tenant":"acme","tenant":"evil"}');
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(EnvelopeInvalidError);
      expect(err).to.have.property('code', 'SB_ERR_ENVELOPE_INVALID');
      expect((err as EnvelopeInvalidError).details).to.deep.equal({ member: 'tenant' });
      expect((err as Error).message).to.include('"tenant"');
    }
    expect(() => checkUniqueMembers('[{"a":1,"a":2}]', { elements: true })).to.throw(EnvelopeInvalidError).with.nested.property('details.index', 0);
    const long = repeatedMemberError({ name: 'x'.repeat(10_000), within: 'event' }, { ref: 7 });
    expect(long.details).to.deep.equal({ member: `${'x'.repeat(100)}…`, within: 'event', ref: 7 });
    expect(long.message.length).to.be.below(300);
  });
});
