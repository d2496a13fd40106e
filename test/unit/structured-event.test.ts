import { expect } from 'chai';
import fc from 'fast-check';
import { CodecTooDeepError, inboundProblem, inboundRefusal, readStructuredEvent, readStructuredEventByParse, structuredEventBytes, type Envelope } from '../../core/index.js';

const te = new TextEncoder();
const base = '"specversion":"1.0","id":"e","source":"s","type":"t"';
const read = (json: string | Uint8Array) => readStructuredEvent(typeof json === 'string' ? te.encode(json) : json);
const refusal = (json: string | Uint8Array) => {
  const event = read(json);
  expect(event, 'read as an event').to.not.equal(undefined);
  return inboundRefusal(event!.envelope);
};

describe('core structured events', () => {
  it('structured event - reads JSON data decoded and data_base64 as bytes, and its own member apart', () => {
    expect(read(`{${base},"datacontenttype":"application/json","data":{"a":[1,2]}}`)!.envelope.data).to.deep.equal({ a: [1, 2] });
    const bytes = read(`{${base},"data_base64":"AAEC+v8="}`)!.envelope;
    expect(Buffer.from(bytes.data as Uint8Array).equals(Buffer.from([0, 1, 2, 250, 255]))).to.equal(true);
    expect(bytes.data_base64).to.equal(undefined);
    const own = readStructuredEvent(te.encode(`{${base},"replyto":"inbox/1"}`), 'replyto')!;
    expect(own.member).to.equal('inbox/1');
    expect(own.envelope.replyto).to.equal(undefined);
  });

  it('structured event - what is no CloudEvent in JSON is not read: text, arrays, broken JSON, missing or non-string required members', () => {
    for (const payload of ['hello', '[1,2]', `{${base},`, '{"specversion":"1.0","id":"e","source":"s"}', '{"specversion":1,"id":"e","source":"s","type":"t"}', '{"temperature":3}']) {
      expect(read(payload), payload).to.equal(undefined);
    }
  });

  it('structured event - refuses what another reader could read differently', () => {
    expect(refusal(`{${base},"id":"again"}`)?.code).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(refusal(`{${base},"data":1,"data_base64":"AQ=="}`)?.message).to.match(/either data or data_base64/);
    expect(refusal(`{${base},"data_base64":"@@@!!"}`)?.message).to.match(/not base64/);
    expect(refusal(`{${base},"data_base64":"AQ"}`)?.message, 'unpadded').to.match(/not base64/);
    expect(refusal(`{${base},"data_base64":5}`)?.message).to.match(/must be a string/);
    const notUtf8 = Buffer.concat([te.encode(`{${base},"note":"`), Buffer.from([0xc3, 0x28]), te.encode('"}')]);
    expect(refusal(notUtf8)?.message).to.match(/UTF-8/);
    const sentAsIs = te.encode(`{${base},"note":"\uFFFD"}`);
    expect(refusal(sentAsIs), 'a replacement character sent as such is UTF-8').to.equal(undefined);
  });

  it('structured event - data nested past the limit throws CodecTooDeepError before it is parsed', () => {
    expect(() => read(`{${base},"data":${'['.repeat(200)}${']'.repeat(200)}}`)).to.throw(CodecTooDeepError);
  });

  it('structured event - an event in the form signalbus writes takes the one-pass reader (sealed: the Bus checks only its CloudEvents attributes)', () => {
    const written = structuredEventBytes({ specversion: '1.0', id: 'e', source: 's', type: 't', time: '2025-11-13T10:00:00.000Z', datacontenttype: 'application/json', data: te.encode('{"x":[1,2]}') });
    const fast = read(written)!.envelope;
    expect(Object.getPrototypeOf(fast), 'sealed').to.not.equal(Object.prototype);
    expect(Object.getPrototypeOf(readStructuredEventByParse(written)!.envelope)).to.equal(Object.prototype);
    expect({ ...fast }).to.deep.equal({ specversion: '1.0', id: 'e', source: 's', type: 't', time: '2025-11-13T10:00:00.000Z', datacontenttype: 'application/json', data: { x: [1, 2] } });
  });

  it('structured event - written and read back: attributes, JSON data spliced in, bytes as base64', () => {
    const envelope: Envelope = { specversion: '1.0', id: 'e', source: 's', type: 't', note: 'a "b" \\ c', datacontenttype: 'application/json', data: te.encode('{"x":1}') };
    expect(structuredEventBytes(envelope).toString('utf8')).to.equal('{"specversion":"1.0","id":"e","source":"s","type":"t","note":"a \\"b\\" \\\\ c","datacontenttype":"application/json","data":{"x":1}}');
    expect(read(structuredEventBytes(envelope))!.envelope).to.deep.equal({ ...envelope, data: { x: 1 } });
  });

  it('structured event - property: the written event parses back to its attributes and data, the same bytes on a repeat (reused pieces)', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9]{0,19}$/).filter((n) => !['data', 'data_base64'].includes(n));
    // Any string: quotes, backslashes, control characters, non-ASCII, lone surrogates.
    const value = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30, unit: 'binary' }), fc.constantFrom('1.0', 'a"b', 'c\\d', '\u0000', '\ud800'));
    fc.assert(fc.property(fc.dictionary(name, value, { maxKeys: 8 }), fc.jsonValue({ maxDepth: 3 }), (attributes, data) => {
      const envelope = { ...attributes, datacontenttype: 'application/json', data: te.encode(JSON.stringify(data)) } as unknown as Envelope;
      const first = structuredEventBytes(envelope);
      expect(JSON.parse(first.toString('utf8'))).to.deep.equal({ ...attributes, datacontenttype: 'application/json', data: JSON.parse(JSON.stringify(data)) });
      expect(structuredEventBytes(envelope).equals(first), 'written again').to.equal(true);
    }), { numRuns: 500 });
  });

  /** Both readers' answers for a payload, comparable: envelope keys in order, values, member, refusal and the Bus's inbound check. */
  function outcome(read: (p: Uint8Array, member?: string) => ReturnType<typeof readStructuredEvent>, payload: Uint8Array, member?: string): unknown {
    let event;
    try { event = read(payload, member); } catch (err) { return { threw: (err as { code?: string }).code }; }
    if (event === undefined) return undefined;
    const e = event.envelope;
    return { keys: Object.keys(e), values: Object.keys(e).map((k) => e[k]), member: event.member, refused: inboundRefusal(e)?.code, problem: inboundProblem(e)?.code };
  }

  it('structured event - property: the one-pass reader gives what JSON.parse and the general checks give, on written events and their mutations', () => {
    const name = fc.oneof(fc.stringMatching(/^[a-z0-9]{1,20}$/), fc.constantFrom('data', 'data_base64', 'replyto', 'id', 'time', 'constructor', '123', 'Upper', 'a-b', 'x'.repeat(21)));
    const value = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20, unit: 'binary' }), fc.constantFrom('', 'a"b', 'c\\d', '\u007f', 'x'.repeat(4097), '2025-11-13T10:00:00.000Z', 'not a time'));
    const mutation = fc.constantFrom('none', 'space', 'trailing', 'repeat', 'after-data', 'no-specversion', 'member-twice', 'not-utf8', 'string-data', 'deep');
    fc.assert(fc.property(fc.array(fc.tuple(name, value), { maxLength: 8 }), fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }), mutation, fc.boolean(),
      (pairs, data, mutate, withMember) => {
        const env: Record<string, unknown> = { specversion: '1.0', id: 'e-1', source: 's', type: 't' };
        for (const [k, v] of pairs) if (k !== 'data' && k !== 'data_base64') env[k] = v;
        if (data !== undefined) { env.datacontenttype = 'application/json'; env.data = te.encode(JSON.stringify(data)); }
        let text = structuredEventBytes(env as Envelope).toString('utf8');
        if (mutate === 'space') text = ' ' + text;
        else if (mutate === 'trailing') text += ' ';
        else if (mutate === 'repeat') text = text.replace('"id":"e-1"', '"id":"e-1","id":"e-2"');
        else if (mutate === 'after-data') text = text.slice(0, -1) + ',"tenant":"evil"}';
        else if (mutate === 'no-specversion') text = text.replace('"specversion":"1.0",', '"x":"specversion",');
        else if (mutate === 'member-twice') text = text.replace('{', '{"replyto":"a","replyto":"b",');
        else if (mutate === 'string-data') text = text.slice(0, -1) + (text.endsWith('{}') ? '' : ',') + '"data":"text"}';
        else if (mutate === 'deep') text = text.slice(0, -1) + ',"data":' + '['.repeat(130) + ']'.repeat(130) + '}';
        const payload = mutate === 'not-utf8' ? Buffer.concat([Buffer.from(text.slice(0, -1)), Buffer.from([0x2c, 0x22, 0x7a, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])]) : Buffer.from(text);
        const member = withMember ? 'replyto' : undefined;
        expect(outcome(readStructuredEvent, payload, member), payload.toString('utf8').slice(0, 300)).to.deep.equal(outcome(readStructuredEventByParse, payload, member));
      }), { numRuns: 2000 });
  });
});
