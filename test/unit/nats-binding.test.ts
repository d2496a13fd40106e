import { expect } from 'chai';
import { MsgHdrsImpl } from 'nats';
import fc from 'fast-check';
import { CodecEncodeError, EnvelopeInvalidError, inboundProblem, inboundRefusal, percentEncodeHeaderValue, type Envelope } from '../../core/index.js';
import { fromNatsHeaderTextByReader } from '../../transports/nats/binding.js';
import { fromNatsMessage, fromNatsHeaderText, toNatsBody, toNatsHeaders, type NatsHeaderEntries } from '../../transports/nats/index.js';

const te = new TextEncoder();

/** One envelope with every standard attribute and values that need percent-encoding. */
const golden: Envelope = {
  specversion: '1.0', id: '7d4c1f5e-2b1a-4c3e-9f00-1a2b3c4d5e6f', source: 'ingest@edge-1', type: 'sensor.reading',
  time: '2025-11-13T10:00:00.000Z', subject: 'sensor-7', datacontenttype: 'application/json',
  dataschema: 'urn:signalbus:contract:sensor.reading:1.0.0', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'vendor=abc', correlationid: 'corr-1', causationid: 'cause-1', partitionkey: 'sensor-7', tenant: 'acme',
  myextension: 'value with spaces, % and ünïcode "quoted"',
  data: te.encode('{"t":21.5}'),
};

const goldenBlock = 'NATS/1.0\r\n'
  + 'ce-specversion: 1.0\r\n'
  + 'ce-id: 7d4c1f5e-2b1a-4c3e-9f00-1a2b3c4d5e6f\r\n'
  + 'ce-source: ingest@edge-1\r\n'
  + 'ce-type: sensor.reading\r\n'
  + 'ce-time: 2025-11-13T10:00:00.000Z\r\n'
  + 'ce-subject: sensor-7\r\n'
  + 'content-type: application/json\r\n'
  + 'ce-dataschema: urn:signalbus:contract:sensor.reading:1.0.0\r\n'
  + 'ce-traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n'
  + 'ce-tracestate: vendor=abc\r\n'
  + 'ce-correlationid: corr-1\r\n'
  + 'ce-causationid: cause-1\r\n'
  + 'ce-partitionkey: sensor-7\r\n'
  + 'ce-tenant: acme\r\n'
  + 'ce-myextension: value%20with%20spaces,%20%25%20and%20%C3%BCn%C3%AFcode%20%22quoted%22\r\n';

function entries(pairs: Array<[string, string]>): NatsHeaderEntries {
  return pairs.map(([k, v]) => [k, [v]] as [string, string[]]);
}

