import { expect } from 'chai';
import fc from 'fast-check';
import { CodecEncodeError, inboundProblem, inboundRefusal, type Envelope } from '../../core/index.js';
import { fromNatsHeaderBytes, toNatsWire } from '../../transports/nats/binding.js';

const te = new TextEncoder();

/** Reads a wire message back as a subscription does: header block and body in one buffer, as nats.js holds them. */
function readBack(subject: string, wire: { body: Uint8Array; headers: Uint8Array | undefined }) {
  const headers = wire.headers ?? new Uint8Array(0);
  const raw = Buffer.concat([headers, wire.body]);
  return fromNatsHeaderBytes(subject, raw, wire.headers === undefined ? -1 : headers.byteLength, raw.subarray(headers.byteLength));
}

const envelope: Envelope = {
  specversion: '1.0', id: 'e-1', source: 'ingest@edge-1', type: 'sensor.reading', time: '2025-11-13T10:00:00.000Z',
  datacontenttype: 'application/json', note: 'ünï "quoted" \\ 50%', data: te.encode('{"t":21.5}'),
};

describe('nats structured binding', () => {
  it('nats structured binding - writes the event as JSON with the data spliced in and no header block (golden)', () => {
    const wire = toNatsWire(envelope, true, false);
    expect(wire.headers).to.equal(undefined);
    expect(Buffer.from(wire.body).toString('utf8')).to.equal(
      '{"specversion":"1.0","id":"e-1","source":"ingest@edge-1","type":"sensor.reading","time":"2025-11-13T10:00:00.000Z",'
      + '"datacontenttype":"application/json","note":"ünï \\"quoted\\" \\\\ 50%","data":{"t":21.5}}');
  });

  it('nats structured binding - JetStream adds only Nats-Msg-Id, and a request through a stream sb-reply-to', () => {
    const wire = toNatsWire(envelope, true, true, '_INBOX.x.1');
    expect(Buffer.from(wire.headers!).toString('latin1')).to.equal('NATS/1.0\r\nNats-Msg-Id: e-1\r\nsb-reply-to: _INBOX.x.1\r\n\r\n');
    const back = readBack('a.b', wire);
    expect(back.structured).to.equal(true);
    expect(back.replyTo).to.equal('_INBOX.x.1');
  });

  it('nats structured binding - bytes that are not JSON go as data_base64 and come back as bytes', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const wire = toNatsWire({ specversion: '1.0', id: 'b', source: 's', type: 't', datacontenttype: 'application/octet-stream', data: bytes }, true, false);
    expect(JSON.parse(Buffer.from(wire.body).toString('utf8')).data_base64).to.equal('AAEC+v8=');
    const back = readBack('a.b', wire);
    expect(Buffer.from(back.envelope.data as Uint8Array).equals(Buffer.from(bytes))).to.equal(true);
  });

  it('nats structured binding - refuses data that is not bytes with CodecEncodeError, as binary mode does', () => {
    expect(() => toNatsWire({ specversion: '1.0', id: 'x', source: 's', type: 't', data: { not: 'bytes' } }, true, false)).to.throw(CodecEncodeError);
  });

  it('nats structured binding - a body that is no CloudEvent is wrapped as a raw payload, as before', () => {
    const back = readBack('devices.7', { body: te.encode('{"temperature":3}'), headers: undefined });
    expect(back.notCloudEvent).to.not.equal(undefined);
    expect(back.structured).to.equal(undefined);
    expect(back.envelope.type).to.equal('devices.7');
  });

  it('nats structured binding - a ce-specversion header wins: the body of a binary-mode event is its data, whatever it holds', () => {
    const body = te.encode('{"specversion":"1.0","id":"inner","source":"s","type":"t"}');
    const wire = { body, headers: Buffer.from('NATS/1.0\r\nce-specversion: 1.0\r\nce-id: outer\r\nce-source: s\r\nce-type: t\r\ncontent-type: application/json\r\n\r\n', 'latin1') };
    const back = readBack('a.b', wire);
    expect(back.envelope.id).to.equal('outer');
    expect(back.structured).to.equal(undefined);
  });

  it('nats structured binding - property: any envelope with string attributes and JSON or byte data reads back the same', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9]{0,19}$/).filter((n) => !['specversion', 'id', 'source', 'type', 'data', 'datacontenttype', 'data_base64'].includes(n));
    const value = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });
    fc.assert(fc.property(fc.dictionary(name, value, { maxKeys: 6 }), value, value, fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => ({ kind: 'json' as const, v })),
      fc.uint8Array({ maxLength: 64 }).map((v) => ({ kind: 'bytes' as const, v })),
    ), (extensions, source, type, data) => {
      const env: Envelope = { specversion: '1.0', id: 'p-1', source, type, ...extensions };
      if (data.kind === 'json') { env.datacontenttype = 'application/json'; env.data = te.encode(JSON.stringify(data.v)); }
      else { env.datacontenttype = 'application/octet-stream'; env.data = data.v; }
      const back = readBack('a.b', toNatsWire(env, true, false));
      expect(back.structured).to.equal(true);
      expect(inboundRefusal(back.envelope)).to.equal(undefined);
      const { data: got, ...attributes } = back.envelope;
      const { data: _sent, ...expected } = env;
      expect(attributes).to.deep.equal(expected);
      if (data.kind === 'json') expect(got).to.deep.equal(JSON.parse(JSON.stringify(data.v)));
      else expect(Buffer.from(got as Uint8Array).equals(Buffer.from(data.v))).to.equal(true);
      expect(inboundProblem(back.envelope)).to.equal(undefined);
    }), { numRuns: 300 });
  });
});