describe('nats binding', () => {
  it('nats binding - writes the golden header block and body (core mode)', () => {
    expect(toNatsHeaders(golden, false)).to.equal(`${goldenBlock}\r\n`);
    expect(new TextDecoder().decode(toNatsBody(golden))).to.equal('{"t":21.5}');
  });

  it('nats binding - adds Nats-Msg-Id = id in JetStream mode, and a distinct one on dead-letter copies', () => {
    expect(toNatsHeaders(golden, true)).to.equal(`${goldenBlock}Nats-Msg-Id: 7d4c1f5e-2b1a-4c3e-9f00-1a2b3c4d5e6f\r\n\r\n`);
    const dead = { ...golden, dlqreason: 'SB_ERR_HANDLER_FAILED' };
    expect(toNatsHeaders(dead, true)).to.contain('Nats-Msg-Id: 7d4c1f5e-2b1a-4c3e-9f00-1a2b3c4d5e6f:dlq\r\n');
  });

  it('nats binding - carries the reply subject of a stream request in sb-reply-to', () => {
    const block = toNatsHeaders({ specversion: '1.0', id: '1', source: 's', type: 't' }, true, '_INBOX.abc.1');
    expect(block).to.equal('NATS/1.0\r\nce-specversion: 1.0\r\nce-id: 1\r\nce-source: s\r\nce-type: t\r\nNats-Msg-Id: 1\r\nsb-reply-to: _INBOX.abc.1\r\n\r\n');
  });

  it('nats binding - reads the golden headers back into the same envelope', () => {
    const pairs = goldenBlock.split('\r\n').slice(1, -1).map((l) => { const i = l.indexOf(': '); return [l.slice(0, i), l.slice(i + 2)] as [string, string]; });
    const body = te.encode('{"t":21.5}');
    const { envelope, notCloudEvent } = fromNatsMessage('sensor.reading.berlin', entries(pairs), body);
    expect(notCloudEvent).to.equal(undefined);
    expect(envelope).to.deep.equal(golden);
  });

  it('nats binding - round-trips through the nats.js header parser', () => {
    const bytes = te.encode(toNatsHeaders(golden, true));
    const parsed = MsgHdrsImpl.decode(bytes);
    const { envelope } = fromNatsMessage('a.b', parsed, golden.data as Uint8Array);
    expect(envelope).to.deep.equal(golden);
  });

  it('nats binding - reads the golden header block text directly (the delivery hot path)', () => {
    const { envelope } = fromNatsHeaderText('a.b', toNatsHeaders(golden, true), golden.data as Uint8Array);
    expect(envelope).to.deep.equal(golden);
    const plain = fromNatsHeaderText('a.b', 'NATS/1.0\r\nCe-Specversion:1.0\r\nCe-Id: x \r\nCe-Source: s\r\nCe-Type: t\r\nsb-reply-to: _INBOX.1\r\n\r\n', new Uint8Array(0));
    expect(plain).to.deep.equal({ envelope: { specversion: '1.0', id: 'x', source: 's', type: 't' }, replyTo: '_INBOX.1' });
  });

  it('nats binding - reads headers of any case (Go clients canonicalise them) and ce-datacontenttype', () => {
    const { envelope } = fromNatsMessage('a.b', entries([['Ce-Specversion', '1.0'], ['CE-ID', 'x'], ['Ce-Source', '/dev'], ['Ce-Type', 't'], ['ce-datacontenttype', 'text/plain']]), te.encode('hi'));
    expect(envelope).to.deep.equal({ specversion: '1.0', id: 'x', source: '/dev', type: 't', datacontenttype: 'text/plain', data: te.encode('hi') });
  });

  it('nats binding - refuses content-type and ce-datacontenttype that disagree (either could count), on both readers', () => {
    const base: Array<[string, string]> = [['ce-specversion', '1.0'], ['ce-id', 'x'], ['ce-source', 's'], ['ce-type', 't']];
    const twoWays = fromNatsMessage('a.b', entries([...base, ['content-type', 'application/json'], ['ce-datacontenttype', 'text/plain']]), te.encode('{}'));
    expect(inboundRefusal(twoWays.envelope)).to.have.property('code', 'SB_ERR_HEADER_INVALID');
    const block = 'NATS/1.0\r\nce-specversion: 1.0\r\nce-id: x\r\nce-source: s\r\nce-type: t\r\ncontent-type: application/json\r\nce-datacontenttype: text/plain\r\n\r\n';
    expect(inboundRefusal(fromNatsHeaderText('a.b', block, te.encode('{}')).envelope)).to.have.property('code', 'SB_ERR_HEADER_INVALID');
    // The same value both ways says one thing: accepted.
    const same = fromNatsMessage('a.b', entries([...base, ['content-type', 'text/plain'], ['ce-datacontenttype', 'text/plain']]), te.encode('hi'));
    expect(inboundProblem(same.envelope)).to.equal(undefined);
    expect(same.envelope.datacontenttype).to.equal('text/plain');
  });

  it('nats binding - leaves data out when there is no body and no content type', () => {
    const { envelope } = fromNatsMessage('a.b', entries([['ce-specversion', '1.0'], ['ce-id', 'x'], ['ce-source', 's'], ['ce-type', 't']]), new Uint8Array(0));
    expect(envelope).to.deep.equal({ specversion: '1.0', id: 'x', source: 's', type: 't' });
  });

  it('nats binding - refuses a value that is not valid percent-encoding, and a repeated attribute (as the HTTP gateway does)', () => {
    const base: Array<[string, string]> = [['ce-specversion', '1.0'], ['ce-id', 'x'], ['ce-source', 's'], ['ce-type', 't']];
    const bad = fromNatsMessage('a.b', entries([...base, ['ce-note', '100%']]), new Uint8Array(0));
    expect(inboundRefusal(bad.envelope)).to.have.property('code', 'SB_ERR_HEADER_INVALID');
    const repeated = fromNatsHeaderText('a.b', 'NATS/1.0\r\nce-specversion: 1.0\r\nce-id: x\r\nce-source: s\r\nce-type: t\r\nCe-Id: y\r\n\r\n', new Uint8Array(0));
    expect(inboundRefusal(repeated.envelope)).to.have.property('code', 'SB_ERR_HEADER_INVALID');
    expect(inboundRefusal(fromNatsMessage('a.b', entries(base), new Uint8Array(0)).envelope)).to.equal(undefined);
  });

  it('nats binding - a message without ce-specversion, a required attribute or specversion 1.0 is not a CloudEvent, and says why', () => {
    const cases: Array<[NatsHeaderEntries | undefined, string | undefined]> = [
      [undefined, undefined],
      [entries([['ce-specversion', '1.0'], ['ce-id', 'x'], ['ce-type', 't']]), 'source'],
      [entries([['ce-specversion', '0.3'], ['ce-id', 'x'], ['ce-source', 's'], ['ce-type', 't']]), 'specversion'],
    ];
    for (const [headers, attribute] of cases) {
      const body = te.encode('{}');
      const { envelope, notCloudEvent } = fromNatsMessage('a.b', headers, body);
      expect(notCloudEvent?.code).to.equal('SB_ERR_ENVELOPE_INVALID');
      expect(notCloudEvent?.details?.attribute).to.equal(attribute);
      // Made up around the payload, whatever partial attributes came with it.
      expect(envelope).to.include({ specversion: '1.0', source: 'nats:a.b', type: 'a.b' });
      expect(envelope.data).to.equal(body);
    }
  });

  it('nats binding - wraps a payload that is not a CloudEvent', () => {
    const body = te.encode('{"temp":21}');
    const { envelope, notCloudEvent } = fromNatsMessage('devices.d7.telemetry', entries([['Nats-Msg-Id', 'm-1'], ['content-type', 'application/json']]), body);
    expect(notCloudEvent).to.be.instanceOf(EnvelopeInvalidError);
    expect(envelope).to.include({ specversion: '1.0', id: 'm-1', source: 'nats:devices.d7.telemetry', type: 'devices.d7.telemetry', datacontenttype: 'application/json' });
    expect(envelope.data).to.equal(body);
  });

  it('nats binding - the body is the bytes the Bus encoded; data that is not bytes is refused, not encoded a second way', () => {
    const bytes = te.encode('{"a":1}');
    expect(toNatsBody({ specversion: '1.0', id: '1', source: 's', type: 't', datacontenttype: 'application/json', data: bytes })).to.equal(bytes);
    expect(toNatsBody({ specversion: '1.0', id: '1', source: 's', type: 't' }).byteLength).to.equal(0);
    expect(() => toNatsBody({ specversion: '1.0', id: '1', source: 's', type: 't', datacontenttype: 'application/json', data: { a: 1 } }))
      .to.throw(CodecEncodeError);
  });

  it('nats binding - header blocks written one after another are each exactly their envelope\'s, however values repeat or change', () => {
    // toNatsHeaders reuses the last line of an attribute while its value repeats: compare with the block built by hand.
    const pool = ['1.0', 's', 'ü 50%', 'x'.repeat(300), '', 'a b', 'x'.repeat(300), 's'];
    const byHand = (env: Record<string, string>) => `NATS/1.0\r\n${Object.entries(env)
      .map(([k, v]) => `${k === 'datacontenttype' ? 'content-type' : `ce-${k}`}: ${percentEncodeHeaderValue(v)}\r\n`).join('')}\r\n`;
    fc.assert(fc.property(fc.array(fc.array(fc.nat(pool.length - 1), { minLength: 5, maxLength: 5 }), { minLength: 2, maxLength: 8 }), (picks) => {
      for (const pick of picks) {
        const [id, source, type, datacontenttype, tenant] = pick.map((i) => pool[i]!) as [string, string, string, string, string];
        const env = { specversion: '1.0', id, source, type, datacontenttype, tenant };
        expect(toNatsHeaders(env as Envelope, false)).to.equal(byHand(env));
      }
    }), { numRuns: 300 });
  });

  describe('the one-pass reader of blocks in signalbus\'s own form', () => {
    const required = 'ce-specversion: 1.0\r\nce-id: i\r\nce-source: s\r\nce-type: t\r\n';
    const block = (lines: string) => `NATS/1.0\r\n${required}${lines}\r\n`;
    const many = (n: number) => Array.from({ length: n }, (_, i) => `ce-e${i}: v\r\n`).join('');
    const verdict = (text: string) => {
      const fast = fromNatsHeaderText('a.b', text, te.encode('{}'));
      const full = fromNatsHeaderTextByReader('a.b', text, te.encode('{}'));
      expect(Object.keys(fast.envelope)).to.deep.equal(Object.keys(full.envelope));
      expect(fast.envelope).to.deep.equal(full.envelope);
      expect(fast.replyTo).to.equal(full.replyTo);
      expect(inboundRefusal(fast.envelope)?.message).to.equal(inboundRefusal(full.envelope)?.message);
      expect(inboundProblem(fast.envelope)?.message).to.equal(inboundProblem(full.envelope)?.message);
      return inboundRefusal(fast.envelope)?.message;
    };
    // 4 required attributes of 29 characters; ce-a takes the rest of the 16384
    const toTotal = (n: number) => `ce-a: ${'x'.repeat(n - 29 - 1 - 3 * (4096 + 1))}\r\nce-b: ${'x'.repeat(4096)}\r\nce-c: ${'x'.repeat(4096)}\r\nce-d: ${'x'.repeat(4096)}\r\n`;
    const cases: Array<[string, string, string | undefined]> = [
      ['a block toNatsHeaders writes', toNatsHeaders({ specversion: '1.0', id: 'i', source: 's', type: 't', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', datacontenttype: 'application/json' }, true, '_INBOX.r'), undefined],
      ['a value of 4096 characters', block(`ce-x: ${'x'.repeat(4096)}\r\n`), undefined],
      ['a value of 4097 characters', block(`ce-x: ${'x'.repeat(4097)}\r\n`), 'header "x" is 4097 characters, over the limit of 4096'],
      ['64 attributes', block(many(60)), undefined],
      ['65 attributes', block(many(61)), 'more than 64 attributes'],
      ['content-type counted as an attribute', block(many(60) + 'content-type: a\r\n'), 'more than 64 attributes'],
      ['16384 characters of attributes', block(toTotal(16_384)), undefined],
      ['16385 characters of attributes', block(toTotal(16_385)), 'headers total over the limit of 16384 characters'],
      ['a repeated attribute', block('ce-id: j\r\n'), 'header id must appear once'],
      ['a repeated content-type', block('content-type: a\r\ncontent-type: b\r\n'), 'header content-type must appear once'],
      ['a repeated reply subject (the first wins)', block('sb-reply-to: a\r\nsb-reply-to: b\r\n'), undefined],
      ['a name of 20 characters', block(`ce-${'a'.repeat(20)}: v\r\n`), undefined],
      ['a name of 21 characters', block(`ce-${'a'.repeat(21)}: v\r\n`), 'header name "aaaaaaaaaaaaaaaaaaaaa" must be 1-20 lowercase letters or digits'],
      ['an upper-case prefix', block('CE-X: v\r\n'), undefined],
      ['an empty value', block('ce-x:\r\n'), undefined],
      ['spaces around a value', block('ce-x:   v  \r\n'), undefined],
      ['a prototype name', block('ce-constructor: v\r\n'), undefined],
      ['a percent-encoded value', block('ce-x: a%20b\r\n'), undefined],
      ['bad percent-encoding', block('ce-x: a%2\r\n'), 'header x has malformed percent-encoding'],
      ['a control character', block('ce-x: a\u0001b\r\n'), 'header "x" contains control character 0x1 at 1'],
      ['a ce-data header', block('ce-data: x\r\n'), '"data" is the event\'s payload, not an attribute: it travels as the message body (publish it as the data argument)'],
      ['a Ce-Data header', block('Ce-Data: x\r\n'), '"data" is the event\'s payload, not an attribute: it travels as the message body (publish it as the data argument)'],
      ['a ce-data_base64 header', block('ce-data_base64: eA==\r\n'), 'header name "data_base64" must be 1-20 lowercase letters or digits'],
    ];
    it('reads hostile blocks of the largest size read (64 KiB) in linear time', () => {
      const hostile = [
        `NATS/1.0\r\nce-a: ${'x '.repeat(30_000)}\r\n\r\n`, // a trailing space after a long value
        `NATS/1.0\r\n${'ce-a: x \r\n'.repeat(6000)}`, // thousands of lines, each failing at its end
        `NATS/1.0\r\n${'ce-a: v\r\n'.repeat(7000)}x`, // well-formed lines, then no end
      ];
      for (const text of hostile) {
        const t0 = performance.now();
        for (let i = 0; i < 10; i++) fromNatsHeaderText('a.b', text, new Uint8Array(0));
        expect(performance.now() - t0, text.slice(0, 40)).to.be.below(500);
      }
    });
    for (const [what, text, refusal] of cases) {
      it(`reads ${what} as the AttributeReader does`, () => { expect(verdict(text)).to.equal(refusal); });
    }
  });
});
